"""bikecast training and model operations.

python -m training train       train on a file, evaluate, publish; promote if it passes the quality gate
python -m training upload F    put a CSV under the bucket's training-data prefix (on AWS this triggers retraining)
python -m training retrain K   run what the S3-triggered TrainFunction runs for the upload at key K
python -m training versions    list model versions with their metrics; * marks the current one
python -m training promote V   make version V current
python -m training rollback    go back to the version that was current before
python -m training drift       show the last drift report
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bikecast.registry import ModelRegistry
from bikecast.store import S3Store, StoreError
from training import data, dataset, drift, promotion, publish, retrain

DEFAULT_BUCKET = os.environ.get("MODEL_BUCKET", "bikecast-models-local")
DEFAULT_PREFIX = os.environ.get("MODEL_PREFIX", "models/")


class Progress:
    """Timestamped progress lines on stderr, so stdout stays clean for results."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bucket", default=DEFAULT_BUCKET, help="model bucket (default: %(default)s)")
    common.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix of models (default: %(default)s)")
    gate = argparse.ArgumentParser(add_help=False)
    gate.add_argument(
        "--gate-tolerance",
        type=float,
        default=promotion.GateSettings.tolerance,
        help="promote a candidate at most this much worse in RMSE (default: %(default)s)",
    )
    gate.add_argument(
        "--gate-holdout-days",
        type=int,
        default=promotion.GateSettings.holdout_days,
        help="most recent days the gate compares on (default: %(default)s)",
    )
    gate.add_argument(
        "--joblib-fallback",
        action="store_true",
        help="the predict function is deployed with JoblibFallback=Enabled: a version without a tree file may be "
        "promoted (default: it is published but not promoted)",
    )
    commands = root.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", parents=[common, gate], help="train, evaluate and publish a model artifact")
    train.add_argument(
        "--data",
        default=str(data.DEFAULT_DATA),
        help="day.csv-shaped training data: a path or s3://bucket/key (default: %(default)s)",
    )
    train.add_argument("--sha256", help="expected sha256 of the data (default: from a README.md beside the file)")
    train.add_argument(
        "--output-dir",
        type=Path,
        default=Path("build/models"),
        help="also keep a local copy of the artifact here (default: %(default)s)",
    )
    train.add_argument("--no-publish", action="store_true", help="build the artifact locally only")
    train.add_argument("--create-bucket", action="store_true", help="create the bucket if missing (local emulation)")

    upload = commands.add_parser("upload", parents=[common], help="upload a CSV as new training data")
    upload.add_argument("file", type=Path)
    upload.add_argument("--key", help=f"object key (default: {dataset.TRAINING_PREFIX}<file name>)")

    again = commands.add_parser("retrain", parents=[common, gate], help="retrain for an upload, as the trigger does")
    again.add_argument("key", help=f"key of the uploaded CSV, under {dataset.TRAINING_PREFIX}")
    again.add_argument(
        "--drift-threshold",
        type=float,
        default=drift.DriftSettings.threshold,
        help="flag drift when actual MAE exceeds the promised one by this factor (default: %(default)s)",
    )

    commands.add_parser("versions", parents=[common], help="list versions, metrics and the current one")
    promote = commands.add_parser("promote", parents=[common], help="make a version current")
    promote.add_argument("version")
    commands.add_parser("rollback", parents=[common], help="go back to the previously current version")
    commands.add_parser("drift", parents=[common], help="show the last drift report")
    return root


def registry_for(args: argparse.Namespace) -> ModelRegistry:
    return ModelRegistry(S3Store(args.bucket), args.prefix)


def gate_settings(args: argparse.Namespace) -> promotion.GateSettings:
    return promotion.GateSettings(
        holdout_days=args.gate_holdout_days, tolerance=args.gate_tolerance, joblib_fallback=args.joblib_fallback
    )


def train(args: argparse.Namespace) -> int:
    progress = Progress()
    progress(f"reading {args.data}")
    training_data = data.load(args.data, args.sha256)
    progress(f"{len(training_data.rows)} valid rows, sha256 {training_data.sha256[:16]}…")
    built = publish.build(training_data, progress)
    local = built.write_to(args.output_dir)
    progress(f"artifact written to {local}")
    if not args.no_publish:
        registry = registry_for(args)
        if args.create_bucket and registry.store.ensure_bucket():
            progress(f"created bucket {args.bucket}")
        progress(f"publishing to s3://{args.bucket}/{args.prefix}")
        promotion.publish_gated(built, training_data, registry, gate_settings(args), progress)
    print(built.version)
    return 0


def upload(args: argparse.Namespace) -> int:
    key = args.key or dataset.TRAINING_PREFIX + args.file.name
    S3Store(args.bucket).put_new(key, args.file.read_bytes(), "text/csv")
    print(f"s3://{args.bucket}/{key}")
    return 0


def retrain_upload(args: argparse.Namespace) -> int:
    settings = retrain.RetrainSettings(gate=gate_settings(args), drift=drift.DriftSettings(args.drift_threshold))
    registry = registry_for(args)
    outcome = retrain.on_upload(registry.store, registry, args.key, settings, Progress())
    print(json.dumps(outcome, indent=2, default=str))
    return 2 if outcome["status"] == "rejected" else 0


def versions(args: argparse.Namespace) -> int:
    rows = promotion.version_table(registry_for(args))
    print(f"  {'version':34} {'created':25} {'rows':>5} {'chrono RMSE':>11} {'gate RMSE':>9}  gate")
    for row in rows:
        mark = "*" if row["current"] else " "
        print(
            f"{mark} {row['version']:34} {row['created_at'] or '':25} {row['rows'] or '':>5} "
            f"{row['chrono_rmse'] or '':>11} {row['gate_rmse'] or '':>9}  {row['gate']}"
        )
    return 0


def promote_version(args: argparse.Namespace) -> int:
    promotion.promote(registry_for(args), args.version)
    print(f"current model is now {args.version}")
    return 0


def rollback(args: argparse.Namespace) -> int:
    print(f"rolled back; current model is now {promotion.rollback(registry_for(args))}")
    return 0


def show_drift(args: argparse.Namespace) -> int:
    report = drift.latest(S3Store(args.bucket))
    if report is None:
        print("no drift report yet", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


COMMANDS = {
    "train": train,
    "upload": upload,
    "retrain": retrain_upload,
    "versions": versions,
    "promote": promote_version,
    "rollback": rollback,
    "drift": show_drift,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except data.DataRejected as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, StoreError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
