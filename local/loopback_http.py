"""The HTTP server both emulators run on: loopback only, one thread per connection, keep-alive connections
tracked so a stopped emulator stops answering. Standard library only (no framework: nothing to install, and
the emulators only ever face our own clients on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_log = logging.getLogger("local.loopback_http")


class LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], socket_timeout_s: float, name: str) -> None:
        self.name = name
        self.socket_timeout_s = socket_timeout_s
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), handler)

    def wrap(self, request: socket.socket, client_address: Any) -> socket.socket | None:
        """The connection to serve on (a TLS server wraps it here); None drops the client."""
        return request

    def finish_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        if not isinstance(request, socket.socket):
            raise TypeError("a TCP server only gets stream sockets")
        request.settimeout(self.socket_timeout_s)
        # Headers and body are separate writes; with Nagle on, the body waits for the client's delayed ACK (40 ms).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = self.wrap(request, client_address)
        if connection is None:
            return
        with self._open_lock:
            self._open.add(connection)
        try:
            super().finish_request(connection, client_address)
        finally:
            with self._open_lock:
                self._open.discard(connection)
            if connection is not request:
                connection.close()  # the wrapper; socketserver closes the raw socket itself

    def close_open_connections(self) -> None:
        """Drop kept-alive connections so a stopped emulator stops answering, not just stops accepting."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up (the point of delay_next) make writes fail; that is not an error here.
        _log.debug("%s: error serving %s", self.name, client_address, exc_info=True)
