"""Running the app: `seldb serve` binds the address, warns beyond loopback, and hands the socket to uvicorn.

The socket is bound here, before uvicorn starts, so that a port in use or an
address this machine does not have is one SeldbError line instead of a
server log; uvicorn then serves on that socket. The default address,
127.0.0.1, is reachable from this machine only. Any other address is
reachable from the network, and the app has no login: the warning says so.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seldb.db.database import Database
from seldb.errors import InputError, SeldbError
from seldb.serve.security import is_loopback, is_wildcard

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass(frozen=True)
class ServeOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    open_browser: bool = False
    cache_dir: Path | None = None  # plots drawn on demand (default: <data dir>/serve-cache)
    rating_only: bool = False  # only /rate: for raters, who must not see units, measures or classes


def url_of(host: str, port: int) -> str:
    """The address to open in a browser (a wildcard bind is opened on this machine's loopback)."""
    if is_wildcard(host):
        host = "127.0.0.1" if ":" not in host else "::1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or one SeldbError line."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError(f"--port must be from 1 to 65535, got {port!r}")
    if not host or not host.strip():
        raise InputError("--host is empty")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"--host {host!r} is not an address of this machine: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = "; choose another --port" if exc.errno in (98, 48) else ""
        raise SeldbError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    sock.set_inheritable(True)
    return sock


def exposure_warning(host: str) -> str | None:
    if is_loopback(host):
        return None
    return (
        f"serving on {host}, beyond this machine: anyone who can reach it can read every run and record"
        " ratings (there is no login); use the default 127.0.0.1 unless you mean it"
    )


def serve(
    db: Database, options: ServeOptions, notify: Callable[[str], None] = print, warn: Callable[[str], None] = print
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM stop uvicorn cleanly)."""
    import uvicorn

    from seldb.serve.app import create_app

    db.ensure_schema()  # an old schema or an unreachable server is one line now, not a broken page later
    app = create_app(db, options.host, options.cache_dir, options.rating_only)  # an unusable --cache: one line
    sock = bind(options.host, options.port)
    message = exposure_warning(options.host)
    if message:
        warn(message)
    config = uvicorn.Config(
        app,
        log_level=os.environ.get("SELDB_SERVE_LOG", "warning"),
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    url = url_of(options.host, options.port) + ("rate" if options.rating_only else "")
    notify(f"seldb serve: {url} (Ctrl-C stops it)")
    if options.open_browser:
        threading.Thread(target=_open_when_started, args=(server, url), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _open_when_started(server, url: str) -> None:
    for _ in range(200):
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.05)
