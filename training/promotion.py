"""The quality gate, and every move of a model's current-version pointer: promote, refuse, roll back; all logged.

The gate, for a candidate trained on the accepted data plus one upload whose labels already passed their checks
(``labels``), refuses it when:

1. the predict function could not serve it: no verified serving format, or one its loader refuses;
2. its interval's coverage on the chronological holdout leaves the band (``coverage_low``..``coverage_high``),
   unless no model serves yet (a first model is promoted with the miss noted: a forecast beats none);
3. the upload drifted: the serving model's error on it exceeds what its manifest promised by more than
   ``drift_threshold`` (new conditions, or wrong labels): a person should look before it serves;
4. adding the upload makes forecasts worse on data the upload did not write: the recipe is fitted twice without
   the most recent ``trusted_days`` accepted days the upload leaves alone, once on the accepted data alone and
   once with the upload; with it, RMSE on those days may be at most ``tolerance`` worse.

Otherwise it is promoted. Every candidate is published (nothing is lost); a refused one is kept with its reason,
in its manifest, the decision log and the TrainFunction's answer, and its upload is held out of later trainings
until an operator promotes it (``python -m training promote VERSION --reason ...``), which accepts its upload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bikecast.registry import ModelRegistry, Pointer, PointerInvalid
from bikecast.scoring import Scorer, ServingInvalid
from bikecast.serving import LOAD_ERRORS, ServingModel, load_version, serving_section
from bikecast.store import PreconditionFailed
from bikecast.trees import TreesInvalid
from training import dataset, fit
from training.data import Labelled
from training.deployment import Deployment
from training.publish import Artifact

Progress = Callable[[str], None]
NO_POINTER = Pointer(version="", etag=None)
MIN_TRAINING_ROWS = 30


@dataclass
class Verdict:
    promote: bool
    reason: str
    checks: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "reason": self.reason, **self.checks}


def unservable(candidate: Artifact) -> str | None:
    """Why the predict function would refuse this version, or None: the same loader it uses, on the same bytes."""
    try:
        serving = serving_section(candidate.manifest)
        tree_file = candidate.files.get(str(serving.get("file")))
        if serving.get("format") == "none" or tree_file is None:
            return f"not servable: {serving.get('reason', 'no serving format was exported')}"
        Scorer.load(serving, tree_file, candidate.spec.computable)
    except (ServingInvalid, TreesInvalid) as error:
        return f"not servable: {error}"
    return None


def coverage_problem(candidate: Artifact, low: float, high: float) -> str | None:
    coverage = candidate.manifest.get("coverage", {}).get("coverage")
    if coverage is None:
        return None  # no interval calibrated (a spec without time has no chronological holdout)
    if not low <= coverage <= high:
        return f"interval coverage {coverage:.3f} on the chronological holdout is outside [{low:g}, {high:g}]"
    return None


def trusted_rows(history: Labelled, upload: Labelled, count: int) -> np.ndarray[Any, Any]:
    """Rows of the accepted data that the upload does not rewrite: its most recent ``count`` days (for a spec
    without time, a fixed fifth of them)."""
    written = set(upload.rows_keys())
    untouched = np.array([key not in written for key in history.rows_keys()], dtype=bool)
    days = history.days
    if days is None:
        candidates = np.flatnonzero(untouched)
        chosen = np.random.default_rng(fit.RANDOM_STATE).permutation(candidates)[: max(1, len(candidates) // 5)]
        return np.sort(chosen)
    distinct = np.unique(days[untouched])
    if not len(distinct):
        return np.array([], dtype=np.intp)
    start = distinct[-count] if len(distinct) >= count else distinct[0]
    return np.flatnonzero(untouched & (days >= start))


def accepted_days_check(
    deployment: Deployment, name: str, history: Labelled, merged: Labelled, upload: Labelled, progress: Progress
) -> tuple[bool | None, dict[str, Any]]:
    """Fit without the trusted days, with and without the upload; compare on the trusted days. None: not judged."""
    settings, spec = deployment.settings, deployment.spec(name)
    trusted = trusted_rows(history, upload, settings.trusted_days)
    trusted_keys = {history.rows_keys()[i] for i in trusted.tolist()}
    keep_history = np.array([key not in trusted_keys for key in history.rows_keys()])
    keep_merged = np.array([key not in trusted_keys for key in merged.rows_keys()])
    if len(trusted) < 7 or keep_history.sum() < MIN_TRAINING_ROWS:
        return None, {"trusted_rows": len(trusted), "note": "too little accepted data to judge against"}
    progress(f"judging on {len(trusted)} accepted rows the upload leaves alone (fitting twice without them)")
    target = history.subset(trusted)
    without = fit.metrics(
        target.target, fit.fit(spec, history.subset(np.flatnonzero(keep_history))).predict(target.batch)
    )
    with_upload = fit.metrics(
        target.target, fit.fit(spec, merged.subset(np.flatnonzero(keep_merged))).predict(target.batch)
    )
    limit = (without["rmse"] or 0.0) * (1 + settings.tolerance)
    passed = (with_upload["rmse"] or 0.0) <= limit
    days = target.days
    detail = {
        "trusted_rows": len(trusted),
        **(
            {"trusted_days": [fit.day_text(int(days.min())), fit.day_text(int(days.max()))]} if days is not None else {}
        ),
        "without_upload": without,
        "with_upload": with_upload,
        "limit_rmse": round(limit, 2),
    }
    return passed, detail


def judge(
    deployment: Deployment,
    name: str,
    candidate: Artifact,
    current: ServingModel | None,
    *,
    history: Labelled | None = None,
    upload: Labelled | None = None,
    drift: dict[str, Any] | None = None,
    progress: Progress = print,
) -> Verdict:
    settings = deployment.settings
    checks: dict[str, Any] = {"current_version": current.version if current else None}
    reason = unservable(candidate)
    if reason is not None:
        return Verdict(False, reason, checks)
    miscalibrated = coverage_problem(candidate, settings.coverage_low, settings.coverage_high)
    if miscalibrated is not None:
        if current is None:  # an interval off its target beats no forecast at all: noted, not refused
            return Verdict(True, f"no model is serving yet (note: {miscalibrated})", checks)
        return Verdict(False, miscalibrated, checks)
    if drift is not None and drift.get("drifted"):
        return Verdict(
            False,
            f"the upload drifted: the serving model's MAE on it is {drift['mae_ratio']}x the promised one "
            f"(threshold {drift['threshold']}); review it, then promote by hand if it is right",
            checks,
        )
    if history is not None and upload is not None:
        merged = candidate.data
        passed, detail = accepted_days_check(deployment, name, history, merged, upload, progress)
        checks["accepted_days"] = detail
        if passed is False:
            return Verdict(
                False,
                f"with the upload, RMSE on {detail['trusted_rows']} accepted rows it did not write is "
                f"{detail['with_upload']['rmse']:.0f}, above the limit {detail['limit_rmse']:.0f} "
                f"({detail['without_upload']['rmse']:.0f} without it + {settings.tolerance:.0%})",
                checks,
            )
        if passed:
            return Verdict(
                True,
                f"passed: RMSE {detail['with_upload']['rmse']:.0f} on {detail['trusted_rows']} accepted rows the "
                f"upload did not write (limit {detail['limit_rmse']:.0f})",
                checks,
            )
    if current is None:
        return Verdict(True, "no model is serving yet", checks)
    if history is None:
        return Verdict(False, "a model is serving; an operator decides (python -m training promote)", checks)
    return Verdict(True, "passed: " + str(checks.get("accepted_days", {}).get("note", "checks passed")), checks)


def current_model(deployment: Deployment, name: str) -> tuple[Pointer, ServingModel | None]:
    """The pointer and the model it names; a pointer to a model that cannot serve counts as no model."""
    registry = deployment.registry(name)
    try:
        pointer = registry.current()
    except PointerInvalid:
        return registry.raw_pointer(), None
    if pointer is None:
        return NO_POINTER, None
    try:
        return pointer, load_version(deployment.spec(name), registry, pointer.version)
    except LOAD_ERRORS:
        return pointer, None


def release(
    deployment: Deployment, name: str, candidate: Artifact, verdict: Verdict, pointer: Pointer, progress: Progress
) -> Verdict:
    """Publish the candidate (always: no version is lost), then move the pointer if the verdict says so, with
    If-Match on the ETag it was judged against: if another retrain moved it meanwhile, this one stays unpromoted."""
    registry = deployment.registry(name)
    candidate.manifest["gate"] = verdict.as_dict()
    progress(f"quality gate: {verdict.reason}")
    registry.publish(candidate.version, candidate.files, candidate.manifest)
    progress(f"published {candidate.version}")
    if verdict.promote:
        try:
            registry.move_pointer(candidate.version, expected=pointer, reason=verdict.reason)
        except PreconditionFailed:
            verdict = Verdict(
                False, "another version was promoted while this one was judged; kept unpromoted", verdict.checks
            )
        else:
            registry.record_decision(
                {
                    "action": "promote",
                    "version": candidate.version,
                    "reason": verdict.reason,
                    "previous": pointer.version or None,
                }
            )
            progress(f"promoted {candidate.version}: it is now the current {name} model")
            return verdict
    registry.record_decision({"action": "keep", "version": candidate.version, "reason": verdict.reason})
    progress(f"kept {candidate.version} unpromoted: {verdict.reason}")
    return verdict


def check_servable(deployment: Deployment, name: str, version: str) -> None:
    """Refuse (``LookupError``) a version the predict function would refuse to load."""
    try:
        load_version(deployment.spec(name), deployment.registry(name), version)
    except LOAD_ERRORS as error:
        raise LookupError(f"{name} version {version} cannot serve: {error}") from None


def promote(deployment: Deployment, name: str, version: str, reason: str) -> None:
    """An operator's promotion: any complete, servable version; its held upload becomes accepted data."""
    check_servable(deployment, name, version)
    registry = deployment.registry(name)
    pointer = registry.current() or NO_POINTER
    registry.move_pointer(version, expected=pointer, reason=reason)
    registry.record_decision(
        {"action": "manual-promote", "version": version, "reason": reason, "previous": pointer.version or None}
    )
    upload = registry.manifest(version).get("upload")
    if isinstance(upload, dict) and "key" in upload:
        record = registry.upload_record(str(upload["key"]))
        if record and record.get("status") == dataset.HELD and record.get("etag") == upload.get("etag"):
            registry.record_upload(
                record | {"status": dataset.ACCEPTED, "reason": f"promoted by an operator: {reason}"}
            )


