from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import sam_local

from tests.conftest import require


def docker_ready() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def sam_built() -> Path:
    """`sam build` once per session (cached by SAM between runs)."""
    require(Path(sam_local.SAM).exists(), f"SAM CLI not installed at {sam_local.SAM} (make setup)")
    require(docker_ready(), "Docker engine not running (make emulation)")
    sam_local.build()
    return sam_local.REPO / ".aws-sam" / "build"


@pytest.fixture
def fake_aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """This process's boto3 talks to moto_server with fake credentials."""
    for name, value in sam_local.FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    return moto_url
