"""Are an upload's labels plausible? Checked before anything is trained on them.

The data set's own invariants (e.g. a total that must equal the sum of its parts) and future dates are checked
while the file is read (``data.parse``). Here: the labels must not collapse to a constant, and they are compared
with what the serving model, which summarises the history already accepted, expects for the very same rows (their
own inputs), in the model's output space (log counts for a model of counts) and in units of the serving model's
typical error on its holdout (``residual_scale``), so that one rule fits any model:

- by the median, the labels may differ from the expectations by at most ``label_shift_limit`` typical errors
  either way: all counts divided by 10, or another column pasted in, moves them by 10-30; real new data by ~1;
- no row may exceed its expectation by more than ``label_spike_limit`` typical errors: a typo such as 99999 for
  6140 does by ~20; real rows stayed under ~4. Falls are not refused: a storm or an outage does empty the
  streets (Hurricane Sandy: 22 rentals on 2012-10-29).
"""

from __future__ import annotations

import numpy as np

from bikecast.serving import ServingModel
from training.data import Labelled
from training.fit import to_raw

MIN_ROWS_FOR_LEVEL = 7  # fewer rows say little about a level; a single stormy day is not a unit error


def problems(upload: Labelled, current: ServingModel | None, shift_limit: float, spike_limit: float) -> list[str]:
    found = []
    target = upload.target
    name = upload.spec.data.target
    if len(target) >= MIN_ROWS_FOR_LEVEL and np.unique(target).size == 1:
        found.append(f"all {len(target)} {name} values are {target[0]:g}: labels that never vary are not data")
    if current is None:
        return found  # nothing accepted yet to compare with
    scale = current.residual_scale
    if scale is None:
        return [*found]  # a version published before it recorded its typical error: nothing to measure against
    raw = current.scorer.raw(current.matrix(upload.batch))
    distance = (to_raw(target, current.scorer.transform) - raw) / scale
    expected = current.scorer.values(raw)
    if len(target) >= MIN_ROWS_FOR_LEVEL:
        level = float(np.median(distance))
        if abs(level) > shift_limit:
            ratio = float(np.median(target) / max(np.median(expected), 1e-9))
            found.append(
                f"{name} differs from what the serving model ({current.version}) expects for these rows by "
                f"{level:+.1f} typical errors, by the median (median {np.median(target):g} against "
                f"{np.median(expected):.0f}, {ratio:.2f}x); more than {shift_limit:g} either way: a unit or scale "
                "error, or another column?"
            )
    for row in np.flatnonzero(distance > spike_limit)[:100]:
        found.append(
            f"line {upload.lines[row]}: {name} {target[row]:g} is {distance[row]:.1f} typical errors above the "
            f"{expected[row]:.0f} the serving model expects for this row; more than {spike_limit:g}: a typo?"
        )
    return found
