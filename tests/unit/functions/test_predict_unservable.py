"""Only a model the function can serve ever serves: a tree file that does not fit the function's features, or is
not a finite, acyclic, shallow tree, is refused at load, with valid manifest and checksums; the last good model
keeps serving and /health says which version was refused and why; a cold start on it is a clean 503."""

from __future__ import annotations

import copy
import importlib
import io
import json
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from bikecast.artifact import sha256_hex
from bikecast.registry import ModelRegistry
from bikecast.store import S3Store
from bikecast.trees import TREES_FILE
from tests.conftest import BUCKET, FakeLambdaContext, load_event, put_in_place
from training import cli, publish

Arrays = dict[str, np.ndarray[Any, Any]]


@pytest.fixture
def registry(aws_env: None, powertools_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelRegistry]:
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield ModelRegistry(S3Store(BUCKET))


def arrays_of(artifact: publish.Artifact) -> Arrays:
    with np.load(io.BytesIO(artifact.files[TREES_FILE]), allow_pickle=False) as stored:
        return {name: stored[name].copy() for name in stored.files}


def npz(arrays: Arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def release_with(registry: ModelRegistry, built: publish.Artifact, version: str, trees: bytes, **serving: Any) -> None:
    """Publish ``version`` with another tree file and a manifest whose checksums all match it, then move the pointer
    (as a careless operator or a buggy trainer could)."""
    manifest = copy.deepcopy(built.manifest) | {"version": version}
    manifest["serving"] |= {"sha256": sha256_hex(trees), **serving}
    files = dict(built.files) | {TREES_FILE: trees}
    manifest["files"] = {name: sha256_hex(body) for name, body in files.items()}
    registry.publish(version, files, manifest)
    registry.store.put(registry.pointer_key, json.dumps({"version": version}).encode(), "application/json")


def twelve_features(a: Arrays) -> Arrays:
    a["feature"] = np.where(a["left"] == np.arange(a["left"].shape[1]), a["feature"], 11)
    return a


def nan_leaves(a: Arrays) -> Arrays:
    a["value"] = np.where(a["left"] == np.arange(a["left"].shape[1]), np.nan, a["value"])
    return a


def five_features(a: Arrays) -> Arrays:
    a["feature"] = a["feature"] % 5
    return a


def negative_feature(a: Arrays) -> Arrays:
    a["feature"][0, 0] = -1
    return a


def cycle(a: Arrays) -> Arrays:
    root_left = a["left"][0, 0]
    a["left"][0, root_left] = 0  # the root's left child points back at the root
    return a


def huge_leaf(a: Arrays) -> Arrays:
    a["value"] = np.where(a["left"] == np.arange(a["left"].shape[1]), 1e30, a["value"])
    return a


def infinite_threshold(a: Arrays) -> Arrays:
    a["threshold"][0, 0] = np.nan
    return a


def child_out_of_range(a: Arrays) -> Arrays:
    a["right"][0, 0] = 10_000
    return a


BROKEN: dict[str, tuple[Callable[[Arrays], Arrays], dict[str, Any]]] = {
    "tree file of a 12-feature model": (twelve_features, {}),
    "NaN leaves": (nan_leaves, {}),
    "5-feature tree declared as such": (five_features, {"features": ["a", "b", "c", "d", "e"], "n_features": 5}),
    "feature index -1": (negative_feature, {}),
    "a cycle": (cycle, {}),
    "a leaf of 1e30": (huge_leaf, {}),
    "NaN threshold": (infinite_threshold, {}),
    "child index out of range": (child_out_of_range, {}),
}


def ask(app: ModuleType, name: str) -> tuple[int, dict[str, Any], str | None]:
    response = app.lambda_handler(load_event(name), FakeLambdaContext())
    version = (response.get("multiValueHeaders") or {}).get("X-Model-Version", [None])[-1]
    return response["statusCode"], json.loads(response["body"]), version


def cold_start() -> ModuleType:
    sys.modules.pop("app", None)
    return importlib.import_module("app")


@pytest.mark.parametrize("case", list(BROKEN))
def test_an_unservable_version_is_refused_and_the_last_good_model_keeps_serving(
    registry: ModelRegistry, built_artifact: publish.Artifact, case: str
) -> None:
    put_in_place(built_artifact)
    app = cold_start()
    assert ask(app, "makecalc-seed")[0] == 200
    damage, serving = BROKEN[case]
    release_with(registry, built_artifact, "broken", npz(damage(arrays_of(built_artifact))), **serving)
    status, body, version = ask(app, "makecalc-seed")
    assert (status, version) == (200, built_artifact.version), (case, body)
    status, health, _ = ask(app, "health")
    assert status == 200
    assert health["model_version"] == built_artifact.version
    assert health["refused_version"] == "broken"
    assert health["refused_reason"], health

    cold = cold_start()  # a new container whose only choice is the broken version
    status, body, _ = ask(cold, "makecalc-seed")
    assert (status, body["error"]) == (503, "model_unavailable"), (case, body)
    status, health, _ = ask(cold, "health")
    assert (status, health["refused_version"]) == (503, "broken")


def test_promote_refuses_an_unservable_version_before_moving_the_pointer(
    registry: ModelRegistry, built_artifact: publish.Artifact, capsys: pytest.CaptureFixture[str]
) -> None:
    put_in_place(built_artifact)
    release_with(registry, built_artifact, "broken", npz(nan_leaves(arrays_of(built_artifact))))
    registry.move_pointer(built_artifact.version)  # back to the good one
    code = cli.main(["promote", "broken", "--bucket", BUCKET, "--reason", "testing the refusal"])
    assert code != 0
    assert "broken" in capsys.readouterr().err
    pointer = registry.current()
    assert pointer is not None
    assert pointer.version == built_artifact.version
