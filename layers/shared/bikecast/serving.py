"""Serving: hold each model's current version in memory, refresh it cheaply, and turn rows into forecasts.

A model is loaded once per container and kept in its ``Predictor``; a warm container only re-reads the small
pointer, at most every ``refresh_seconds``, with a conditional GET on a quick store (a stalled S3 costs a request
about a second). A version is loaded only when everything in it checks out (``load_version``); a new or broken
version never replaces a good one that is already serving, and the predictor remembers which version it refused
and why, for ``/health``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, BeforeValidator, Field

from bikecast import artifact, rows
from bikecast.environment import ModelSettings
from bikecast.registry import Layout, ModelRegistry, PointerInvalid
from bikecast.rows import Batch
from bikecast.scoring import MAX_VALUE, Scorer, ServingInvalid
from bikecast.spec import Contradiction, ModelSpec, load_specs
from bikecast.store import S3Store, StoreError

log = logging.getLogger(__name__)

MAX_WARNINGS = 100


class Settings(ModelSettings):
    """The predict function's settings, read once from its environment (names as in template.yaml)."""

    bucket: str = Field(default="", alias="MODEL_BUCKET")
    max_batch_rows: int = Field(default=10_000, ge=1, alias="MAX_BATCH_ROWS")
    # Under Lambda's 6 MB synchronous payload limit; 10,000 rows of the documented API take about 1.8 MB.
    max_body_bytes: int = Field(default=5_000_000, ge=1, alias="MAX_BODY_BYTES")
    refresh_seconds: float = Field(default=60.0, ge=0, alias="MODEL_REFRESH_SECONDS")
    retry_seconds: float = Field(default=5.0, ge=0, alias="MODEL_RETRY_SECONDS")
    enable_swagger: Annotated[bool, BeforeValidator(lambda value: str(value).strip().lower() == "true")] = Field(
        default=False, alias="ENABLE_SWAGGER"
    )  # only "true" switches it on


class ModelUnavailable(Exception):
    """No model can serve: the reason is safe to show to clients."""


class BatchTooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class RangeWarning:
    row: int
    field: str
    value: float | str
    low: float | str
    high: float | str

    def message(self, row_label: str) -> str:
        return (
            f"{row_label}: {self.field}={self.value} is outside the range seen in training "
            f"[{self.low}, {self.high}]; the forecast is an extrapolation"
        )


Warning = RangeWarning | Contradiction


class ServingModel:
    """One loaded, checked version of one model."""

    def __init__(self, spec: ModelSpec, version: str, manifest: dict[str, Any], scorer: Scorer) -> None:
        self.spec = spec
        self.version = version
        self.manifest = manifest
        self.scorer = scorer
        self.ranges = training_ranges(spec, manifest)

    @property
    def residual_scale(self) -> float | None:
        """The model's typical error in its raw output space (the median absolute holdout residual), recorded at
        training; for a version written before it was recorded, its holdout MAE (those served raw values)."""
        recorded = self.manifest.get("serving", {}).get("residual_scale")
        if isinstance(recorded, int | float) and recorded > 0:
            return float(recorded)
        if self.scorer.transform == "identity":
            for holdout in ("chronological", "random_80_20"):
                mae = ((self.manifest.get("metrics") or {}).get(holdout) or {}).get("model", {}).get("mae")
                if isinstance(mae, int | float) and mae > 0:
                    return float(mae)
        return None

    def matrix(self, batch: Batch) -> NDArray[np.float64]:
        """The features this version was exported for, from a completed batch."""
        return self.spec.features(batch, self.scorer.feature_names)

    def predict(self, batch: Batch) -> NDArray[np.float64]:
        """Model values (before the spec's answer rounding) for a completed batch."""
        return self.scorer.values(self.scorer.raw(self.matrix(batch)))


