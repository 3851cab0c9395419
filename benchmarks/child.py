"""One fresh process per measurement, started by run.py: `child.py handler|naive|memory`.

The clock starts on the first executed line; everything else is imported inside the measured functions.
The result is printed as one JSON line prefixed with ``RESULT_PREFIX``; configuration comes from the
environment run.py passes (MODEL_BUCKET, S3_ENDPOINT_URL, BENCH_MODEL_KEY).
"""

import time

T0 = time.perf_counter()


def since_start() -> float:
    return time.perf_counter() - T0


def handler_cold_start() -> dict[str, float]:
    """Import the handler (its module body fetches pointer, manifest and model over HTTP and loads the model),
    then answer one POST /predict."""
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

    common.add_import_roots()  # bikecast: the pickled pipeline's feature step lives there
    imported = since_start()
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"])
    body = s3.get_object(Bucket=os.environ["MODEL_BUCKET"], Key=os.environ["BENCH_MODEL_KEY"])["Body"].read()
    downloaded = since_start()
    pipeline = joblib.load(io.BytesIO(body))
    loaded = since_start()
    row = json.loads(common.load_event("predict-single")["body"])["instances"][0]
    frame = pd.DataFrame([row])
    batch = {name: frame[name].to_numpy(dtype=np.float64) for name in frame.columns if name != "dteday"}
    batch["dteday"] = np.array([pd.Timestamp(day).toordinal() for day in frame["dteday"]], dtype=np.int64)
    prediction = pipeline.predict(batch)
    answered = since_start()
    if prediction.shape != (1,):
        raise RuntimeError(f"unexpected prediction {prediction!r}")
    return {"import_s": imported, "download_s": downloaded, "load_s": loaded, "answer_s": answered}


def memory(requests: int = 1000) -> dict[str, float]:
    """RSS after the cold start, then peak RSS after ``requests`` single-row requests through the handler."""
    import contextlib
    import importlib
    import os

    from benchmarks import common

    common.add_import_roots()
    app = importlib.import_module("app")
    result = {"rss_after_load_mib": common.rss_mib(), "peak_after_load_mib": common.peak_rss_mib()}
    event, context = common.load_event("predict-single"), common.FakeLambdaContext()
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        for _ in range(requests):
            if app.lambda_handler(event, context)["statusCode"] != 200:
                raise RuntimeError("handler did not answer 200")
    result.update(
        {
            "requests": float(requests),
            "rss_after_requests_mib": common.rss_mib(),
            "peak_after_requests_mib": common.peak_rss_mib(),
        }
    )
    return result


def main() -> None:
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `benchmarks.common`
    modes = {"handler": handler_cold_start, "naive": naive_cold_start, "memory": memory}
    result = modes[sys.argv[1]]()
    from benchmarks.common import RESULT_PREFIX

    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
