"""Are an upload's labels plausible? Checked before anything is trained on them.

The data set's own invariants (e.g. cnt = casual + registered) and future dates are checked while the file is
read (``data.parse``). Here: the labels must not collapse to a constant, and they are compared with what the
serving model, which summarises the history already accepted, expects for the very same rows (their weather,
their calendar):

- the median ratio of label to expectation must stay within ``label_shift_limit`` either way: all counts divided
  by 10, or a column of another quantity pasted in, moves it by 5-10x; real new data moved it by ~1.1x;
- no row may exceed ``label_spike_limit`` times its expectation: a typo such as 99999 for 6140 does; real rows
  stayed under 1.5x. Falls are not refused: a storm or an outage does empty the streets (Hurricane Sandy: 22
  rentals on 2012-10-29).

Ratios are taken with a small offset (5% of the median expectation) so that rows with small counts (night hours)
are not judged by a ratio of two small numbers.
"""

from __future__ import annotations

import numpy as np

from bikecast.serving import ServingModel
from training.data import Labelled

MIN_ROWS_FOR_LEVEL = 7  # fewer rows say little about a level; a single stormy day is not a unit error


def problems(upload: Labelled, current: ServingModel | None, shift_limit: float, spike_limit: float) -> list[str]:
    found = []
    target = upload.target
    name = upload.spec.data.target
    if len(target) >= MIN_ROWS_FOR_LEVEL and np.unique(target).size == 1:
        found.append(f"all {len(target)} {name} values are {target[0]:g}: labels that never vary are not data")
    if current is None:
        return found  # nothing accepted yet to compare with
    expected = np.clip(current.predict(upload.batch), 0, None)
    offset = max(1.0, 0.05 * float(np.median(expected)))
    ratio = (target + offset) / (expected + offset)
    if len(target) >= MIN_ROWS_FOR_LEVEL:
        level = float(np.median(ratio))
        if not 1 / shift_limit <= level <= shift_limit:
            found.append(
                f"{name} is {level:.2f} times what the serving model ({current.version}) expects for these rows, "
                f"by the median; beyond the {shift_limit:g}x allowed either way: a unit or scale error, or another "
                "column?"
            )
    for row in np.flatnonzero(ratio > spike_limit)[:100]:
        found.append(
            f"line {upload.lines[row]}: {name} {target[row]:g} is {ratio[row]:.1f} times the {expected[row]:.0f} the "
            f"serving model expects for this row; more than {spike_limit:g}x: a typo?"
        )
    return found
