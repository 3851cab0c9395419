"""Local emulation helpers: moto_server as S3 (and STS, SQS) and SAM CLI's `sam local` against it.

Used by the local stack (``stack.py``), the demos and the end-to-end tests. Each process started here is stopped
by its own pid; each container SAM CLI starts from here is attached to a Docker network made for it, so it is
found (and removed) by that network, never by guessing which of the machine's Lambda containers are ours.
Traffic stays on this machine: loopback, and the Lambda containers on the Docker bridge.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sam_template

REPO = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("BIKECAST_STATE_DIR", REPO / ".local"))
SAM = os.environ.get("SAM_CLI", str(REPO / ".venv-sam" / "bin" / "sam"))
MOTO_SERVER = str(Path(sys.executable).parent / "moto_server")
# Containers reach the host through the Docker bridge gateway under this name (see --add-host below).
CONTAINER_HOST = "host.docker.internal"
# Fake credentials (the one copy: tests and benchmarks use these too), so nothing can reach a real account.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
FAKE_AWS = FAKE_CREDENTIALS | {"SAM_CLI_TELEMETRY": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(
    url: str, seconds: float, process: subprocess.Popen[bytes] | None = None, request_seconds: float = 2
) -> None:
    """Poll ``url`` until it answers. For a `sam local` API give ``request_seconds`` room: its first request starts
    the function's container, and a request given up on meanwhile would only queue another."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=request_seconds):
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


def stop_pid(pid: int, seconds: float = 20) -> bool:
    """SIGTERM to a pid this project recorded (a process started by an earlier command); True if it was running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def spawn_moto_server(port: int, log: Path, detach: bool = False) -> subprocess.Popen[bytes]:
    """moto_server on all interfaces (containers must reach it). Detached: it outlives this process."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [MOTO_SERVER, "-H", "0.0.0.0", "-p", str(port)],
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
        )


@contextlib.contextmanager
def moto_server(port: int | None = None, log: Path | None = None) -> Iterator[str]:
    """moto_server for the duration of a block; yields its loopback URL."""
    port = port or free_port()
    process = spawn_moto_server(port, log or STATE / f"moto-{port}.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/moto-api/", 30, process)
        yield url
    finally:
        stop(process)


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


def sam_env(aws_endpoint: str | None = None) -> dict[str, str]:
    """The environment for SAM CLI. `sam local invoke` and `start-api` ask STS for the account id every time;
    offline that call waits 5-10 s on an unreachable endpoint before SAM gives up, so point STS at moto_server,
    which answers it (the function containers do not see this variable)."""
    env = {**os.environ, **FAKE_AWS}
    if aws_endpoint:
        env["AWS_ENDPOINT_URL_STS"] = aws_endpoint
    return env


def build(check: bool = True, parameters: Sequence[str] = (), build_dir: Path | None = None) -> None:
    """`sam build` (cached). ``parameters`` are template parameter overrides such as ``Architecture=arm64``; the
    layers' Makefile gets the same architecture as ARCH (x86_64 unless overridden: what local emulation runs)."""
    arch = next((p.split("=", 1)[1] for p in parameters if p.startswith("Architecture=")), "x86_64")
    command = [SAM, "build"]
    if parameters:
        command += ["--parameter-overrides", " ".join(parameters)]
    if build_dir is not None:
        command += ["--build-dir", str(build_dir), "--cache-dir", str(build_dir.parent / f"{build_dir.name}-cache")]
    subprocess.run(command, cwd=REPO, env={**sam_env(), "ARCH": arch}, check=check)


def local_command(
    verb: str, env_vars: Path, network: str | None, parameters: Sequence[str] = (), *extra: str
) -> list[str]:
    """`sam local <verb>` with what every local call here needs: the functions' environment, the host's name as
    seen from a container, the offline base image, and the Docker network that marks the containers as ours."""
    return [
        SAM,
        "local",
        verb,
        *extra,
        "--env-vars",
        str(env_vars),
        "--add-host",
        f"{CONTAINER_HOST}:host-gateway",
        "--skip-pull-image",
        *(["--docker-network", network] if network else []),
        *(["--parameter-overrides", " ".join(parameters)] if parameters else []),
    ]


