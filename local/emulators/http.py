"""What both emulators share: a WSGI server on 127.0.0.1 in a daemon thread, a route table, the request log, and
the fault switches (`fail_next`, `delay_next`) with their counters (`faults_served`, `delays_served`: how many
switches actually answered a call, so a test can prove its fault fired).

The application side is werkzeug (moto's own HTTP layer, so no extra install): `Map` routes, `Request`, `Response`.
The server is the standard library's `wsgiref`, threaded, with keep-alive connections: werkzeug's development
server closes the connection after every response, and a new TCP connection and TLS handshake per call made a
Salesforce upsert take 5 ms instead of 1 ms here (the local pipeline makes two per session). wsgiref serves one
request per connection, so `_KeepAliveHandler` loops its `handle()` over the connection, as http.server's own
handler does, and answers in HTTP/1.1.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import ssl
import tempfile
import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

_log = logging.getLogger("local.emulators.http")

Fault = TypeVar("Fault")


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status, headers=dict(headers or {}), content_type="application/json")


# An idle keep-alive connection, or a client that stalls mid-request, is dropped after this many seconds.
SOCKET_TIMEOUT_SECONDS = 5.0


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    ssl_context: ssl.SSLContext | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that refuses the certificate or hangs up (the point of delay_next) is not an error here.
        _log.debug("error serving %s", client_address, exc_info=True)


class _HTTP11ServerHandler(ServerHandler):
    # wsgiref's default status line is HTTP/1.0, after which clients close the connection.
    http_version = "1.1"

    def log_exception(self, exc_info: Any) -> None:
        _log.debug("error answering a request", exc_info=exc_info)


class _KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes; with Nagle on, the body waits for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    timeout = SOCKET_TIMEOUT_SECONDS

    def setup(self) -> None:
        context = getattr(self.server, "ssl_context", None)
        if context is not None:
            # The TLS handshake runs in this connection's thread, so a client stalling in it holds up no one else.
            self.request.settimeout(self.timeout)
            self.request = context.wrap_socket(self.request, server_side=True)
        super().setup()

    def handle(self) -> None:
        """wsgiref's `handle()` (one request), repeated while the client keeps the connection open."""
        self.close_connection = True
        while True:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.parse_request():  # no request (the client closed), or a malformed one: answered, closed
                return
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                self.send_error(411, "Content-Length required")  # our clients always send it
                return
            # (typeshed wants IO[bytes] for the streams and knows neither the back-pointer nor the server's app)
            streams = (self.rfile, self.wfile, self.get_stderr())
            handler = _HTTP11ServerHandler(*streams, self.get_environ(), multithread=True)  # type: ignore[arg-type]
            handler.request_handler = self  # type: ignore[attr-defined]
            handler.run(self.server.get_app())  # type: ignore[attr-defined]
            if self.close_connection:
                return

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        _log.debug("%s %s -> %s", self.command, self.path, code)


