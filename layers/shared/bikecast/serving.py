"""Serving: hold the current model in memory, refresh it cheaply, and turn observations into forecasts.

The model is loaded once per container (at cold start) and kept in a module-level ``Predictor``; a warm
container only re-reads the small pointer, at most every ``refresh_seconds``, with a conditional GET.
A new or broken artifact never replaces a good model that is already serving.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bikecast import artifact, features
from bikecast.features import RangeWarning
from bikecast.registry import ModelRegistry, PointerInvalid
from bikecast.schema import ObservationColumns
from bikecast.store import S3Store, StoreError
from bikecast.trees import TREES_FORMAT, TreeEnsemble

log = logging.getLogger(__name__)

MAX_WARNINGS = 100


class ModelUnavailable(Exception):
    """No model can serve: the reason is safe to show to clients."""


class BatchTooLarge(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str = "models/"
    max_batch_rows: int = 10_000
    # Under Lambda's 6 MB synchronous payload limit; 10,000 rows of the documented API take about 1.8 MB.
    max_body_bytes: int = 5_000_000
    refresh_seconds: float = 60.0
    retry_seconds: float = 5.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            bucket=env.get("MODEL_BUCKET", ""),
            prefix=env.get("MODEL_PREFIX", "models/"),
            max_batch_rows=int(env.get("MAX_BATCH_ROWS", "10000")),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", "5000000")),
            refresh_seconds=float(env.get("MODEL_REFRESH_SECONDS", "60")),
            retry_seconds=float(env.get("MODEL_RETRY_SECONDS", "5")),
        )


class ServingModel:
    """One loaded version: served from its tree arrays, or by the joblib pipeline when training published no
    usable tree file. The pipeline is unpickled only then, so serving a tree file never imports scikit-learn."""

    def __init__(
        self,
        version: str,
        manifest: dict[str, Any],
        trees: TreeEnsemble | None,
        fetch_model_file: Callable[[], bytes],
    ) -> None:
        self.version = version
        self.manifest = manifest
        self.trees = trees
        self.ranges = training_ranges(manifest)
        self._fetch_model_file = fetch_model_file
        self._pipeline: Any = None

    @property
    def pipeline(self) -> Any:
        """The joblib pipeline, fetched, checked against the manifest and unpickled on first use."""
        if self._pipeline is None:
            self._pipeline = artifact.load_model(self._fetch_model_file(), self.manifest)
        return self._pipeline

    def predict(self, batch: features.Batch) -> np.ndarray[Any, Any]:
        if self.trees is not None:
            return self.trees.predict(features.feature_matrix(batch))
        return np.asarray(self.pipeline.predict(batch))


def training_ranges(manifest: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """The ranges seen in training, from the manifest's input schema (dates as day ordinals)."""
    schema = manifest.get("input_schema", {})
    ranges = {}
    for name in features.RANGE_CHECKED_FIELDS:
        if name in schema:
            low, high = schema[name]["min"], schema[name]["max"]
            if name == "dteday":
                low, high = (dt.date.fromisoformat(day).toordinal() for day in (low, high))
            ranges[name] = (float(low), float(high))
    return ranges


@dataclass(frozen=True)
class Forecast:
    predictions: list[int]
    model_version: str
    warnings: list[RangeWarning] = field(default_factory=list)
    more_warnings: int = 0


def to_rentals(raw: np.ndarray[Any, Any]) -> list[int]:
    """Whole, non-negative rental counts; a model that returns NaN or inf is a server fault, not a forecast."""
    if not np.all(np.isfinite(raw)):
        raise ModelUnavailable("the model returned a non-finite forecast")
    return np.rint(np.clip(raw, 0, None)).astype(np.int64).tolist()  # type: ignore[no-any-return]


def load_version(registry: ModelRegistry, version: str) -> ServingModel:
    """Fetch and verify a version: its tree file if training published one, else its joblib pipeline, which is
    then unpickled now, so a broken model is refused here (and the last good one kept), not on a later request."""
    manifest = registry.manifest(version)
    trees = None
    serving = manifest.get("serving", {})
    if serving.get("format") == TREES_FORMAT:
        try:
            data = registry.model_file(version, serving["file"])
            artifact.verify(data, serving["sha256"], "tree file")
            trees = TreeEnsemble.from_bytes(data)
        except (StoreError, artifact.ArtifactInvalid, KeyError, ValueError) as error:
            log.warning("tree file unusable; trying the joblib pipeline", extra={"reason": str(error)})
    model = ServingModel(version, manifest, trees, lambda: registry.model_file(version))
    if trees is None:
        _ = model.pipeline
    return model


class Predictor:
    """The warm model of one container."""

    def __init__(
        self, registry: ModelRegistry, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.model: ServingModel | None = None
        self.problem: str | None = "model not loaded yet"
        self._pointer_etag: str | None = None
        self._checked_at = float("-inf")

    @classmethod
    def from_settings(cls, settings: Settings) -> Predictor:
        return cls(ModelRegistry(S3Store(settings.bucket), settings.prefix), settings)

    def refresh(self, *, force: bool = False) -> None:
        """Load the pointed-to model if the pointer moved. Never raises: failures keep the last good model."""
        interval = self.settings.refresh_seconds if self.model else self.settings.retry_seconds
        now = self.clock()
        if not force and now - self._checked_at < interval:
            return
        self._checked_at = now
        if not self.settings.bucket:
            self.problem = "MODEL_BUCKET is not configured"
            return
        try:
            pointer = self.registry.current_if_changed(self._pointer_etag if self.model else None)
            if pointer is None:
                return  # unchanged
            if pointer.version == (self.model.version if self.model else None):
                self._pointer_etag = pointer.etag
                return
            model = load_version(self.registry, pointer.version)
        except (StoreError, PointerInvalid, artifact.ArtifactInvalid, ValueError) as error:
            self._keep_serving(f"{type(error).__name__}: {error}")
            return
        except Exception as error:  # unpickling can raise anything; never let it take the container down
            log.exception("model load failed")
            self._keep_serving(f"{type(error).__name__} while loading the model")
            return
        previous = self.model.version if self.model else None
        self.model, self._pointer_etag, self.problem = model, pointer.etag, None
        log.info("model loaded", extra={"model_version": model.version, "previous_version": previous})

    def _keep_serving(self, reason: str) -> None:
        if self.model:
            log.warning(
                "model refresh failed; still serving the last good model",
                extra={"reason": reason, "model_version": self.model.version},
            )
        else:
            log.error("no model could be loaded", extra={"reason": reason})
            self.problem = "no model could be loaded from the model bucket"

    def current(self) -> ServingModel:
        self.refresh()
        if self.model is None:
            raise ModelUnavailable(self.problem or "no model loaded")
        return self.model

    def predict(self, rows: Sequence[features.Observation]) -> Forecast:
        if len(rows) > self.settings.max_batch_rows:
            raise BatchTooLarge(f"{len(rows)} rows exceed the limit of {self.settings.max_batch_rows} per request")
        model = self.current()
        batch = rows.batch if isinstance(rows, ObservationColumns) else features.batch_from_observations(rows)
        predictions = to_rentals(model.predict(batch))
        warnings = features.out_of_range(batch, model.ranges)
        return Forecast(predictions, model.version, warnings[:MAX_WARNINGS], max(0, len(warnings) - MAX_WARNINGS))
