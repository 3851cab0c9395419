"""The main job, end to end on local emulation (no AWS account):

train on the default data -> publish to a moto_server bucket -> `sam build` -> `sam local start-api`
-> send the seed article's request with the seed article's client code -> print the answer -> stop everything.

Run through `make demo` (which first brings up Docker and the Lambda base image).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import requests

sys.path[:0] = [
    str(Path(__file__).resolve().parent.parent / "layers" / "shared"),
    str(Path(__file__).resolve().parent.parent),
]

import sam_local  # noqa: E402

from training import cli  # noqa: E402

BUCKET = os.environ.get("MODEL_BUCKET", "bikecast-models-local")
SEED_EVENT = sam_local.REPO / "events" / "makecalc-seed.json"


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def main() -> int:
    os.environ.update(sam_local.FAKE_AWS)
    with sam_local.moto_server(int(os.environ.get("MOTO_PORT", "5555"))) as s3_url:
        os.environ["AWS_ENDPOINT_URL_S3"] = s3_url
        step(f"training on the default data and publishing to s3://{BUCKET} at {s3_url} (moto_server)")
        if cli.main(["train", "--bucket", BUCKET, "--create-bucket"]) != 0:
            return 1
        step("sam build")
        sam_local.build()
        env_vars = sam_local.env_file(BUCKET, s3_url, sam_local.STATE / "env.json")
        step("sam local start-api (warm containers)")
        port = int(os.environ.get("API_PORT", "3000"))
        with sam_local.start_api(env_vars, aws_endpoint=s3_url, port=port) as local_api:
            api = local_api.url
            # The seed article's client, unchanged but for the URL.
            url = f"{api}/api/makecalc/"
            text = json.loads(SEED_EVENT.read_text())["body"]
            headers = {"content-type": "application/json", "Accept-Charset": "UTF-8"}
            step(f"POST {url}")
            r = requests.post(url, data=text, headers=headers, timeout=60)
            print(f"HTTP {r.status_code}, model version {r.headers.get('X-Model-Version')}")
            print(r.text)
            step(f"POST {api}/predict (documented API)")
            instances = [row for row in json.loads(text).values()]
            r2 = requests.post(f"{api}/predict", json={"instances": instances}, timeout=60)
            print(json.dumps(r2.json(), indent=2))
        return 0 if r.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
