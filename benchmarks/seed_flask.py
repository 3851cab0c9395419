"""The seed article's Flask service, reproduced as written, for comparison only (not part of bikecast).

Adapted only where pandas 3 requires it, each marked "pandas 3:" below:
- ``pd.read_json`` no longer accepts a literal JSON string (it is read as a path), so the string is wrapped in
  ``io.StringIO``;
- ``convert_dates`` now parses "2011-01-01T00:00:00.000Z" as tz-aware UTC, and subtracting the tz-naive
  1 January column raises ``TypeError``, so the time zone is stripped (the wall-clock date stays the same);
- its ``Pandas4Warning`` about ``convert_dates`` is silenced, so it does not print on every request.

``model`` is set before serving, as the article's ``__main__`` does with ``pickle.load``; the benchmark sets a
GradientBoostingRegressor with the daily recipe's parameters (``daily.SPEC.recipe.params``), fitted on these 12
features (``daily.SEED_FEATURES``) and the count itself, as the seed did (see run.py).
"""

from __future__ import annotations

import io
import json
import warnings
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

warnings.filterwarnings("ignore", message=".*convert_dates.*")  # pandas 3: deprecation notice only

app = Flask(__name__)
model: Any = None


def doTheCalculation(data: pd.DataFrame) -> np.ndarray[Any, Any]:  # noqa: N802 (the article's name)
    data["dayofyear"] = (
        data["dteday"] - data["dteday"].apply(lambda x: date(x.year, 1, 1)).astype("datetime64[ns]")
    ).apply(lambda x: x.days)
    return np.array(
        data[
            [
                "instant",
                "season",
                "yr",
                "holiday",
                "weekday",
                "workingday",
                "weathersit",
                "temp",
                "atemp",
                "hum",
                "windspeed",
                "dayofyear",
            ]
        ]
    )


@app.route("/api/makecalc/", methods=["POST"])
def makecalc() -> ResponseReturnValue:
    jsonfile = request.get_json()
    # pandas 3: io.StringIO around the JSON text (the article passed json.dumps(jsonfile) directly).
    data = pd.read_json(io.StringIO(json.dumps(jsonfile)), orient="index", convert_dates=["dteday"])
    data["dteday"] = data["dteday"].dt.tz_localize(None)  # pandas 3: tz-aware -> naive, same calendar date

    res = dict()
    ypred = model.predict(doTheCalculation(data))
    for i in range(len(ypred)):
        res[i] = ypred[i]

    return jsonify(res)
