"""The artifact training publishes: manifest, serving format (checked, NaN-proof), intervals, card."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bikecast import artifact
from bikecast.registry import MODEL_FILE
from bikecast.trees import TREES_FILE, TreeEnsemble
from tests.conftest import DAILY
from training import card, fit, publish
from training.data import Labelled


def test_the_manifest_describes_the_artifact(built_artifact: publish.Artifact) -> None:
    manifest = built_artifact.manifest
    assert manifest["model_name"] == "daily"
    assert manifest["model"]["sha256"] == artifact.sha256_hex(built_artifact.files[MODEL_FILE])
    assert manifest["training_data"]["rows"] == 731
    assert manifest["training_data"]["sha256"].startswith("a6bcf826")
    assert set(manifest["libraries"]) >= {"python", "scikit-learn", "numpy"}
    assert manifest["input_schema"]["temp"]["type"] == "number"
    assert manifest["input_schema"]["dteday"] | {"description": ""} == {
        "type": "date", "required": True, "min": "2011-01-01", "max": "2012-12-31", "description": "",
    }  # fmt: skip
    assert manifest["input_schema"]["weekday"]["required"] is False
    chronological = manifest["metrics"]["chronological"]
    assert chronological["model"]["rmse"] < chronological["baseline"]["rmse"]
    assert chronological["without Hurricane Sandy"]["rmse"] < chronological["model"]["rmse"]
    assert set(chronological["growth_sensitivity"]) == {"growth x0.95", "growth x1.05"}
    growth = manifest["model"]["growth"]
    assert (growth["feature"], growth["by"], growth["low"], growth["high"]) == ("yr", "mnth", 0.0, 1.0)
    assert len(growth["table"]) == 12
    # the serving files' feature names and count, which the predict function checks against its own before serving
    serving = manifest["serving"]
    assert serving["features"] == list(DAILY.feature_names)
    assert serving["n_features"] == len(DAILY.feature_names)
    assert TreeEnsemble.from_bytes(built_artifact.files[serving["file"]], serving["n_features"]).n_features == 10


def test_the_interval_is_calibrated_and_its_coverage_recorded(built_artifact: publish.Artifact) -> None:
    coverage = built_artifact.manifest["coverage"]
    assert coverage["holdout"] == "chronological"
    assert coverage["level"] == 0.8
    assert 0.75 <= coverage["coverage"] <= 0.90
    assert coverage["mean_width"] > 0
    assert coverage["without Hurricane Sandy"]["rows"] == 120
    serving = built_artifact.manifest["serving"]
    assert serving["interval"]["kind"] == "sqrt"
    assert serving["interval"]["q"] > 0
    assert serving["residual_scale"] > 0


def test_the_card_states_growth_intervals_and_importance(built_artifact: publish.Artifact) -> None:
    text = built_artifact.files[card.CARD_FILE].decode()
    for words in ("## Growth", "held, not extrapolated", "5% lower or higher", "## Intervals", "80%",
                  "## What drives the forecasts", "Hurricane Sandy"):  # fmt: skip
        assert words in text, words
    assert built_artifact.files[card.HOLDOUT_PLOT][:8] == b"\x89PNG\r\n\x1a\n"
    assert built_artifact.files[card.IMPORTANCE_PLOT][:8] == b"\x89PNG\r\n\x1a\n"
    ranked = built_artifact.manifest["importance"]
    assert set(ranked) <= set(DAILY.input_fields)
    assert list(ranked.values()) == sorted(ranked.values(), reverse=True)


@pytest.mark.parametrize("broken", [math.nan, 1.0])
def test_a_serving_format_that_disagrees_or_is_nan_is_not_exported(
    training_data: Labelled, monkeypatch: pytest.MonkeyPatch, broken: float
) -> None:
    """``difference > limit`` is False for NaN: the check must be ``not difference <= limit``."""
    fitted = fit.fit(DAILY, training_data.subset(np.arange(200)))
    original = fit.Fitted.predict
    monkeypatch.setattr(fit.Fitted, "predict", lambda self, batch: original(self, batch) + broken)
    files: dict[str, bytes] = {}
    serving = publish.export(DAILY, fitted, training_data.subset(np.arange(200)), files, progress=lambda _: None)
    assert serving["format"] == "none"
    assert "differs" in serving["reason"]
    assert TREES_FILE not in files
