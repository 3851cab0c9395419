"""bikecast training and model operations. Every command takes --model NAME (default: the default model).

python -m training train       train on a file (default: the model's bundled data set), evaluate, publish;
                               promoted if no model serves yet (or with --promote)
python -m training upload F    put a CSV under the model's training-data prefix (on AWS this triggers retraining)
python -m training retrain K   run what the S3-triggered TrainFunction runs for the upload at key K
python -m training versions    list versions with their metrics and gate decisions; * marks the current one
python -m training promote V   make version V current (refused if it cannot serve), with --reason
python -m training rollback    go back to the version that was current before
python -m training drift       show the last drift report
python -m training uploads     what became of each upload (accepted, rejected, held) and why
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bikecast.registry import TRAINING_SUFFIX
from bikecast.store import StoreError
from training import data, drift, promotion, publish, retrain
from training.deployment import Deployment
from training.settings import TrainSettings


class Progress:
    """Timestamped progress lines on stderr, so stdout stays clean for results."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)


def parser(defaults: TrainSettings) -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bucket", default=defaults.bucket, help="model bucket (default: %(default)s)")
    common.add_argument("--prefix", default=defaults.prefix, help="key prefix of models (default: %(default)s)")
    common.add_argument("--model", default=None, help="which model (default: the default model, the first spec)")
    commands = root.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", parents=[common], help="train, evaluate and publish a model artifact")
    train.add_argument("--data", help="training data: a path or s3://bucket/key (default: the bundled data set)")
    train.add_argument("--sha256", help="expected sha256 of the data (default: from a README.md beside the file)")
    train.add_argument(
        "--output-dir",
        type=Path,
        default=Path("build/models"),
        help="also keep a local copy here (default: %(default)s)",
    )
    train.add_argument("--no-publish", action="store_true", help="build the artifact locally only")
    train.add_argument("--promote", metavar="REASON", help="promote it even if a model serves already, for REASON")
    train.add_argument("--create-bucket", action="store_true", help="create the bucket if missing (local emulation)")

    upload = commands.add_parser("upload", parents=[common], help="upload a CSV as new training data")
    upload.add_argument("file", type=Path)
    upload.add_argument("--key", help="object key (default: the model's training prefix + the file name)")

    again = commands.add_parser("retrain", parents=[common], help="retrain for an upload, as the trigger does")
    again.add_argument("key", help="key of the uploaded CSV")

    commands.add_parser("versions", parents=[common], help="list versions, metrics and the current one")
    promote = commands.add_parser("promote", parents=[common], help="make a version current")
    promote.add_argument("version")
    promote.add_argument("--reason", required=True, help="why: kept in the decision log")
    commands.add_parser("rollback", parents=[common], help="go back to the previously current version")
    commands.add_parser("drift", parents=[common], help="show the last drift report")
    commands.add_parser("uploads", parents=[common], help="what became of each upload, and why")
    return root


def deployment_for(args: argparse.Namespace, defaults: TrainSettings) -> Deployment:
    return Deployment(defaults.model_copy(update={"bucket": args.bucket, "prefix": args.prefix}))


def train(args: argparse.Namespace, deployment: Deployment) -> int:
    spec = deployment.spec(args.model)
    progress = Progress()
    source = args.data or str(data.bundled(spec))
    progress(f"reading {source} for the {spec.name} model")
    training_data = data.load(spec, source, args.sha256, deployment.limits)
    progress(f"{len(training_data)} valid rows, sha256 {training_data.sha256[:16]}…")
    built = publish.build(spec, training_data, progress)
    progress(f"artifact written to {built.write_to(args.output_dir)}")
    if not args.no_publish:
        if args.create_bucket and deployment.store.ensure_bucket():
            progress(f"created bucket {deployment.store.bucket}")
        pointer, current = promotion.current_model(deployment, spec.name)
        verdict = promotion.judge(deployment, spec.name, built, current, progress=progress)
        if args.promote and not verdict.promote and not promotion.unservable(built):
            verdict = promotion.Verdict(True, f"promoted by an operator: {args.promote}", verdict.checks)
        promotion.release(deployment, spec.name, built, verdict, pointer, progress)
    print(built.version)
    return 0


def upload(args: argparse.Namespace, deployment: Deployment) -> int:
    spec = deployment.spec(args.model)
    name = args.file.name
    if not name.endswith(TRAINING_SUFFIX) and name.lower().endswith(TRAINING_SUFFIX):
        name = name[: -len(TRAINING_SUFFIX)] + TRAINING_SUFFIX  # S3 notifications match the suffix exactly
    key = args.key or deployment.layout(spec.name).training + name
    if deployment.model_for_upload(key) != spec.name:
        print(f"error: {key} is not a training upload of the {spec.name} model", file=sys.stderr)
        return 2
    deployment.store.put_new(key, args.file.read_bytes(), "text/csv")
    print(f"s3://{deployment.store.bucket}/{key}")
    return 0


def retrain_upload(args: argparse.Namespace, deployment: Deployment) -> int:
    outcome = retrain.on_upload(deployment, args.key, Progress())
    print(json.dumps(outcome, indent=2, default=str))
    return 2 if outcome["status"] == "rejected" else 0


def versions(args: argparse.Namespace, deployment: Deployment) -> int:
    name = deployment.spec(args.model).name
    print(f"  {'version':34} {'created':25} {'rows':>6} {'chrono RMSE':>11}  gate")
    for row in promotion.version_table(deployment, name):
        mark = "*" if row["current"] else " "
        print(f"{mark} {row['version']:34} {row['created_at'] or '':25} {row['rows'] or '':>6} "
              f"{row['chrono_rmse'] or '':>11}  {row['gate']}")  # fmt: skip
    return 0


def promote_version(args: argparse.Namespace, deployment: Deployment) -> int:
    name = deployment.spec(args.model).name
    promotion.promote(deployment, name, args.version, args.reason)
    print(f"current {name} model is now {args.version}")
    return 0


def rollback(args: argparse.Namespace, deployment: Deployment) -> int:
    name = deployment.spec(args.model).name
    print(f"rolled back; current {name} model is now {promotion.rollback(deployment, name)}")
    return 0


def show_drift(args: argparse.Namespace, deployment: Deployment) -> int:
    name = deployment.spec(args.model).name
    report = drift.latest(deployment.store, deployment.layout(name).reports)
    if report is None:
        print("no drift report yet", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


def uploads(args: argparse.Namespace, deployment: Deployment) -> int:
    name = deployment.spec(args.model).name
    for record in sorted(deployment.registry(name).upload_records(), key=lambda r: str(r.get("at"))):
        status = str(record.get("status"))
        print(f"{record.get('at', ''):25} {status:8} {record.get('key')}: {record.get('reason', '')}")
    return 0


COMMANDS = {
    "train": train,
    "upload": upload,
    "retrain": retrain_upload,
    "versions": versions,
    "promote": promote_version,
    "rollback": rollback,
    "drift": show_drift,
    "uploads": uploads,
}


def main(argv: Sequence[str] | None = None) -> int:
    defaults = TrainSettings.from_env(os.environ)
    args = parser(defaults).parse_args(argv)
    try:
        return COMMANDS[args.command](args, deployment_for(args, defaults))
    except data.DataRejected as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, StoreError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