class LoopbackEmulator(Generic[Fault]):
    """Serve `self.routes` (a werkzeug `Map` whose endpoints name methods of the subclass) on 127.0.0.1.

    Subclasses implement `_not_found` / `_method_not_allowed` / `_internal_error` (the far end's own error bodies)
    and may return an SSL context from `_ssl_context` (then `_release` frees what it made). Faults are whatever the
    subclass queues with `_queue_faults`; `_take_switches()` hands the next fault and delay to the call that is
    subject to them, and counts them as served.
    """

    name = "emulator"
    routes: Map = Map()

    def __init__(self, *, port: int = 0) -> None:
        self.requested_port = port
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._faults: deque[Fault] = deque()
        self._delays: deque[float] = deque()
        self._faults_served = 0
        self._delays_served = 0
        self._request_log: list[tuple[str, str, int]] = []

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running; stop() it before starting it again")
        self._stopped.clear()
        try:
            context = self._ssl_context()
            server = _Server(("127.0.0.1", self.requested_port), _KeepAliveHandler)
        except BaseException:
            self._release()  # e.g. the requested port is taken: leave no certificate behind
            raise
        server.set_app(self._wsgi)
        server.ssl_context = context
        self._server = server
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free what the subclass holds. Safe to call twice."""
        self._stopped.set()  # releases handlers waiting in a delay_next
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
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

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running: call start() or use it as a context manager")
        port: int = self._server.server_address[1]
        return port

    def _ssl_context(self) -> ssl.SSLContext | None:
        return None

    def _release(self) -> None:
        """What a subclass frees after the server stopped (e.g. certificate files)."""

    # -- inspection and switches -------------------------------------------------------------------------------

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """(method, path without query string, status) of every request answered, oldest first."""
        with self._lock:
            return list(self._request_log)

    @property
    def faults_served(self) -> int:
        """Calls answered with a `fail_next()` fault so far (a queued fault nobody triggered is not counted)."""
        with self._lock:
            return self._faults_served

    @property
    def delays_served(self) -> int:
        """Calls whose answer a `delay_next()` held back so far."""
        with self._lock:
            return self._delays_served

    def delay_next(self, count: int, seconds: float) -> None:
        """Hold the answer to the next `count` calls for `seconds`, to provoke client timeouts. The call is processed
        first and only its answer is late: the worst case for a client that times out and retries."""
        if count < 0 or seconds < 0:
            raise ValueError("delay_next needs count >= 0 and seconds >= 0")
        with self._lock:
            self._delays.extend([seconds] * count)

    def reset_faults(self) -> None:
        """Cancel pending fail_next and delay_next switches."""
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    def _queue_faults(self, fault: Fault, count: int) -> None:
        if count < 0:
            raise ValueError("fail_next needs count >= 0")
        with self._lock:
            self._faults.extend([fault] * count)

    def _take_switches(self) -> tuple[Fault | None, float]:
        """The fault and the delay for this call (None, 0.0 when none is queued), counted as served."""
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            delay = self._delays.popleft() if self._delays else 0.0
            self._faults_served += fault is not None
            self._delays_served += delay > 0
        return fault, delay

    # -- requests ----------------------------------------------------------------------------------------------

    def _not_found(self, request: Request) -> Response:
        raise NotImplementedError

    def _method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        raise NotImplementedError

    def _internal_error(self, error: Exception) -> Response:
        raise NotImplementedError

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.get_data()  # read (and keep) the whole body first: the next request on the connection follows it
        delay = 0.0
        try:
            endpoint, arguments = self.routes.bind_to_environ(environ).match()
            answer = getattr(self, f"_{endpoint}")(request, **arguments)
            response, delay = answer if isinstance(answer, tuple) else (answer, 0.0)
        except NotFound:
            response = self._not_found(request)
        except MethodNotAllowed as error:
            response = self._method_not_allowed(request, sorted(error.valid_methods or []))
        except HTTPException as error:  # werkzeug's own refusals (e.g. a malformed request line)
            response = error.get_response()
        except Exception as error:
            # A bug in the emulator, not in the client: answer with the far end's 500 and make it loud.
            _log.exception("%s failed on %s %s", self.name, request.method, request.path)
            response = self._internal_error(error)
        with self._lock:
            self._request_log.append((request.method, request.path, response.status_code))
        if delay > 0:
            self._stopped.wait(delay)  # a stop() meanwhile answers at once: nobody is waiting any more
        return response(environ, start_response)


# ---------------------------------------------------------------------------------------------------- TLS


class SelfSignedTLS:
    """A self-signed certificate for 127.0.0.1 and localhost in a temporary folder, and the server context using it.

    EC P-256 because it is generated in microseconds. The clients under test trust `ca_bundle` (their certificate
    verification stays on, exactly as against the real service)."""

    def __init__(self, organisation: str) -> None:
        self.organisation = organisation
        self.directory: Path | None = None

    @property
    def ca_bundle(self) -> str:
        if self.directory is None:
            raise RuntimeError("the certificate is made when the emulator starts")
        return str(self.directory / "cert.pem")

    def context(self) -> ssl.SSLContext:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        self.directory = Path(tempfile.mkdtemp(prefix="emulator-tls-"))
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organisation),
            ]
        )
        now = datetime.now(UTC)
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        usage = {name: False for name in ("content_commitment", "key_encipherment", "data_encipherment")}
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            # Its own trust anchor: a CA certificate that may sign (itself) and serve TLS.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                    **usage,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        cert_path, key_path = self.directory / "cert.pem", self.directory / "key.pem"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path, key_path)
        return context

    def remove(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
