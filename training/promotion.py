"""The quality gate and the moves of the current-model pointer: promote, refuse, roll back; all logged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bikecast.artifact import ArtifactInvalid
from bikecast.registry import ModelRegistry, Pointer, PointerInvalid
from bikecast.serving import ServingModel, load_version
from bikecast.store import PreconditionFailed, StoreError
from bikecast.trees import TREES_FORMAT
from training import model
from training.data import TrainingData
from training.publish import Artifact

Progress = Callable[[str], None]
NO_POINTER = Pointer(version="", etag=None)
PROMOTION_ATTEMPTS = 3


@dataclass(frozen=True)
class GateSettings:
    holdout_days: int = model.HOLDOUT_DAYS  # the same most-recent days as the chronological holdout
    tolerance: float = 0.05  # a candidate may be up to 5% worse in RMSE and still be promoted
    # Whether the predict function can unpickle a version that has no tree file (JoblibFallback in template.yaml).
    joblib_fallback: bool = False


def unservable(manifest: dict[str, Any], settings: GateSettings) -> str | None:
    """Why the deployed predict function could not serve this version, or None if it can."""
    serving = manifest.get("serving", {})
    if serving.get("format") == TREES_FORMAT or settings.joblib_fallback:
        return None
    return (
        f"not servable: no verified tree file ({serving.get('reason', 'none was exported')}), and the predict "
        "function has no scikit-learn to serve the joblib pipeline (deploy with JoblibFallback=Enabled)"
    )


def judge(data: TrainingData, current: ServingModel | None, settings: GateSettings) -> dict[str, Any]:
    """Candidate vs current model on the same most-recent holdout of the new training set.

    The candidate is the same pipeline fitted on the days before the holdout; the current model is scored as it
    serves. Where the current model was trained on holdout days its score is optimistic, so the gate errs on the
    side of keeping it."""
    batch, target, days = data.batch, data.target, data.days
    train, test = model.recent_split(days, settings.holdout_days)
    verdict: dict[str, Any] = {
        "holdout": {
            "first_day": model.day_text(int(days[test].min())),
            "last_day": model.day_text(int(days[test].max())),
            "rows": len(test),
        },
        "tolerance": settings.tolerance,
        "current_version": current.version if current else None,
    }
    holdout = model.subset(batch, test)
    if len(train) >= 30:
        fitted = model.build_pipeline().fit(model.subset(batch, train), target[train])
        verdict["candidate"] = model.metrics(target[test], fitted.predict(holdout))
    if current is None:
        return verdict | {"promote": True, "reason": "no model is serving yet"}
    verdict["current"] = model.metrics(target[test], current.predict(holdout))
    if "candidate" not in verdict:
        return verdict | {"promote": False, "reason": "too few days before the holdout to evaluate a candidate"}
    current_rmse, candidate_rmse = verdict["current"]["rmse"], verdict["candidate"]["rmse"]
    limit = current_rmse * (1 + settings.tolerance)
    passed = candidate_rmse <= limit
    comparison = (
        f"candidate RMSE {candidate_rmse:.0f} vs limit {limit:.0f} "
        f"(current {current_rmse:.0f} + {settings.tolerance:.0%})"
    )
    return verdict | {"promote": passed, "reason": ("passed: " if passed else "failed: ") + comparison}


def decide(built: Artifact, data: TrainingData, current: ServingModel | None, settings: GateSettings) -> dict[str, Any]:
    verdict = judge(data, current, settings)
    reason = unservable(built.manifest, settings)
    return verdict if reason is None else verdict | {"promote": False, "reason": reason}


def current_model(registry: ModelRegistry) -> tuple[Pointer, ServingModel | None]:
    """The pointer and the model it names; a pointer to a broken model counts as no model (nothing to beat)."""
    try:
        pointer = registry.current()
    except PointerInvalid:
        return registry.raw_pointer(), None
    if pointer is None:
        return NO_POINTER, None
    try:
        return pointer, load_version(registry, pointer.version)
    except (StoreError, ArtifactInvalid):
        return pointer, None


def publish_gated(
    built: Artifact, data: TrainingData, registry: ModelRegistry, settings: GateSettings, progress: Progress
) -> dict[str, Any]:
    """Publish the candidate (always: no version is lost), then promote it only if the gate says so.

    The pointer is moved with If-Match on the ETag it was read with; if another retrain moved it meanwhile,
    the gate is judged again against the new current model."""
    pointer, current = current_model(registry)
    verdict = decide(built, data, current, settings)
    built.manifest["gate"] = verdict
    progress(f"quality gate: {verdict['reason']}")
    registry.publish(built.version, built.files, built.manifest)
    progress(f"published {built.version}")
    for _ in range(PROMOTION_ATTEMPTS):
        if not verdict["promote"]:
            break
        try:
            registry.promote(built.version, expected=pointer, reason=verdict["reason"])
        except PreconditionFailed:
            progress("the pointer moved while this candidate was judged; judging again against the new model")
            pointer, current = current_model(registry)
            verdict = decide(built, data, current, settings)
            continue
        registry.record_decision(
            {
                "action": "promote",
                "version": built.version,
                "reason": verdict["reason"],
                "previous": pointer.version or None,
            }
        )
        progress(f"promoted {built.version}: it is now the current model")
        return verdict
    else:
        verdict = verdict | {"promote": False, "reason": "lost the race for the pointer too often; kept unpromoted"}
    registry.record_decision({"action": "keep", "version": built.version, "reason": verdict["reason"]})
    progress(f"kept {built.version} unpromoted: {verdict['reason']}")
    return verdict


def promotion_stack(registry: ModelRegistry) -> list[str]:
    """Replay the decision log: promotions push, rollbacks pop; the top is the current version."""
    stack: list[str] = []
    for decision in registry.decisions():
        if decision["action"] in ("promote", "manual-promote"):
            stack.append(decision["version"])
        elif decision["action"] == "rollback" and stack:
            stack.pop()
    return stack


def promote(registry: ModelRegistry, version: str, reason: str = "promoted by an operator") -> None:
    pointer = registry.current() or NO_POINTER
    registry.promote(version, expected=pointer, reason=reason)
    registry.record_decision(
        {"action": "manual-promote", "version": version, "reason": reason, "previous": pointer.version or None}
    )


def rollback(registry: ModelRegistry) -> str:
    """Point back at the version that was current before the current one; returns it."""
    pointer = registry.current()
    stack = promotion_stack(registry)
    if pointer is None or len(stack) < 2:
        raise LookupError("there is no earlier promoted version to roll back to")
    previous = stack[-2]
    registry.promote(previous, expected=pointer, reason=f"rollback from {pointer.version}")
    registry.record_decision({"action": "rollback", "version": previous, "from": pointer.version})
    return previous


def version_table(registry: ModelRegistry) -> list[dict[str, Any]]:
    pointer = registry.current()
    rows = []
    for version in registry.versions():
        manifest = registry.manifest(version)
        chrono = manifest.get("metrics", {}).get("chronological", {}).get("model", {})
        gate = manifest.get("gate", {})
        rows.append(
            {
                "version": version,
                "current": pointer is not None and pointer.version == version,
                "created_at": manifest.get("created_at"),
                "rows": manifest.get("training_data", {}).get("rows"),
                "chrono_rmse": chrono.get("rmse"),
                "gate_rmse": gate.get("candidate", {}).get("rmse"),
                "gate": gate.get("reason", ""),
            }
        )
    return rows