def promotion_stack(registry: ModelRegistry) -> list[str]:
    """Replay the decision log: promotions push, rollbacks pop; the top is the current version."""
    stack: list[str] = []
    for decision in registry.decisions():
        if decision.get("action") in ("promote", "manual-promote"):
            stack.append(str(decision["version"]))
        elif decision.get("action") == "rollback" and stack:
            stack.pop()
    return stack


def rollback(deployment: Deployment, name: str) -> str:
    """Point back at the version that was current before the current one; returns it."""
    registry = deployment.registry(name)
    pointer = registry.current()
    stack = promotion_stack(registry)
    if pointer is None or len(stack) < 2:
        raise LookupError(f"there is no earlier promoted {name} version to roll back to")
    previous = stack[-2]
    check_servable(deployment, name, previous)
    registry.move_pointer(previous, expected=pointer, reason=f"rollback from {pointer.version}")
    registry.record_decision({"action": "rollback", "version": previous, "from": pointer.version})
    return previous


def version_table(deployment: Deployment, name: str) -> list[dict[str, Any]]:
    registry = deployment.registry(name)
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
                "rows": (manifest.get("training_data") or {}).get("rows"),
                "chrono_rmse": chrono.get("rmse"),
                "gate": gate.get("reason", ""),
            }
        )
    return rows
