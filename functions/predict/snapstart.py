"""SnapStart runtime hooks of the predict function (template parameter SnapStart=Enabled).

With SnapStart, Lambda initialises a published version once (imports, model loaded), snapshots the memory, and
starts new execution environments by restoring that snapshot. Whatever the snapshot holds was true when the version
was published, and a restore may come days later, in many environments at once:

- the model: the pointer may have moved since publication. A restored function checks it at once (one conditional
  GET when it has not moved) instead of serving the snapshot's model for up to MODEL_REFRESH_SECONDS;
- the S3 client's pooled connections belong to the environment that was snapshotted: they are dropped, and the
  client opens its own (credentials are the runtime's to refresh under SnapStart);
- the state of `random` (seeded from os.urandom at import) would be the same in every restored environment, and
  with it the retry jitter of every S3 client: it is seeded again.

The runtime runs the hooks registered with snapshot_restore_py (shipped in Lambda's Python runtimes; awslambdaric
brings it to the local image and the tests): before-snapshot hooks in reverse order of registration, after-restore
hooks in order (awslambdaric.lambda_runtime_hooks_runner). Restore time shows in the logs as `Restore Duration` on
the REPORT line of the first invocation; the hooks' time is part of it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from snapshot_restore_py import register_after_restore  # type: ignore[import-untyped]


def on_restore(hook: Callable[[], None]) -> Callable[[], None]:
    """Decorator: run ``hook`` in each execution environment restored from a snapshot, after re-seeding `random`."""

    def after_restore() -> None:
        random.seed()  # from os.urandom, which differs per environment
        hook()

    register_after_restore(after_restore)
    return hook