# `sam local invoke` as the project runs it: SAM CLI rebuilds a function's image on every invoke when the template
# defines its layers (samcli/local/docker/lambda_image.py, build(): `any(layer.is_defined_within_template ...)`;
# aws/aws-sam-cli#9255, #3725), sending the layers as build context although every step is cached. So each function's
# layers are baked into an image of ours once, and SAM CLI invokes a copy of the built template without layers on it
# (--invoke-image). start-api keeps the template's layers, so the e2e tests still exercise that wiring.
BUILD_DIR = REPO / ".aws-sam" / "build"
INVOKE_TEMPLATE = "template.invoke.yaml"  # beside the built template, so its CodeUri folders stay right
# The image SAM CLI runs python3.13 x86_64 functions on (pulled or built by lambda-image.sh).
BASE_IMAGE = "public.ecr.aws/lambda/python:3.13-x86_64"
BAKE_RECIPE = 1  # bump when bake()'s Dockerfile changes
LAYERS_LABEL = "bikecast.invoke-layers"  # an invoke image's layer names: its older versions are found by it


class BakeFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class InvokeImage:
    function: str
    layers: dict[str, Path]  # layer logical id -> its built folder, in the order they stack under /opt
    template: Path  # the built template without layers
    image: str


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def layers_fingerprint(layers: dict[str, Path], base_image_id: str) -> str:
    """What an invoke image is made of: the recipe, the base image, SAM CLI's runtime emulator (SAM builds its own
    image on ours once per image name), and every layer file's path, size and mtime, in order. (`sam build` rewrites
    a layer's files only when it rebuilds that layer, so a cached build changes nothing here.)"""
    digest = hashlib.sha256(f"recipe {BAKE_RECIPE}\nbase {base_image_id}\n".encode())
    rapid = Path(SAM).resolve().parent.parent.glob("lib/python3*/site-packages/samcli/local/rapid")
    for name, folder in [*(("rapid", path) for path in rapid), *layers.items()]:
        digest.update(f"layer {name}\n".encode())
        inside = len(str(folder)) + 1  # a path's part inside the folder (os.path.relpath is slow for thousands)
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for file in sorted(files):
                path = os.path.join(root, file)
                stat = os.stat(path)
                digest.update(f"{path[inside:]}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_mode}\n".encode())
    return digest.hexdigest()