def training_ranges(spec: ModelSpec, manifest: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """The ranges seen in training, from the manifest's input schema (dates as day ordinals)."""
    schema = manifest.get("input_schema")
    kinds = {rule.name: rule.kind for rule in rows.rules(spec.row)}
    ranges = {}
    for name in spec.range_checked:
        entry = schema.get(name) if isinstance(schema, dict) else None
        try:
            low, high = entry["min"], entry["max"]  # type: ignore[index]
            if kinds.get(name) == "date":
                low, high = (dt.date.fromisoformat(day).toordinal() for day in (low, high))
            ranges[name] = (float(low), float(high))
        except (TypeError, KeyError, ValueError):
            continue  # no range recorded for it: no warning, rather than no model
    return ranges


def out_of_range(spec: ModelSpec, batch: Batch, ranges: Mapping[str, tuple[float, float]]) -> list[RangeWarning]:
    names = [name for name in ranges if name in batch]
    if not names:
        return []
    values = np.column_stack([batch[name] for name in names])
    bounds = np.array([ranges[name] for name in names])
    outside = (values < bounds[:, 0]) | (values > bounds[:, 1])
    if not outside.any():
        return []  # the usual case, in a few numpy calls
    kinds = {rule.name: rule.kind for rule in rows.rules(spec.row)}
    found = []
    for row, column in zip(*np.nonzero(outside), strict=True):
        name = names[column]
        shown = [_shown(kinds[name], v) for v in (values[row, column], *ranges[name])]
        found.append(RangeWarning(int(row), name, *shown))
    return found


def _shown(kind: str, value: float) -> float | str:
    if kind == "date":
        return dt.date.fromordinal(int(value)).isoformat()
    return int(value) if float(value).is_integer() else round(float(value), 6)


def serving_section(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's serving section; a version written before the section named its features has them in
    the manifest's top-level ``features``."""
    serving = manifest.get("serving")
    if not isinstance(serving, dict):
        raise ServingInvalid("the manifest has no serving section")
    if "features" not in serving and isinstance(manifest.get("features"), list):
        serving = serving | {"features": manifest["features"]}
    return serving


def load_version(spec: ModelSpec, registry: ModelRegistry, version: str) -> ServingModel:
    """Fetch a version and check all of it: manifest, tree file checksum, features, tree structure, output bounds.
    Raises on anything amiss, so the caller keeps what it had."""
    manifest = registry.manifest(version)
    serving = serving_section(manifest)
    try:
        data = registry.model_file(version, str(serving["file"]))
        artifact.verify(data, str(serving["sha256"]), "tree file")
    except (KeyError, TypeError):
        raise ServingInvalid("the serving section names no tree file and checksum") from None
    return ServingModel(spec, version, manifest, Scorer.load(serving, data, spec.computable))


@dataclass(frozen=True)
class Explanation:
    """One row's forecast taken apart: ``baseline + sum(contributions.values())`` is the model's raw output."""

    baseline: float
    contributions: dict[str, float]


@dataclass(frozen=True)
class Forecast:
    predictions: list[int] | list[float]
    model_version: str
    intervals: list[tuple[Any, Any]] | None
    interval_level: float | None
    warnings: list[Warning] = field(default_factory=list)
    more_warnings: int = 0
    explanations: list[Explanation] | None = None


LOAD_ERRORS = (StoreError, PointerInvalid, artifact.ArtifactInvalid, ServingInvalid, ValueError)


class Predictor:
    """The warm model of one spec in one container."""

    def __init__(
        self,
        spec: ModelSpec,
        registry: ModelRegistry,
        settings: Settings,
        quick_registry: ModelRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.registry = registry
        self.quick_registry = quick_registry or registry
        self.settings = settings
        self.clock = clock
        self.model: ServingModel | None = None
        self.problem: str | None = "model not loaded yet"
        self.refused: tuple[str, str] | None = None  # a version the pointer named that could not serve, and why
        self._pointer_etag: str | None = None
        self._checked_at = float("-inf")

    def refresh(self, *, force: bool = False) -> None:
        """Load the pointed-to version if the pointer moved. Never raises: failures keep the last good model.
        A warm container checks through the quick store: a stalled S3 costs the request about a second."""
        interval = self.settings.refresh_seconds if self.model else self.settings.retry_seconds
        now = self.clock()
        if not force and now - self._checked_at < interval:
            return
        self._checked_at = now
        if not self.settings.bucket:
            self.problem = "MODEL_BUCKET is not configured"
            return
        registry = self.quick_registry if self.model else self.registry
        pointer = None
        try:
            pointer = registry.current_if_changed(self._pointer_etag)
            if pointer is None:
                return  # unchanged since it was last judged
            if self.model is not None and pointer.version == self.model.version:
                self._pointer_etag, self.refused = pointer.etag, None
                return
            model = load_version(self.spec, registry, pointer.version)
        except LOAD_ERRORS as error:
            self._keep_serving(pointer.version if pointer else None, f"{type(error).__name__}: {error}")
            if pointer is not None:
                self._pointer_etag = pointer.etag  # judged: not tried again until the pointer moves
            return
        except Exception as error:  # never let a model take the container down
            log.exception("model load failed")
            self._keep_serving(pointer.version if pointer else None, f"{type(error).__name__} while loading")
            return
        previous = self.model.version if self.model else None
        self.model, self._pointer_etag, self.problem, self.refused = model, pointer.etag, None, None
        log.info(
            "model loaded",
            extra={"model": self.spec.name, "model_version": model.version, "previous_version": previous},
        )

    def _keep_serving(self, version: str | None, reason: str) -> None:
        reason = reason if len(reason) <= 500 else reason[:499] + "…"
        if version is not None:
            self.refused = (version, reason)
        if self.model:
            log.warning(
                "model refresh failed; still serving the last good model",
                extra={
                    "model": self.spec.name,
                    "reason": reason,
                    "model_version": self.model.version,
                    "refused": version,
                },
            )
        else:
            log.error("no model could be loaded", extra={"model": self.spec.name, "reason": reason})
            self.problem = "no model could be loaded from the model bucket"

    def reconnect(self) -> None:
        """Drop pooled S3 connections (they belong to another execution environment after a SnapStart restore)."""
        self.registry.store.reconnect()
        self.quick_registry.store.reconnect()

    def current(self) -> ServingModel:
        self.refresh()
        if self.model is None:
            raise ModelUnavailable(self.problem or "no model loaded")
        return self.model

    def forecast(self, instances: Sequence[BaseModel], explain: bool = False) -> Forecast:
        if len(instances) > self.settings.max_batch_rows:
            raise BatchTooLarge(f"{len(instances)} rows exceed the limit of {self.settings.max_batch_rows} per request")
        model = self.current()
        batch = rows.batch_of(self.spec.row, instances)
        warnings: list[Warning] = [*self.spec.derive(batch), *out_of_range(self.spec, batch, model.ranges)]
        matrix = model.matrix(batch)
        values = model.scorer.values(model.scorer.raw(matrix))
        predictions = self.answer(values)
        bounds = model.scorer.intervals(values, matrix)
        intervals = None
        if bounds is not None:
            lower, upper = self.spec.answer.bounds(*(sane(bound) for bound in bounds))
            intervals = list(zip(lower, upper, strict=True))
        warnings.sort(key=lambda found: found.row)
        shown, more = warnings[:MAX_WARNINGS], max(0, len(warnings) - MAX_WARNINGS)
        level = model.scorer.interval.level if model.scorer.interval else None
        explanations = self.explain(model, matrix) if explain else None
        return Forecast(predictions, model.version, intervals, level, shown, more, explanations)

    def explain(self, model: ServingModel, matrix: NDArray[np.float64]) -> list[Explanation]:
        """Each row's contributions per input field (a derived feature's folded onto the field it comes from)."""
        baseline, contributions = model.scorer.explain(matrix)
        used = self.spec.explanation_groups(model.scorer.feature_names)
        folded = np.column_stack([contributions[:, group].sum(axis=1) for _, group in used])
        names = [name for name, _ in used]
        return [Explanation(baseline, dict(zip(names, row, strict=True))) for row in folded.tolist()]

    def answer(self, values: NDArray[np.float64]) -> list[int] | list[float]:
        return self.spec.answer(sane(values))


def sane(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Model values as they are; one that is not finite or is absurdly large is a server fault, not a forecast."""
    if not (np.isfinite(values).all() and (np.abs(values) <= MAX_VALUE).all()):
        raise ModelUnavailable("the model returned a forecast that is not a finite number")
    return values


class Service:
    """Every model a deployment serves, by name; the default model (the first spec) is loaded at cold start,
    the others on their first request."""

    def __init__(self, settings: Settings, specs: Mapping[str, ModelSpec] | None = None) -> None:
        self.settings = settings
        self.specs = dict(specs if specs is not None else load_specs(settings.specs))
        self.default = next(iter(self.specs))
        self.predictors: dict[str, Predictor] = {}

    def layout(self, name: str) -> Layout:
        return Layout.of(name, name == self.default, self.settings.prefix)

    def predictor(self, name: str) -> Predictor:
        """The predictor of a model this deployment serves (``KeyError`` otherwise), made on first use."""
        found = self.predictors.get(name)
        if found is None:
            spec = self.specs[name]
            prefix = self.layout(name).models
            found = Predictor(
                spec,
                ModelRegistry(S3Store(self.settings.bucket), prefix),
                self.settings,
                quick_registry=ModelRegistry(S3Store(self.settings.bucket, quick=True), prefix),
            )
            self.predictors[name] = found
        return found

    def loaded_version(self, name: str) -> str | None:
        found = self.predictors.get(name)
        return found.model.version if found is not None and found.model is not None else None
