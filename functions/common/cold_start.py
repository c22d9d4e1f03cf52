"""Imported first by each function's package (functions/<name>/__init__.py), before anything imports pydantic.

Powertools' batch utility checks at import whether pydantic is loaded and, if it is, builds the pydantic models of
SQS, Kinesis, DynamoDB-stream and Kafka records (and the CloudWatch Logs ones they use: about 30 ms of cold start)
for typing BatchProcessor's optional `model=`. These functions pass no model (records are data classes), so
importing the batch utility while pydantic is still unloaded skips building models nothing uses.

No garbage collection during Lambda's init (the runtime names the handler in `_HANDLER`; the artifact holds one
function, so that is the handler being imported). Init allocates some 125,000 tracked objects that live as long as
the container (modules, classes, models, clients); the collector, triggered every 700 allocations, walks them about
135 times (once in full) and finds under 0.5 MB of garbage: about 5% of the handler's cold import (about 100 M
instructions, measured under callgrind on CPython 3.12). The handler module calls `init_done()` last, which freezes
what init built (moved out of the collector's reach for good, so later collections do not walk it either: that
work is not deferred to the first invocation) and turns collection back on. The price is that init's own garbage
(those few hundred KB) is never reclaimed. Anywhere else (tests, the local stack, tools) nothing changes.
"""

from __future__ import annotations

import gc
import os

_collection_paused = os.environ.get("_HANDLER", "").startswith("functions.") and gc.isenabled()
if _collection_paused:
    gc.disable()

import aws_lambda_powertools.utilities.batch  # noqa: E402, F401  (for its import-time side effect, see above)


def init_done() -> None:
    """The end of the function's init (last line of its handler module): collection back on, see above."""
    global _collection_paused
    if _collection_paused:
        _collection_paused = False
        gc.freeze()
        gc.enable()
