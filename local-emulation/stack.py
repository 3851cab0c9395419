"""The local stack: `make local` brings it up and leaves it running, `make down` stops what it started.

    moto_server (S3, SQS, STS) on MOTO_PORT ── bucket MODEL_BUCKET, its notification set from template.yaml's S3
        │                                       event: training-data/*.csv -> SQS queue
        ├── dispatcher.py: queue -> `sam local invoke TrainFunction` with the event moto produced, one at a time
        └── `sam local start-api` on API_PORT, warm containers, the predict function reading MODEL_BUCKET

Everything runs in the background, recorded in STATE/stack.json (pids, URLs, the Docker network whose containers
are the stack's). Local emulation runs the x86_64 build: SAM CLI runs the function in Docker on this machine's
architecture, whatever the template's Architecture parameter says.

    python local-emulation/stack.py up|down|status
    python local-emulation/stack.py invoke FUNCTION EVENT   # sam local invoke against the running stack
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sam_local
import sam_template

QUEUE = "bikecast-s3-events"


@dataclass(frozen=True)
class Config:
    state: Path
    bucket: str = "bikecast-models-local"
    moto_port: int = 5555
    api_port: int = 3000
    refresh_seconds: int = 5  # how often the warm predict container re-checks the pointer
    retry_delay: float = 2.0  # the dispatcher's wait before retrying a failed TrainFunction invocation
    retries: int = 2  # as Lambda's asynchronous invocation

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        return cls(
            state=sam_local.STATE / "stack",
            bucket=env.get("MODEL_BUCKET") or cls.bucket,
            moto_port=int(env.get("MOTO_PORT") or cls.moto_port),
            api_port=int(env.get("API_PORT") or cls.api_port),
            refresh_seconds=int(env.get("MODEL_REFRESH_SECONDS") or cls.refresh_seconds),
        )


@dataclass
class Stack:
    """What is running, as written to STATE/stack.json."""

    config: Config
    moto_url: str
    api_url: str
    network: str
    env_vars: Path
    queue_url: str = ""
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def file(self) -> Path:
        return self.config.state / "stack.json"

    def save(self) -> None:
        data = asdict(self)
        self.file.write_text(json.dumps(data, indent=2, default=str))

    @classmethod
    def load(cls, state: Path) -> Stack | None:
        path = state / "stack.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        saved = data.pop("config")
        config = Config(**(saved | {"state": Path(saved["state"])}))
        return cls(**(data | {"config": config, "env_vars": Path(data["env_vars"])}))

    def running(self) -> dict[str, bool]:
        alive = {}
        for name, pid in self.pids.items():
            try:
                os.kill(pid, 0)
                alive[name] = True
            except ProcessLookupError:
                alive[name] = False
        return alive


def aws_clients(endpoint: str) -> tuple[Any, Any]:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=sam_local.FAKE_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=sam_local.FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
        region_name=sam_local.FAKE_AWS["AWS_DEFAULT_REGION"],
    )
    return session.client("s3", endpoint_url=endpoint), session.client("sqs", endpoint_url=endpoint)


def cli_env(moto_url: str) -> dict[str, str]:
    """For `python -m training ...` against the stack's moto_server."""
    return {**os.environ, **sam_local.FAKE_AWS, "AWS_ENDPOINT_URL_S3": moto_url}


def has_model(s3: Any, bucket: str) -> bool:
    from bikecast.registry import ModelRegistry
    from bikecast.store import S3Store

    return ModelRegistry(S3Store(bucket, client=s3)).current() is not None


def train_default_model(stack: Stack) -> None:
    """The default model, trained on the default data and published (what `make demo` serves)."""
    bucket = stack.config.bucket
    subprocess.run(
        [sys.executable, "-m", "training", "train", "--bucket", bucket, "--create-bucket"],
        cwd=sam_local.REPO,
        env=cli_env(stack.moto_url),
        check=True,
    )


Seed = Callable[[Stack], None]


