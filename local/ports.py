"""A free TCP port on the loopback interface: the one helper the local stack, the tests and the benchmarks use."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it): for a server to bind, or, left alone, an address that
    refuses every connection (the fault tests' unreachable S3). Another process may take it before it is bound; a
    bind would then fail loudly."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
