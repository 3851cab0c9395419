"""One deployment's models, bucket and settings, as training sees them: which model an upload belongs to, and
each model's registry and prefixes."""

from __future__ import annotations

from dataclasses import dataclass, field

from bikecast.registry import Layout, ModelRegistry
from bikecast.spec import ModelSpec, load_specs
from bikecast.store import S3Store
from training.data import Limits
from training.settings import TrainSettings


@dataclass
class Deployment:
    settings: TrainSettings
    store: S3Store = field(init=False)
    specs: dict[str, ModelSpec] = field(init=False)

    def __post_init__(self) -> None:
        self.store = S3Store(self.settings.bucket)
        self.specs = load_specs(self.settings.specs)

    @property
    def default(self) -> str:
        return next(iter(self.specs))

    def spec(self, name: str | None) -> ModelSpec:
        """The named model's spec (the default model's for None); ``LookupError`` names the choices."""
        name = name or self.default
        if name not in self.specs:
            raise LookupError(f"no model named {name!r}; this deployment has {', '.join(self.specs)}")
        return self.specs[name]

    def layout(self, name: str) -> Layout:
        return Layout.of(name, name == self.default, self.settings.prefix)

    def registry(self, name: str) -> ModelRegistry:
        return ModelRegistry(self.store, self.layout(name).models)

    def model_for_upload(self, key: str) -> str | None:
        """The model whose training data ``key`` is, or None if it is not training data."""
        layouts = {name: self.layout(name) for name in self.specs}
        return next((name for name, layout in layouts.items() if layout.owns_upload(key, layouts)), None)

    @property
    def limits(self) -> Limits:
        s = self.settings
        return Limits(max_bytes=s.max_upload_bytes, max_rows=s.max_upload_rows, max_field_chars=s.max_field_chars)
