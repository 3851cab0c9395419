"""The model artifact: bytes of the fitted pipeline, checked against the manifest before they are unpickled.

Unpickling runs code, so a model file is loaded only when its sha256 equals the one in the manifest written by
training, from the configured bucket and prefix that only the training role can write.
"""

from __future__ import annotations

import hashlib
import io
import platform
from typing import Any


class ArtifactInvalid(Exception):
    """The model file does not match its manifest or this runtime cannot load it."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def library_versions() -> dict[str, str]:
    import joblib
    import numpy
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "joblib": joblib.__version__,
    }


def dump_model(pipeline: Any) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    return buffer.getvalue()


def verify(data: bytes, expected_sha256: str, what: str) -> None:
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise ArtifactInvalid(f"{what}: sha256 {actual[:12]}… does not match the manifest's {expected_sha256[:12]}…")


def check_compatible(manifest: dict[str, Any]) -> None:
    """scikit-learn pickles are only guaranteed to load on the same minor version that wrote them.
    (Read from the package metadata: importing scikit-learn costs a second, and the fast path never needs it.)"""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("scikit-learn")
    except PackageNotFoundError:
        raise ArtifactInvalid(
            "this version has no usable tree file, and this function has no scikit-learn to load its joblib "
            "pipeline (deploy with JoblibFallback=Enabled)"
        ) from None
    trained_with = str(manifest.get("libraries", {}).get("scikit-learn", ""))
    if _minor(trained_with) != _minor(installed):
        raise ArtifactInvalid(
            f"model was trained with scikit-learn {trained_with or 'unknown'}, this runtime has {installed}"
        )


def load_model(data: bytes, manifest: dict[str, Any]) -> Any:
    try:
        expected = str(manifest["model"]["sha256"])
    except (KeyError, TypeError):
        raise ArtifactInvalid("manifest has no model.sha256") from None
    verify(data, expected, "model file")
    check_compatible(manifest)
    import joblib

    return joblib.load(io.BytesIO(data))


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])
