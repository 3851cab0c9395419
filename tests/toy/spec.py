"""A toy spec, to prove the core knows no model's fields: the temperature of a machine from its load, its fan
setting and the room's temperature. Synthetic data, other field names, no date, not counts (degrees, may be
negative, with decimals)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bikecast.fields import Integer, Number
from bikecast.rows import Batch
from bikecast.spec import Answer, Card, Contradiction, Derived, Matrix, ModelSpec, Recipe, TrainingData


class MachineRow(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    machine_id: Integer = Field(ge=0, description="Which machine (not a feature: it keys the training data).")
    utilisation: Number = Field(ge=0, le=1, description="Share of full load, 0..1.")
    fan_level: Integer = Field(ge=0, le=3, description="Fan setting, 0 (off) .. 3.")
    room_celsius: Number = Field(ge=-40, le=60, description="Room temperature, °C.")


class MachineLabels(MachineRow):
    core_celsius: Number = Field(description="The machine's core temperature, °C.")


FEATURES = ("utilisation", "fan_level", "room_celsius", "room_celsius_squared")


def room_squared(batch: Batch) -> Matrix:
    return batch["room_celsius"] ** 2


def derive(batch: Batch) -> list[Contradiction]:
    return []  # every field is required: nothing to derive


SPEC = ModelSpec(
    name="toy",
    summary="A machine's core temperature from its load, fan and room temperature.",
    row=MachineRow,
    derive=derive,
    feature_names=FEATURES,
    derived={"room_celsius_squared": Derived("room_celsius", room_squared)},
    range_checked=("utilisation", "room_celsius"),
    answer=Answer(integer=False, minimum=None, unit="°C"),
    data=TrainingData(labels=MachineLabels, target="core_celsius", key=("machine_id",)),
    recipe=Recipe(params={"n_estimators": 150, "max_depth": 3, "learning_rate": 0.1, "random_state": 0}),
    card=Card(title="Machine temperature", unit="°C", about="A toy model for the tests."),
)


def csv_text(machines: range, seed: int = 0) -> str:
    """Synthetic training data: core = room + 40 x utilisation - 6 x fan level + noise, one row per machine."""
    rng = np.random.default_rng(seed)
    lines = ["machine_id,utilisation,fan_level,room_celsius,core_celsius"]
    for machine in machines:
        utilisation, fan, room = rng.uniform(0, 1), int(rng.integers(0, 4)), rng.uniform(-10, 35)
        core = room + 40 * utilisation - 6 * fan + rng.normal(0, 1.5)
        lines.append(f"{machine},{utilisation:.4f},{fan},{room:.2f},{core:.3f}")
    return "\n".join(lines) + "\n"
