"""Settings read once from a function's environment, into a pydantic model whose aliases are the variables'
names (as in template.yaml) and whose defaults are stated there once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict


class EnvSettings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """The settings from ``env``: variables that are unset or empty keep their defaults."""
        names = {info.alias for info in cls.model_fields.values()}
        return cls.model_validate({name: value for name, value in env.items() if name in names and value != ""})
