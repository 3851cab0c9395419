"""`sam local invoke` as the project runs it: which layers a function gets, the built template without them, and
the fingerprint that names the image they are baked into (local-emulation/sam_local.py, sam_template.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sam_local
import sam_template

from tests.conftest import REPO


def a_template() -> dict[str, Any]:
    layer = {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "ALayer"}}
    return {
        "Globals": {"Function": {"Runtime": "python3.13", "Layers": [{"Ref": "GlobalLayer"}]}},
        "Resources": {
            "GlobalLayer": layer | {"Properties": {"ContentUri": "GlobalLayer"}},
            "ALayer": layer,
            "BLayer": layer | {"Properties": {"ContentUri": "BLayer"}},
            "OneFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "OneFunction", "Layers": [{"Ref": "BLayer"}, {"Ref": "ALayer"}]},
            },
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${AWS::StackName}"}}},
        },
    }


def test_the_template_s_functions_get_their_layers_in_order() -> None:
    template = sam_template.load(REPO / "template.yaml")
    assert sam_template.function_layers(template, "PredictFunction") == ["DepsLayer", "SharedLayer"]
    assert sam_template.function_layers(template, "TrainFunction") == ["DepsLayer", "SklearnLayer", "SharedLayer"]


def test_global_layers_come_first_as_sam_merges_them() -> None:
    assert sam_template.function_layers(a_template(), "OneFunction") == ["GlobalLayer", "BLayer", "ALayer"]
    assert sam_template.layer_dir(a_template(), "BLayer", Path("/build")) == Path("/build/BLayer")


@pytest.mark.parametrize("layer", ["arn:aws:lambda:us-east-1:123456789012:layer:x:1", {"Ref": "Bucket"}])
def test_a_layer_that_is_not_in_the_build_cannot_be_baked(layer: Any) -> None:
    template = a_template()
    template["Resources"]["OneFunction"]["Properties"]["Layers"].append(layer)
    with pytest.raises(ValueError, match="not a Ref to an AWS::Serverless::LayerVersion"):
        sam_template.function_layers(template, "OneFunction")
    with pytest.raises(ValueError, match="not an AWS::Serverless::Function"):
        sam_template.function_layers(template, "Bucket")


def test_the_invoke_template_is_the_built_one_without_layers(tmp_path: Path) -> None:
    template = a_template()
    stripped = sam_template.without_layers(template)
    assert "Layers" not in stripped["Globals"]["Function"]
    assert "Layers" not in stripped["Resources"]["OneFunction"]["Properties"]
    # Everything else as it was (the layer resources too), and the original untouched.
    template["Globals"]["Function"].pop("Layers")
    template["Resources"]["OneFunction"]["Properties"].pop("Layers")
    assert stripped == template
    assert a_template()["Resources"]["OneFunction"]["Properties"]["Layers"]
    path = tmp_path / "template.yaml"
    path.write_text(sam_template.dump(stripped))
    assert sam_template.load(path) == stripped


@pytest.fixture
def layers(tmp_path: Path) -> dict[str, Path]:
    found = {}
    for name in ("DepsLayer", "SharedLayer"):
        package = tmp_path / name / "python" / name.lower()
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(f"NAME = {name!r}\n")
        found[name] = tmp_path / name
    return found


def test_the_fingerprint_changes_with_a_layer_file_the_order_and_the_base_image(layers: dict[str, Path]) -> None:
    before = sam_local.layers_fingerprint(layers, "sha256:base")
    assert sam_local.layers_fingerprint(layers, "sha256:base") == before
    assert sam_local.layers_fingerprint(layers, "sha256:other") != before
    assert sam_local.layers_fingerprint(dict(reversed(layers.items())), "sha256:base") != before

    changed = layers["SharedLayer"] / "python" / "sharedlayer" / "__init__.py"
    stat = changed.stat()
    changed.write_text(changed.read_text().upper())  # the same size
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert sam_local.layers_fingerprint(layers, "sha256:base") == before, "path, size and mtime only"
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert sam_local.layers_fingerprint(layers, "sha256:base") != before
    (changed.parent / "new.py").write_text("")
    assert sam_local.layers_fingerprint(layers, "sha256:base") != before


def test_without_a_build_the_invoke_is_the_plain_one_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sam_local, "BUILD_DIR", tmp_path)
    command = sam_local.invoke_command("OneFunction", Path("event.json"), Path("env.json"), "net")
    assert command == sam_local.local_command("invoke", Path("env.json"), "net", (), "OneFunction", "-e", "event.json")
    assert "no built template" in capsys.readouterr().err

    (tmp_path / "template.yaml").write_text(sam_template.dump(a_template()))
    with pytest.raises(sam_local.BakeFailed, match="layer folder missing"):
        sam_local.invoke_image("OneFunction")