def invoke_image(function: str, build_dir: Path | None = None) -> InvokeImage:
    """``function``'s invoke image (built if missing) and the template to invoke it with (written if changed)."""
    build_dir = build_dir or BUILD_DIR
    built = build_dir / "template.yaml"
    if not built.exists():
        raise BakeFailed(f"no built template {built} (sam build)")
    template = sam_template.load(built)
    try:
        names = sam_template.function_layers(template, function)
        layers = {name: sam_template.layer_dir(template, name, build_dir) for name in names}
    except ValueError as error:
        raise BakeFailed(str(error)) from error
    missing = [str(folder) for folder in layers.values() if not folder.is_dir()]
    if missing:
        raise BakeFailed(f"layer folder missing: {', '.join(missing)} (sam build)")
    listed = docker("image", "ls", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    images = dict(line.split() for line in listed.stdout.splitlines())
    if BASE_IMAGE not in images:
        raise BakeFailed(f"no base image {BASE_IMAGE} (make emulation) {listed.stderr.strip()}")
    image = f"bikecast-invoke-{layers_fingerprint(layers, images[BASE_IMAGE])[:16]}:latest"
    if layers and image not in images:
        bake(function, image, layers)
    # Rewritten only when it changes, i.e. when the built template does (SAM CLI may be reading it meanwhile).
    invoke_template = build_dir / INVOKE_TEMPLATE
    text = sam_template.dump(sam_template.without_layers(template))
    if not invoke_template.exists() or invoke_template.read_text() != text:
        partial = invoke_template.with_name(f".{INVOKE_TEMPLATE}.{os.getpid()}")
        partial.write_text(text)
        partial.replace(invoke_template)
    return InvokeImage(function, layers, invoke_template, image)


def bake(function: str, image: str, layers: dict[str, Path]) -> None:
    """Build ``image``: the base image with the layers copied under /opt in order, as SAM CLI's own Dockerfile
    does (lambda_image.py, _generate_dockerfile: ADD/COPY from the context, so root-owned; a later layer's file
    replaces an earlier one's). The build context holds only those folders; then older images of the same layers
    go (docker refuses while a container uses one; the next bake retries)."""
    say = f"[sam_local] {function}: baking layers {', '.join(layers)} into {image} (once per change of them)"
    print(say, file=sys.stderr, flush=True)
    dockerfile = f"FROM {BASE_IMAGE}\n" + "".join(f"COPY {name}/ /opt/\n" for name in layers)
    dockerfile += f'LABEL {LAYERS_LABEL}="{",".join(layers)}"\n'
    with tempfile.TemporaryFile() as output:
        build = subprocess.Popen(
            ["docker", "build", "--quiet", "--tag", image, "-"], stdin=subprocess.PIPE, stdout=output, stderr=output
        )
        assert build.stdin is not None
        try:
            with tarfile.open(fileobj=build.stdin, mode="w|", dereference=True) as context:
                info = tarfile.TarInfo("Dockerfile")
                info.size = len(dockerfile.encode())
                context.addfile(info, io.BytesIO(dockerfile.encode()))
                for name, folder in layers.items():
                    context.add(folder, arcname=name)
        except BrokenPipeError:
            pass  # docker gave up reading: its output says why
        finally:
            build.stdin.close()
        if build.wait() != 0:
            output.seek(0)
            raise BakeFailed(f"docker build of {image} failed: {output.read().decode(errors='replace')[-2000:]}")
    repository = image.split(":")[0]
    label = f"label={LAYERS_LABEL}={','.join(layers)}"
    found = docker("image", "ls", "--filter", label, "--format", "{{.Repository}}:{{.Tag}}")
    stale = [ref for ref in found.stdout.split() if ref.split(":")[0] not in (repository, "<none>")]
    if stale:
        docker("image", "rm", *sorted(stale, reverse=True))  # :rapid-x86_64 (SAM's, built on ours) first


def invoke_command(
    function: str, event: Path, env_vars: Path, network: str | None, parameters: Sequence[str] = (), *extra: str
) -> list[str]:
    """`sam local invoke FUNCTION -e EVENT` as the project runs it: on the function's baked image, with the built
    template without layers. If that cannot be had, the plain invocation, said on stderr (SAM then rebuilds the
    function's image, as on every plain invoke)."""
    try:
        baked = invoke_image(function)
    except (BakeFailed, OSError) as error:
        print(f"[sam_local] {error}; invoking {function} with the template's layers instead", file=sys.stderr)
        return local_command("invoke", env_vars, network, parameters, function, "-e", str(event), *extra)
    image = ["--invoke-image", f"{function}={baked.image}"] if baked.layers else []
    template = ["-t", os.path.relpath(baked.template, REPO)]
    return local_command("invoke", env_vars, network, parameters, function, "-e", str(event), *template, *image, *extra)


@dataclass(frozen=True)
class Invocation:
    answer: dict[str, Any]
    wall_seconds: float
    report: dict[str, float]  # the local runtime's REPORT line: init_ms, duration_ms (may be empty)
    stderr: str

    @property
    def failed(self) -> bool:
        """The function raised: the runtime answers with errorType/errorMessage instead of the result."""
        return "errorType" in self.answer


class InvokeFailed(RuntimeError):
    pass


REPORT = re.compile(r"REPORT RequestId: \S+\s+(?:Init Duration: ([\d.]+) ms\s+)?Duration: ([\d.]+) ms")


def parse_report(stderr: str) -> dict[str, float]:
    found = REPORT.findall(stderr)
    if not found:
        return {}
    init, duration = found[-1]
    return {"init_ms": float(init or 0), "duration_ms": float(duration)}


def invoke(
    function: str,
    event: Path,
    env_vars: Path,
    *,
    aws_endpoint: str,
    network: str | None = None,
    timeout: float = 400,
    parameters: Sequence[str] = (),
) -> Invocation:
    """`sam local invoke`: the function's JSON answer (its last line of stdout), the wall time and the runtime's
    REPORT. ``parameters`` are template parameter overrides such as ``SnapStart=Enabled``."""
    started = time.perf_counter()
    result = subprocess.run(
        invoke_command(function, event, env_vars, network, parameters),
        cwd=REPO,
        env=sam_env(aws_endpoint),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - started
    stderr = result.stderr.decode(errors="replace")
    lines = [line for line in result.stdout.decode().splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        raise InvokeFailed(f"sam local invoke {function} failed ({result.returncode}):\n{stderr[-3000:]}")
    return Invocation(json.loads(lines[-1]), wall, parse_report(stderr), stderr)


def spawn_start_api(
    env_vars: Path, *, aws_endpoint: str, port: int, network: str, log: Path, detach: bool = False
) -> subprocess.Popen[bytes]:
    """`sam local start-api` with warm containers, attached to ``network``. LAZY: a function's container starts
    on its first request and stays; EAGER would also start one for the TrainFunction (no route reaches it) and
    build its 200 MiB image context before the API answers at all."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = local_command(
        "start-api", env_vars, network, (), "--warm-containers", "LAZY", "--host", "127.0.0.1", "--port", str(port)
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=sam_env(aws_endpoint),
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
        )


@dataclass(frozen=True)
class LocalApi:
    url: str
    network: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def start_api(
    env_vars: Path, *, aws_endpoint: str, port: int | None = None, ready_seconds: float = 180
) -> Iterator[LocalApi]:
    """`sam local start-api` for the duration of a block; yields once /health answers."""
    port = port or free_port()
    with docker_network() as network:
        process = spawn_start_api(
            env_vars, aws_endpoint=aws_endpoint, port=port, network=network, log=STATE / f"start-api-{port}.log"
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(url + "/health", ready_seconds, process, request_seconds=60)
            yield LocalApi(url, network, process)
        finally:
            stop(process, seconds=60)


def create_network(name: str) -> str:
    subprocess.run(["docker", "network", "create", name], capture_output=True, check=True)
    return name


def containers(network: str) -> set[str]:
    """Ids of the containers (running or not) attached to ``network``."""
    found = subprocess.run(
        ["docker", "ps", "--all", "--quiet", "--filter", f"network={network}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return set(found.stdout.split())


def remove_network(name: str) -> None:
    """Remove the containers on ``name``, then the network. Neither SIGTERM nor SIGINT makes SAM CLI remove its
    warm containers, so this is where they go."""
    left = containers(name)
    if left:
        subprocess.run(["docker", "rm", "--force", *sorted(left)], capture_output=True, check=False)
    subprocess.run(["docker", "network", "rm", name], capture_output=True, check=False)


def network_exists(name: str) -> bool:
    found = subprocess.run(["docker", "network", "inspect", name], capture_output=True, check=False)
    return found.returncode == 0


@contextlib.contextmanager
def docker_network(prefix: str = "bikecast") -> Iterator[str]:
    """A Docker network of our own for the containers SAM CLI starts in a block; they are removed with it."""
    name = create_network(f"{prefix}-{uuid.uuid4().hex[:12]}")
    try:
        yield name
    finally:
        remove_network(name)
