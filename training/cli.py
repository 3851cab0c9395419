"""Command line: ``python -m training train --help``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bikecast.registry import ModelRegistry
from bikecast.store import S3Store, StoreError
from training import data, publish

DEFAULT_BUCKET = os.environ.get("MODEL_BUCKET", "bikecast-models-local")
DEFAULT_PREFIX = os.environ.get("MODEL_PREFIX", "models/")


class Progress:
    """Timestamped progress lines on stderr, so stdout stays clean for results."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train, evaluate and publish a model artifact")
    train.add_argument(
        "--data",
        default=str(data.DEFAULT_DATA),
        help="day.csv-shaped training data: a path or s3://bucket/key (default: %(default)s)",
    )
    train.add_argument("--sha256", help="expected sha256 of the data (default: from a README.md beside the file)")
    train.add_argument("--bucket", default=DEFAULT_BUCKET, help="model bucket (default: %(default)s)")
    train.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix of models (default: %(default)s)")
    train.add_argument(
        "--output-dir",
        type=Path,
        default=Path("build/models"),
        help="also keep a local copy of the artifact here (default: %(default)s)",
    )
    train.add_argument("--no-publish", action="store_true", help="build the artifact locally only")
    train.add_argument("--create-bucket", action="store_true", help="create the bucket if missing (local emulation)")
    return root


def train(args: argparse.Namespace) -> int:
    progress = Progress()
    progress(f"reading {args.data}")
    training_data = data.load(args.data, args.sha256)
    progress(f"{len(training_data.rows)} valid rows, sha256 {training_data.sha256[:16]}…")
    built = publish.build(training_data, progress)
    local = built.write_to(args.output_dir)
    progress(f"artifact written to {local}")
    if not args.no_publish:
        store = S3Store(args.bucket)
        if args.create_bucket and store.ensure_bucket():
            progress(f"created bucket {args.bucket}")
        publish.publish(built, ModelRegistry(store, args.prefix), progress)
    print(built.version)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return train(args)
    except data.DataRejected as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
