"""What keeps a local web app local and its one form honest: hosts, CSRF tokens, response headers.

The app runs on a researcher's machine, usually bound to 127.0.0.1, but any
web page the researcher opens can make their browser send requests to it.
Three things stop such a page:

- The Host header must name this server (127.0.0.1, localhost, [::1] or the
  host it was bound to), so a DNS-rebinding page on another name cannot read
  it. Bound to a wildcard address (0.0.0.0, ::) any name is accepted: the
  server then answers the network anyway, and says so when it starts.
- Every form (rating only: nothing else writes) carries a CSRF token: an
  HMAC, under a secret made when the app starts, of a random session cookie
  (SameSite=Strict, HttpOnly). Another site can neither read the cookie nor
  compute the token.
- Every response forbids framing and inline script (Content-Security-Policy),
  sniffing and referrers.
- A request another site's page makes (an <img> or a fetch: the browser says
  so in Sec-Fetch-Site, https://www.w3.org/TR/fetch-metadata/) is refused
  unless it is a plain navigation: a GET carries no token, and a page elsewhere
  must not make the server draw plots for it (the fetch-metadata "resource
  isolation policy", https://web.dev/articles/fetch-metadata).
- An address or query holding a NUL character is a 400: no name seldb stores
  can hold one, and PostgreSQL refuses it in text.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import unquote_to_bytes

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seldb.errors import InputError

SESSION_COOKIE = "seldb_session"
CSRF_FIELD = "csrf"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; object-src 'none';"
    " base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class Forbidden(InputError):
    """A form without a valid CSRF token: refused (HTTP 403), nothing written."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: an address only this machine can reach."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    name = host.strip().strip("[]")
    try:
        return ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


def allowed_hosts(bind_host: str) -> frozenset[str] | None:
    """Names the Host header may carry (None: any, for a wildcard bind)."""
    if is_wildcard(bind_host):
        return None
    return frozenset({*LOOPBACK_NAMES, bind_host.strip().strip("[]").lower()})


def host_name(header: str) -> str:
    """The name of a Host header without its port: 'a:8765' -> 'a', '[::1]:8765' -> '::1'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class CsrfTokens:
    """Tokens bound to a session cookie, under a secret that lives as long as the app."""

    def __init__(self, secret: bytes | None = None):
        self._secret = secret or secrets.token_bytes(32)

    def token(self, session: str) -> str:
        return hmac.new(self._secret, session.encode(), hashlib.sha256).hexdigest()

    def valid(self, session: str | None, token: str | None) -> bool:
        if not session or not token:
            return False
        return hmac.compare_digest(self.token(session), token)


def new_session() -> str:
    return secrets.token_urlsafe(24)


class Guard:
    """ASGI middleware: refuse foreign Host headers, add the security headers, hand out session cookies."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.hosts is not None and host_name(headers.get("host", "")) not in self.hosts:
            response = PlainTextResponse("this server answers only to its own address (Host header refused)", 400)
            await response(scope, receive, send)
            return
        refused = _refused(scope, headers)
        if refused:
            await PlainTextResponse(refused[1], refused[0])(scope, receive, send)
            return
        session = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
        fresh = None if session else new_session()
        scope.setdefault("state", {})["session"] = session or fresh

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    out.setdefault(name, value)
                if fresh:
                    out.append("set-cookie", f"{SESSION_COOKIE}={fresh}; Path=/; HttpOnly; SameSite=Strict")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _refused(scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
    """(status, reason) for a request refused before any page sees it: a NUL in its address, or a
    cross-site request that is not a navigation."""
    if "\0" in scope["path"] or b"\0" in unquote_to_bytes(scope.get("query_string", b"")):
        return 400, "a NUL character cannot be part of an address here"
    site, mode = headers.get("sec-fetch-site"), headers.get("sec-fetch-mode")
    if site == "cross-site" and not (mode == "navigate" and scope["method"] in ("GET", "HEAD")):
        return 403, "another site's page cannot use this server (only links to it are followed)"
    return None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None
