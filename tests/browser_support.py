"""A real headless Chromium for the web app's tests: the OS's browser and driver, nothing downloaded.

Selenium drives /usr/bin/chromium through /usr/bin/chromedriver (Debian's
`chromium` and `chromium-driver` packages, the same version by
construction). The driver's path is given, so Selenium Manager (which would
look for, and possibly download, a driver) is never run; SE_OFFLINE tells it
to stay offline should anything call it, and `no_downloads` makes any call
fail the test. The browser runs headless with a fresh profile and none of
its background network traffic.

Also: a uvicorn server on a free loopback port in a thread, for the browser
to talk to.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = os.environ.get("SELDB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SELDB_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"{path} is missing: apt-get install -y chromium chromium-driver (package {package})"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


@contextlib.contextmanager
def no_downloads() -> Iterator[None]:
    """Fail loudly if anything asks Selenium Manager for a driver or browser."""
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def refuse(self, *args, **kwargs):
        raise AssertionError("Selenium Manager was called: the tests must use the OS's chromedriver")

    original = SeleniumManager.binary_paths
    SeleniumManager.binary_paths = refuse
    try:
        yield
    finally:
        SeleniumManager.binary_paths = original


@contextlib.contextmanager
def chromium() -> Iterator[selenium.webdriver.Chrome]:  # noqa: F821
    """A headless Chromium with a fresh profile, quit (and its profile deleted) at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="seldb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    with no_downloads():
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
