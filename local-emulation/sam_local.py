"""Local emulation helpers: moto_server as S3 and SAM CLI's `sam local` against it.

Used by the demo (``demo.py``) and the end-to-end tests. Each process started here is stopped by its own pid.
Traffic stays on this machine: loopback, and the Lambda containers on the Docker bridge.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("BIKECAST_STATE_DIR", REPO / ".local"))
SAM = os.environ.get("SAM_CLI", str(REPO / ".venv-sam" / "bin" / "sam"))
MOTO_SERVER = str(Path(sys.executable).parent / "moto_server")
# Containers reach the host through the Docker bridge gateway under this name (see --add-host below).
CONTAINER_HOST = "host.docker.internal"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "SAM_CLI_TELEMETRY": "0",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers, even if not 2xx
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


def stop(process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    """SIGTERM to the process's own pid. (SAM CLI exits on it but leaves its warm containers: see start_api.)"""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def moto_server(port: int | None = None, log: Path | None = None) -> Iterator[str]:
    """moto_server on all interfaces (containers must reach it); yields its loopback URL."""
    port = port or free_port()
    log = log or STATE / f"moto-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen([MOTO_SERVER, "-H", "0.0.0.0", "-p", str(port)], stdout=out, stderr=out)
    (STATE / f"moto-{port}.pid").write_text(str(process.pid))
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/moto-api/", 20, process)
        yield url
    finally:
        stop(process)
        (STATE / f"moto-{port}.pid").unlink(missing_ok=True)


def env_file(bucket: str, s3_url: str, path: Path, refresh_seconds: int = 5) -> Path:
    """--env-vars for the functions: the bucket, and moto_server as seen from inside a container."""
    port = s3_url.rsplit(":", 1)[1]
    variables = {
        "MODEL_BUCKET": bucket,
        "MODEL_REFRESH_SECONDS": str(refresh_seconds),
        "S3_ENDPOINT_URL": f"http://{CONTAINER_HOST}:{port}",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    train = {"S3_ENDPOINT_URL": variables["S3_ENDPOINT_URL"]}
    path.write_text(json.dumps({"PredictFunction": variables, "TrainFunction": train}, indent=2))
    return path


def s3_put_event(bucket: str, key: str, path: Path) -> Path:
    """An S3 ObjectCreated event like events/s3-put-training-data.json, for another bucket and key."""
    event = json.loads((REPO / "events" / "s3-put-training-data.json").read_text())
    record = event["Records"][0]["s3"]
    record["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    record["object"]["key"] = key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(event, indent=2))
    return path


def sam_env() -> dict[str, str]:
    return {**os.environ, **FAKE_AWS}


def build(check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([SAM, "build"], cwd=REPO, env=sam_env(), check=check)


def invoke(
    function: str, event: Path, env_vars: Path, timeout: float = 400, parameters: Sequence[str] = ()
) -> dict[str, Any]:
    """`sam local invoke`; returns the function's JSON answer (its last line of stdout). ``parameters`` are
    template parameter overrides such as ``JoblibFallback=Enabled``."""
    result = subprocess.run(
        [
            SAM,
            "local",
            "invoke",
            function,
            "-e",
            str(event),
            "--env-vars",
            str(env_vars),
            "--add-host",
            f"{CONTAINER_HOST}:host-gateway",
            "--skip-pull-image",
            *(["--parameter-overrides", " ".join(parameters)] if parameters else []),
        ],
        cwd=REPO,
        env=sam_env(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in result.stdout.decode().splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"sam local invoke failed ({result.returncode}):\n{result.stderr.decode()[-3000:]}")
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


@contextlib.contextmanager
def start_api(env_vars: Path, port: int | None = None, ready_seconds: float = 180) -> Iterator[str]:
    """`sam local start-api` with warm containers; yields its base URL once /health answers."""
    port = port or free_port()
    log = STATE / f"start-api-{port}.log"
    containers_before = lambda_containers()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                SAM,
                "local",
                "start-api",
                "--env-vars",
                str(env_vars),
                "--add-host",
                f"{CONTAINER_HOST}:host-gateway",
                "--skip-pull-image",
                "--warm-containers",
                "EAGER",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=sam_env(),
            stdout=out,
            stderr=out,
        )
    (STATE / f"start-api-{port}.pid").write_text(str(process.pid))
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/health", ready_seconds, process)
        yield url
    finally:
        stop(process, seconds=60)
        (STATE / f"start-api-{port}.pid").unlink(missing_ok=True)
        # Neither SIGTERM nor SIGINT makes SAM CLI remove its warm containers; remove the ones it started here.
        left = lambda_containers() - containers_before
        if left:
            subprocess.run(["docker", "rm", "--force", *sorted(left)], capture_output=True, check=False)


def lambda_containers() -> set[str]:
    """Ids of the running containers SAM CLI started for Lambda functions (it labels them)."""
    found = subprocess.run(
        ["docker", "ps", "--quiet", "--filter", "label=sam.cli.container.type=lambda"],
        capture_output=True,
        text=True,
        check=False,
    )
    return set(found.stdout.split())
