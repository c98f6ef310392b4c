"""split_brain's judge looks each split sample up in the merged tolerated windows (bisect)."""

import math
import random

from harness.checkers.split_brain import tolerated_union


def covered(starts, ends, t):
    from harness.checkers.split_brain import _covered

    return _covered(starts, ends, t)


def test_union_merges_overlapping_and_touching_windows_and_drops_empty_ones():
    starts, ends = tolerated_union([(5.0, 7.0), (1.0, 3.0), (2.0, 4.0), (4.0, 4.5), (9.0, 9.0), (8.0, math.nan), (10.0, math.inf)])
    assert starts == [1.0, 5.0, 10.0] and ends == [4.5, 7.0, math.inf]


def test_lookup_is_the_any_of_the_half_open_windows():
    rng = random.Random(7)
    for _ in range(300):
        iv = []
        for _ in range(rng.randint(0, 12)):
            a = rng.choice((rng.uniform(0, 50), float(rng.randint(0, 50))))
            b = rng.choice((a + rng.uniform(-2, 10), float(rng.randint(0, 60)), math.inf, math.nan))
            iv.append((a, b))
        starts, ends = tolerated_union(iv)
        times = [rng.uniform(-1, 61) for _ in range(30)] + [a for a, _ in iv] + [b for _, b in iv if b == b]
        for t in times:
            assert covered(starts, ends, t) == any(a <= t < b for a, b in iv), (iv, t)
