from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import cli


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in ("--data", "--bucket", "--prefix", "--sha256", "--no-publish", "--model", "--promote"):
        assert option in out


def test_train_without_publishing_writes_a_complete_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["train", "--no-publish", "--output-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    version = captured.out.strip()
    assert "evaluating on the chronological holdout" in captured.err  # progress goes to stderr
    folder = tmp_path / "daily" / version
    assert {"holdout.png", "manifest.json", "model.joblib", "model.trees.npz", "model_card.md"} <= {
        p.name for p in folder.iterdir()
    }
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["version"] == version
    assert manifest["model_name"] == "daily"
    assert (folder / "holdout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| chronological" in (folder / "model_card.md").read_text()


def test_bad_data_exits_2_with_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("dteday,cnt\n2011-01-01,5\n")
    assert cli.main(["train", "--no-publish", "--data", str(bad)]) == 2
    assert "rejected" in capsys.readouterr().err


def test_an_unknown_model_names_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["versions", "--model", "weekly"]) == 1
    assert "no model named 'weekly'; this deployment has daily, hourly" in capsys.readouterr().err


def test_promote_needs_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["promote", "v1"])
    assert "--reason" in capsys.readouterr().err
