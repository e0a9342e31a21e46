"""The service's outer wall, as one pure ASGI middleware: a trusted Host header, a declared
``Content-Length`` over the upload limit refused before any byte is read, and security headers
on every response. (A body without a declared length, e.g. chunked, is cut off at the limit
while it streams in by FastAPI's own ``max_body_size`` on the API routes.)"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
CLOSE = (b"connection", b"close")
NO_STORE = (b"cache-control", b"no-store")  # API answers are about someone's skin: never cache
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the uploaded file


def default_allowed_hosts(bound_host: str) -> list[str]:
    """The bound address and the names of this machine's loopback; ``*`` (any Host) when bound
    to every interface, where the names a client uses cannot be known in advance."""
    if bound_host in ("0.0.0.0", "::", ""):
        return ["*"]
    return sorted({bound_host, "localhost", "127.0.0.1", "::1"})


# RFC 9110 Host: a name or IPv4 address, or an IPv6 address in brackets, then an optional port.
_HOST = re.compile(
    r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::(?P<port>[0-9]{1,5}))?"
)


def host_name(host_header: str) -> str | None:
    """The name in a Host header without its port (``[::1]:8000`` -> ``::1``); None for a
    header that is not a host and port, such as ``127.0.0.1:8765@evil.com``."""
    value = host_header.strip().lower()
    match = _HOST.fullmatch(value)
    if match:
        return match["ipv6"] or match["name"]
    try:  # a bare IPv6 address, as some clients send it
        return str(ipaddress.IPv6Address(value))
    except ValueError:
        return None


def _is_allowed(name: str, allowed: Iterable[str]) -> bool:
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    try:
        return any(ipaddress.ip_address(name) == ipaddress.ip_address(p) for p in allowed)
    except ValueError:
        return False


async def send_json_error(send: Send, status: int, code: str, detail: str) -> None:
    """A complete JSON error response, with the security headers."""
    body = json.dumps({"error": code, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        CLOSE,
        NO_STORE,
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _BodyProgress:
    """Whether a request's body has been read to its end. A response sent before that (a 413
    at the limit, a 404 or 405 that never reads the body) closes the connection: otherwise the
    server would go on reading, and discarding, whatever the client keeps sending."""

    def __init__(self, has_body: bool) -> None:
        self.unread = has_body

    def saw(self, message: Message) -> None:
        if message["type"] == "http.request" and not message.get("more_body", False):
            self.unread = False


class RequestGuards:
    """Host check (400 ``invalid_host``), declared size over the limit (413
    ``upload_too_large``), security headers on every response and ``Cache-Control: no-store``
    on the API's, ``Connection: close`` on a response sent before its request's body was read."""

    def __init__(self, app: ASGIApp, max_upload_bytes: int, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.allowed_hosts = list(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        name = host_name(headers.get("host", ""))
        if name is None or not _is_allowed(name, self.allowed_hosts):
            await send_json_error(send, 400, "invalid_host", "this Host header is not served")
            return
        length = headers.get("content-length")
        if length is not None and not (length.isascii() and length.isdigit()):
            await send_json_error(send, 400, "invalid_request", "invalid Content-Length")
            return
        if length is not None and int(length) > max_body_bytes(self.max_upload_bytes):
            await send_json_error(
                send, 413, "upload_too_large", upload_limit_detail(self.max_upload_bytes)
            )
            return
        added = (
            (*SECURITY_HEADERS, NO_STORE) if scope["path"].startswith("/api/") else SECURITY_HEADERS
        )
        body = _BodyProgress(
            has_body=headers.get("transfer-encoding") is not None or bool(length and int(length))
        )

        async def receive_tracked() -> Message:
            message = await receive()
            body.saw(message)
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [CLOSE] if body.unread else []
                message = {**message, "headers": [*message.get("headers", []), *added, *extra]}
            await send(message)

        await self.app(scope, receive_tracked, send_with_headers)


def max_body_bytes(max_upload_bytes: int) -> int:
    """The largest request body that can carry an upload of ``max_upload_bytes``."""
    return max_upload_bytes + MULTIPART_OVERHEAD


def upload_limit_detail(max_upload_bytes: int) -> str:
    return f"uploads are limited to {max_upload_bytes / 2**20:g} MB"
