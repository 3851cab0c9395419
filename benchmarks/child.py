"""One fresh process per measurement, started by run.py: `child.py handler|naive|second|memory`.

The clock starts on the first executed line; everything else is imported inside the measured functions.
The result is printed as one JSON line prefixed with ``RESULT_PREFIX``; configuration comes from the
environment run.py passes (MODEL_BUCKET, S3_ENDPOINT_URL, MODEL_SPECS, BENCH_MODEL_KEY, BENCH_REQUESTS).
"""

import time

T0 = time.perf_counter()


def since_start() -> float:
    return time.perf_counter() - T0


def handler_cold_start() -> dict[str, float]:
    """Import the handler (its module body fetches the default model's pointer, manifest and tree file over HTTP
    and loads them), then answer one POST /predict."""
    import contextlib
    import importlib
    import os

    from benchmarks import common

    common.add_import_roots()
    app = importlib.import_module("app")
    loaded = since_start()
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        response = app.lambda_handler(common.load_event("predict-single"), common.FakeLambdaContext())
    answered = since_start()
    if response["statusCode"] != 200:
        raise RuntimeError(f"handler answered {response['statusCode']}: {response['body'][:300]}")
    return {"import_and_load_s": loaded, "answer_s": answered}


def naive_cold_start() -> dict[str, float]:
    """A plain start: import pandas and scikit-learn, download model.joblib with boto3, unpickle, predict one row."""
    import io
    import json
    import os

    import boto3
    import joblib
    import numpy as np
    import pandas as pd
    import sklearn  # noqa: F401 (imported up front, as a Flask + scikit-learn service does)

    from benchmarks import common

    common.add_import_roots()  # training.fit and bikecast: the pickled model's class and feature step live there
    imported = since_start()
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"])
    body = s3.get_object(Bucket=os.environ["MODEL_BUCKET"], Key=os.environ["BENCH_MODEL_KEY"])["Body"].read()
    downloaded = since_start()
    fitted = joblib.load(io.BytesIO(body))
    loaded = since_start()
    row = json.loads(common.load_event("predict-single")["body"])["instances"][0]
    frame = pd.DataFrame([row])
    batch = {name: frame[name].to_numpy(dtype=np.float64) for name in frame.columns if name != "dteday"}
    batch["dteday"] = np.array([pd.Timestamp(day).toordinal() for day in frame["dteday"]], dtype=np.int64)
    prediction = fitted.predict(batch)
    answered = since_start()
    if prediction.shape != (1,):
        raise RuntimeError(f"unexpected prediction {prediction!r}")
    return {"import_s": imported, "download_s": downloaded, "load_s": loaded, "answer_s": answered}


def second_model() -> dict[str, float]:
    """What the second model costs a container: import the handler (the daily model is loaded), answer one daily
    request, then the first hourly request (which loads the hourly model: pointer, manifest, tree file, checks),
    then a second hourly request (warm)."""
    import contextlib
    import importlib
    import os

    from benchmarks import common

    common.add_import_roots()
    app = importlib.import_module("app")
    loaded = since_start()
    context = common.FakeLambdaContext()
    hourly = common.predict_event([common.hourly_row()], common.HOURLY_PATH)
    times = {"import_and_load_s": loaded}
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        for key, event in (
            ("daily_s", common.load_event("predict-single")),
            ("first_hourly_s", hourly),
            ("second_hourly_s", hourly),
        ):
            start = time.perf_counter()
            response = app.lambda_handler(event, context)
            times[key] = time.perf_counter() - start
            if response["statusCode"] != 200:
                raise RuntimeError(f"{key}: handler answered {response['statusCode']}: {response['body'][:300]}")
    times["answer_s"] = since_start()
    return times


def memory() -> dict[str, float]:
    """RSS after the cold start (the daily model loaded), after ``BENCH_REQUESTS`` single-row daily requests, then
    after the first hourly request (both models loaded) and as many single-row hourly requests."""
    import contextlib
    import importlib
    import os

    from benchmarks import common

    common.add_import_roots()
    requests = int(os.environ.get("BENCH_REQUESTS", "1000"))
    app = importlib.import_module("app")
    result = {"rss_after_load_mib": common.rss_mib(), "peak_after_load_mib": common.peak_rss_mib()}
    daily, context = common.load_event("predict-single"), common.FakeLambdaContext()
    hourly = common.predict_event([common.hourly_row()], common.HOURLY_PATH)

    def call(event: dict[str, object]) -> None:
        if app.lambda_handler(event, context)["statusCode"] != 200:
            raise RuntimeError("handler did not answer 200")

    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        for _ in range(requests):
            call(daily)
        result |= {"rss_after_requests_mib": common.rss_mib(), "peak_after_requests_mib": common.peak_rss_mib()}
        call(hourly)
        result |= {"rss_after_hourly_load_mib": common.rss_mib(), "peak_after_hourly_load_mib": common.peak_rss_mib()}
        for _ in range(requests):
            call(hourly)
            call(daily)
    result |= {
        "requests": float(requests),
        "rss_after_both_mib": common.rss_mib(),
        "peak_after_both_mib": common.peak_rss_mib(),
    }
    return result


def main() -> None:
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `benchmarks.common`
    modes = {"handler": handler_cold_start, "naive": naive_cold_start, "second": second_model, "memory": memory}
    result = modes[sys.argv[1]]()
    from benchmarks.common import RESULT_PREFIX

    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