def notify_on_uploads(s3: Any, sqs: Any, bucket: str) -> str:
    """The bucket's S3 event notifications, as template.yaml configures them on AWS, sent to an SQS queue."""
    queue_url: str = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    triggers = sam_template.s3_triggers(sam_template.load())
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [t.queue_configuration(arn) for t in triggers]},
    )
    return queue_url


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def up(config: Config, seed: Seed = train_default_model, quiet: bool = False) -> Stack:
    """Start everything in the background; return once the API answers. On failure, stop what was started."""
    config.state.mkdir(parents=True, exist_ok=True)
    running = Stack.load(config.state)
    if running is not None:
        if running.pids and all(running.running().values()):
            return running
        down(config.state)  # a stack that half died: clean up before starting again
    for port, name in ((config.moto_port, "MOTO_PORT"), (config.api_port, "API_PORT")):
        if sam_local.port_in_use(port):
            raise RuntimeError(f"port {port} is taken ({name}); pick another, e.g. {name}={sam_local.free_port()}")
    # One network per state folder: its containers are this stack's, whoever else runs SAM CLI on the machine.
    network = "bikecast-stack-" + hashlib.sha256(str(config.state.resolve()).encode()).hexdigest()[:12]
    stack = Stack(
        config=config,
        moto_url=f"http://127.0.0.1:{config.moto_port}",
        api_url=f"http://127.0.0.1:{config.api_port}",
        network=network,
        env_vars=config.state / "env.json",
    )
    say = (lambda _: None) if quiet else step
    try:
        say(f"moto_server on {stack.moto_url} (S3, SQS, STS)")
        moto = sam_local.spawn_moto_server(config.moto_port, config.state / "moto.log", detach=True)
        stack.pids["moto_server"] = moto.pid
        stack.save()
        sam_local.wait_for(stack.moto_url + "/moto-api/", 30, moto)

        s3, sqs = aws_clients(stack.moto_url)
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=config.bucket)
        if not has_model(s3, config.bucket):
            say(f"no model in s3://{config.bucket}: training and publishing one")
            seed(stack)
        say("S3 event notifications from template.yaml -> SQS")
        stack.queue_url = notify_on_uploads(s3, sqs, config.bucket)

        say("sam build (cached)")
        sam_local.build()
        sam_local.env_file(config.bucket, stack.moto_url, stack.env_vars, refresh_seconds=config.refresh_seconds)
        if not sam_local.network_exists(network):
            sam_local.create_network(network)
        stack.save()

        say("upload trigger: dispatcher.py (SQS -> sam local invoke TrainFunction)")
        dispatcher = spawn_dispatcher(stack)
        stack.pids["dispatcher"] = dispatcher.pid
        stack.save()

        say(f"sam local start-api on {stack.api_url} (warm containers)")
        api = sam_local.spawn_start_api(
            stack.env_vars,
            aws_endpoint=stack.moto_url,
            port=config.api_port,
            network=network,
            log=config.state / "start-api.log",
            detach=True,
        )
        stack.pids["start_api"] = api.pid
        stack.save()
        sam_local.wait_for(stack.api_url + "/health", 180, api, request_seconds=60)
        for name, process in (("moto_server", moto), ("dispatcher", dispatcher), ("start-api", api)):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {config.state}/*.log")
    except BaseException:
        down(config.state)
        raise
    return stack


def spawn_dispatcher(stack: Stack) -> subprocess.Popen[bytes]:
    log = stack.config.state / "dispatcher.log"
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("dispatcher.py")),
                "--queue-url",
                stack.queue_url,
                "--aws-endpoint",
                stack.moto_url,
                "--env-vars",
                str(stack.env_vars),
                "--network",
                stack.network,
                "--state",
                str(stack.config.state),
                "--retry-delay",
                str(stack.config.retry_delay),
                "--retries",
                str(stack.config.retries),
            ],
            cwd=sam_local.REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def down(state: Path) -> bool:
    """Stop what `up` started, by the pids it recorded, and remove the containers on its network."""
    stack = Stack.load(state)
    if stack is None:
        return False
    # The API and the dispatcher first (they call moto_server), then moto_server.
    for name in ("start_api", "dispatcher", "moto_server"):
        if name in stack.pids and sam_local.stop_pid(stack.pids[name], seconds=30):
            print(f"stopped {name} (pid {stack.pids[name]})", flush=True)
    sam_local.remove_network(stack.network)
    stack.file.unlink()
    return True


def describe(stack: Stack) -> str:
    c = stack.config
    return f"""
bikecast local stack is up (`make down` stops it; logs in {c.state}/)
  API            {stack.api_url}      e.g. curl -s {stack.api_url}/health
  S3 (moto)      {stack.moto_url}     bucket s3://{c.bucket}
  retraining     an upload under training-data/*.csv runs the TrainFunction (log: {c.state}/dispatcher.log;
                 failures after {c.retries} retries: {c.state}/dead-letter/); the API re-checks the model every
                 {c.refresh_seconds} s
Point the aws CLI or boto3 at the emulated S3 (and SQS, STS):
  export AWS_ENDPOINT_URL={stack.moto_url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \\
         AWS_DEFAULT_REGION=us-east-1
  aws s3 cp "my data.csv" "s3://{c.bucket}/training-data/my data.csv"      # boto3.client("s3") reads the same
  .venv/bin/python -m training upload FILE --bucket {c.bucket}              # or this
  .venv/bin/python -m training versions --bucket {c.bucket}
Invoke a function by hand against this stack:
  make invoke FUNCTION=PredictFunction EVENT=events/makecalc-seed.json
"""


def invoke(stack: Stack, function: str, event: Path) -> int:
    """`sam local invoke` against the running stack; SAM's output as it comes, the function's answer on stdout."""
    command = sam_local.invoke_command(function, event, stack.env_vars, stack.network)
    program = Path(command[0])  # the command actually run, shown from the repo
    shown = [str(program.relative_to(sam_local.REPO)) if program.is_relative_to(sam_local.REPO) else command[0]]
    shown += command[1:]
    print(f"$ AWS_ENDPOINT_URL_STS={stack.moto_url} {shlex.join(shown)}", file=sys.stderr, flush=True)
    return subprocess.run(command, cwd=sam_local.REPO, env=sam_local.sam_env(stack.moto_url), check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the stack in the background (MOTO_PORT, API_PORT, MODEL_BUCKET)")
    commands.add_parser("down", help="stop what `up` started")
    commands.add_parser("status", help="what is running")
    invoke_parser = commands.add_parser("invoke", help="sam local invoke against the running stack")
    invoke_parser.add_argument("function")
    invoke_parser.add_argument("event", type=Path)
    args = parser.parse_args(argv)
    config = Config.from_env()
    if args.command == "up":
        started = time.monotonic()
        stack = up(config)
        print(describe(stack))
        print(f"(ready in {time.monotonic() - started:.0f} s)")
        return 0
    if args.command == "down":
        if not down(config.state):
            print("no local stack recorded in " + str(config.state))
        return 0
    recorded = Stack.load(config.state)
    if recorded is None or not all(recorded.running().values()):
        print("the local stack is not running: make local", file=sys.stderr)
        return 1
    if args.command == "status":
        print(describe(recorded))
        print(json.dumps(recorded.running()))
        with contextlib.suppress(OSError), urllib.request.urlopen(recorded.api_url + "/health", timeout=5) as health:
            print(health.read().decode())
        return 0
    return invoke(recorded, args.function, args.event)


if __name__ == "__main__":
    sys.exit(main())
