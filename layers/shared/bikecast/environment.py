"""Settings read once from a function's environment, into a pydantic model whose aliases are the variables'
names (as in template.yaml) and whose defaults are stated there once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from bikecast.registry import MODELS_PREFIX
from bikecast.spec import DEFAULT_SPECS


class EnvSettings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """The settings from ``env``: variables that are unset or empty keep their defaults."""
        names = {info.alias for info in cls.model_fields.values()}
        return cls.model_validate({name: value for name, value in env.items() if name in names and value != ""})


class ModelSettings(EnvSettings):
    """What both functions read to find the models: the specs served and where their artifacts live. The bucket,
    whose default differs between them, each declares itself."""

    prefix: str = Field(default=MODELS_PREFIX, alias="MODEL_PREFIX")
    specs: str = Field(default=DEFAULT_SPECS, alias="MODEL_SPECS")
