"""A TLS server that refuses clients by their ClientHello, as some CDNs do.

It peeks at each connection's ClientHello (``MSG_PEEK``, before any handshake),
reads its cipher suites and extension types, and lets through only a client
that sends GREASE values (RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa), as Chrome
does and OpenSSL (Python, aiohttp) does not. Refused clients get a 403 with an
HTML page, the others a 200 with JSON. Nothing about the refusal is in the
HTTP request: only the handshake tells the two apart.

The certificate is a self-signed one made with the ``openssl`` command line for
127.0.0.1 and ``registry.invalid``; a test trusts it through ``[http] ca_bundle``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REFUSAL_PAGE = (
    b"<!DOCTYPE html><html><head><title>Access Denied</title></head>"
    b"<body>You don't have permission to access this resource.</body></html>"
)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 and registry.invalid."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=trialfinder test registry",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:registry.invalid",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def is_grease(value: int) -> bool:
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def hello_values(data: bytes) -> list[int] | None:
    """Cipher suites and extension types of a ClientHello record; None if incomplete."""
    if len(data) < 5 or data[0] != 0x16:
        return None
    (length,) = struct.unpack("!H", data[3:5])
    if len(data) < 5 + length:
        return None
    body = data[5 : 5 + length]
    at = 4 + 2 + 32  # handshake header, client_version, random
    at += 1 + body[at]  # session id
    (suites_length,) = struct.unpack("!H", body[at : at + 2])
    suites = body[at + 2 : at + 2 + suites_length]
    values = [struct.unpack("!H", suites[i : i + 2])[0] for i in range(0, len(suites), 2)]
    at += 2 + suites_length
    at += 1 + body[at]  # compression methods
    (extensions_length,) = struct.unpack("!H", body[at : at + 2])
    at += 2
    end = at + extensions_length
    while at + 4 <= end:
        kind, size = struct.unpack("!HH", body[at : at + 4])
        values.append(kind)
        at += 4 + size
    return values


@dataclass
class Visit:
    grease: bool
    path: str
    user_agent: str


class FingerprintingServer:
    """Serves ``answer`` (JSON) over TLS to browser-like handshakes only."""

    def __init__(self, cert: Path, key: Path, answer: object | None = None) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.answer = json.dumps(answer or {"apiVersion": "2.0.5"}).encode()
        self.visits: list[Visit] = []
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port = self._socket.getsockname()[1]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError, struct.error, IndexError), conn:
            conn.settimeout(5)
            values = None
            for _ in range(50):
                peeked = conn.recv(16384, socket.MSG_PEEK)
                if not peeked:
                    return
                values = hello_values(peeked)
                if values is not None:
                    break
            grease = any(is_grease(v) for v in values or [])
            with self.context.wrap_socket(conn, server_side=True) as tls:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = tls.recv(4096)
                    if not data:
                        return
                    head += data
                lines = head.decode("latin-1").split("\r\n")
                headers = dict(
                    (name.strip().lower(), value.strip())
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                )
                path = lines[0].split(" ")[1]
                self.visits.append(Visit(grease, path, headers.get("user-agent", "")))
                if grease:
                    status, kind, body = "200 OK", "application/json", self.answer
                else:
                    status, kind, body = "403 Forbidden", "text/html", REFUSAL_PAGE
                tls.sendall(
                    f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """Yield ``https://127.0.0.1:PORT`` while the server runs."""
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        try:
            yield f"https://127.0.0.1:{self.port}"
        finally:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accept()
            self._socket.close()
            thread.join(5)
