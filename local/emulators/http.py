"""The HTTP server both emulators run on: loopback only, one thread per connection, keep-alive connections
tracked so a stopped emulator stops answering. Standard library only (no framework: nothing to install, and
the emulators only ever face our own clients on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

_log = logging.getLogger("local.emulators.http")


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


class LoopbackEmulator:
    """The lifecycle both emulators share: serve a `LoopbackHTTPServer` from a daemon thread; `stop()` also drops
    kept-alive connections and releases handlers sleeping in a delay. Subclasses build the server."""

    def __init__(self) -> None:
        self._stopped = threading.Event()
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def _make_server(self) -> LoopbackHTTPServer:
        raise NotImplementedError

    def _release(self) -> None:
        """What a subclass frees after the server stopped (e.g. certificate files)."""

    def start(self) -> Self:
        """Bind 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running; stop() it before starting it again")
        self._stopped.clear()
        self._server = self._make_server()
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self._server.name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections, free what the subclass holds. Safe to call twice."""
        self._stopped.set()  # releases handlers sleeping in delay_next
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_open_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_for_stop(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when the emulator was stopped meanwhile (handlers use this for delays)."""
        return self._stopped.wait(seconds)

    @property
    def port(self) -> int:
        if self._port is None or self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running: call start() or use it as a context manager")
        return self._port
