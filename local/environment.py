"""Environment variables set for a while and put back: the one helper the local stack, the Lambda runner, its
worker processes, the demo, the tests and the benchmarks use.

`managed` names variables that belong to someone else (e.g. the other functions' settings): those not in
`values` are removed while the block runs, so a function never sees another one's configuration.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager


def apply_environment(values: Mapping[str, str], managed: Collection[str] = ()) -> dict[str, str | None]:
    """Set `values`, remove the `managed` variables that `values` leaves out; returns what was there before (None:
    unset), for `restore_environment`."""
    saved = {key: os.environ.get(key) for key in {*values, *managed}}
    for key in managed:
        if key not in values:
            os.environ.pop(key, None)
    os.environ.update(values)
    return saved


def restore_environment(saved: Mapping[str, str | None]) -> None:
    """Put back what `apply_environment` returned."""
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextmanager
def environment(values: Mapping[str, str], managed: Collection[str] = ()) -> Iterator[None]:
    """`values` set (and the other `managed` variables removed) for the duration of the block."""
    saved = apply_environment(values, managed)
    try:
        yield
    finally:
        restore_environment(saved)


@contextmanager
def loopback_without_proxy() -> Iterator[None]:
    """Proxy variables (set for package registries) must not catch loopback traffic to moto and the emulators."""
    values = {}
    for name in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(name, "")
        values[name] = ",".join(item for item in (current, "127.0.0.1,localhost") if item)
    with environment(values):
        yield
