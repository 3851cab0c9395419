"""The model artifact's bytes: checksums, and the libraries that wrote it.

A file is used only when its sha256 equals the one in the manifest written with it, from the configured bucket
and prefix that only the training role can write. The predict function reads only data (the tree file, loaded
with ``numpy.load(allow_pickle=False)``), never a pickle.
"""

from __future__ import annotations

import hashlib
import io
import platform
from typing import Any


class ArtifactInvalid(Exception):
    """A file does not match its manifest."""


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


def dump_model(model: Any) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def verify(data: bytes, expected_sha256: str, what: str) -> None:
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise ArtifactInvalid(f"{what}: sha256 {actual[:12]}… does not match the manifest's {expected_sha256[:12]}…")
