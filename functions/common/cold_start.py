"""No garbage collection during Lambda's init: imported first by each function's package (functions/<name>/__init__.py).

Kept as a measured exception to using the runtime plainly. Init allocates some 125,000 tracked objects that live as
long as the container (modules, classes, models, clients); the collector, triggered every 700 allocations, walks
them about 135 times (once in full) and finds under 0.5 MB of garbage. Without the pause, a handler's cold import
took 1.20x (score_lead), 1.12x (salesforce_sync), 1.14x (amplitude_events) and 1.05x (hot_lead_alert) the CPU time
(2026-12-05, this project's 2-core machine, benchmarks/handlers_bench.py's Lambda-like CPython 3.12 venv: medians of
30 fresh interpreters per side, the two sides alternating; docs/performance.md): over the 10% for which the project
keeps such a trick.

Only during Lambda's init (the runtime names the handler in `_HANDLER`; the artifact holds one function, so that is
the handler being imported). The handler module calls `init_done()` last, which freezes what init built (moved out
of the collector's reach for good, so later collections do not walk it either: that work is not deferred to the
first invocation) and turns collection back on. The price is that init's own garbage (those few hundred KB) is never
reclaimed. Anywhere else (tests, the local stack, tools) nothing changes.
"""

from __future__ import annotations

import gc
import os

_collection_paused = os.environ.get("_HANDLER", "").startswith("functions.") and gc.isenabled()
if _collection_paused:
    gc.disable()


def init_done() -> None:
    """The end of the function's init (last line of its handler module): collection back on, see above."""
    global _collection_paused
    if _collection_paused:
        _collection_paused = False
        gc.freeze()
        gc.enable()
