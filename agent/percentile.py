"""The project's one percentile definition, used by the session record's latency p50/p95 (agent/collector.py), the
demo report (local/demo/run.py) and every benchmark.

Linear interpolation between the two nearest ranks: `statistics.quantiles(samples, n=100, method="inclusive")` and
numpy's default, written out because those need two samples and the record must give a p95 for a call with one
measured turn (then every percentile is that sample).
"""

from __future__ import annotations

from collections.abc import Sequence


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The `fraction` (0 to 1) quantile of `samples`; ValueError when there are none."""
    if not samples:
        raise ValueError("a percentile of no samples")
    if not 0 <= fraction <= 1:
        raise ValueError(f"percentile fraction {fraction} is outside 0..1")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
