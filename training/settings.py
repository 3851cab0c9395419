"""The TrainFunction's and the CLI's settings, read once from the environment (names as in template.yaml).

Each default is stated here once; the template's parameters, the CLI's options and the README take them from
here or say the same.
"""

from __future__ import annotations

from pydantic import Field

from bikecast.environment import ModelSettings


class TrainSettings(ModelSettings):
    bucket: str = Field(default="bikecast-models-local", alias="MODEL_BUCKET")
    # The gate: a candidate may be this much worse (RMSE) than the accepted data alone on the most recent
    # accepted days the upload did not write ("trusted days"), judged on that many days.
    tolerance: float = Field(default=0.10, ge=0, alias="GATE_TOLERANCE")
    trusted_days: int = Field(default=122, ge=7, alias="GATE_HOLDOUT_DAYS")
    # Drift: the serving model's MAE on an upload, over the MAE its manifest promised. Past it, no automatic promotion.
    drift_threshold: float = Field(default=1.5, gt=0, alias="DRIFT_THRESHOLD")
    # Labels against what the serving model expects for the same rows, in its typical errors (training.labels): by
    # the median at most this many either way (a unit or scale error), and no row more than this many above.
    label_shift_limit: float = Field(default=4.0, gt=0, alias="LABEL_SHIFT_LIMIT")
    label_spike_limit: float = Field(default=8.0, gt=0, alias="LABEL_SPIKE_LIMIT")
    # Coverage of the calibrated interval on the chronological holdout must fall in this band.
    coverage_low: float = Field(default=0.75, ge=0, le=1, alias="COVERAGE_LOW")
    coverage_high: float = Field(default=0.90, ge=0, le=1, alias="COVERAGE_HIGH")
    # One upload: bytes, data rows, characters in one field.
    max_upload_bytes: int = Field(default=50_000_000, ge=1, alias="MAX_UPLOAD_BYTES")
    max_upload_rows: int = Field(default=500_000, ge=1, alias="MAX_UPLOAD_ROWS")
    max_field_chars: int = Field(default=100, ge=10, alias="MAX_FIELD_CHARS")
