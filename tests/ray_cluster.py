"""A two-node Ray cluster on 127.0.0.1 for the Ray tests, started with `ray start` and torn down.

Both nodes run this interpreter (Ray workers run the Python that started
their node, so they import this checkout's seldb). Each node has its own
ports, one CPU and a small object store; the dashboard and usage stats are
off. Each `ray start --block` runs in a session of its own, so teardown ends
exactly the processes this module started: SIGTERM to `ray start` (which
stops its node), then SIGKILL to whatever is left in that session.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OBJECT_STORE_BYTES = 200 * 1024 * 1024  # enough for the tests' blocks; a benchmark passes more
# For nodes and drivers alike. Left unset, Ray turns token authentication on as soon as ~/.ray/auth_token
# exists - and any local `ray.init()` without an address writes that file - so a cluster started after it
# would refuse drivers that do not send the token. These clusters listen on 127.0.0.1 and live for one run.
CLUSTER_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_range(width: int = 40) -> int:
    """The first of `width` ports none of which is listening now (Ray's worker ports)."""
    for _ in range(50):
        first = free_port()
        if first + width < 65000 and all(_is_free(p) for p in range(first, first + width)):
            return first
    raise RuntimeError("no free port range")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class LocalCluster:
    """`ray start --head` plus `ray start --address` nodes (one by default), on 127.0.0.1."""

    def __init__(self, cpus_per_node: int = 1, object_store_bytes: int = OBJECT_STORE_BYTES) -> None:
        self.temp_dir = Path(tempfile.mkdtemp(prefix="seldb-ray-", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.cpus, self.object_store_bytes = cpus_per_node, object_store_bytes
        self.nodes: list[subprocess.Popen] = []
        self.env = {**os.environ, **CLUSTER_ENV}

    def _start(self, *args: str) -> None:
        workers = free_port_range()
        command = [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            "--block",
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            str(self.cpus),
            "--object-store-memory",
            str(self.object_store_bytes),
            "--disable-usage-stats",
            "--temp-dir",
            str(self.temp_dir),
            "--dashboard-agent-listen-port",
            str(free_port()),
            "--metrics-export-port",
            str(free_port()),
            "--runtime-env-agent-port",
            str(free_port()),
            "--dashboard-agent-grpc-port",
            str(free_port()),
            "--min-worker-port",
            str(workers),
            "--max-worker-port",
            str(workers + 39),
            *args,
        ]
        with open(self.temp_dir / f"node{len(self.nodes)}.log", "wb") as log:  # the node keeps its own copy
            self.nodes.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
            )

    def start(self, nodes: int = 2, timeout: float = 90.0) -> LocalCluster:
        self._start(
            "--head", "--port", str(self.port), "--include-dashboard", "false", "--dashboard-port", str(free_port())
        )
        self._wait(1, timeout)
        for n in range(2, nodes + 1):
            self._start("--address", self.address)
            self._wait(n, timeout)
        return self

    def _wait(self, n_nodes: int, timeout: float) -> None:
        """Until the cluster has n_nodes alive nodes (asked by a short-lived script, not this process)."""
        probe = (
            "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False);"
            "print(sum(n['Alive'] for n in ray.nodes()))"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(node.poll() is not None for node in self.nodes):
                raise RuntimeError(f"a ray node exited; see {self.temp_dir}/node*.log")
            try:
                out = subprocess.run(
                    [sys.executable, "-c", probe, self.address],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    env=self.env,
                ).stdout.strip()
            except subprocess.TimeoutExpired:
                out = ""
            if out.splitlines() and out.splitlines()[-1] == str(n_nodes):
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster did not reach {n_nodes} nodes in {timeout:.0f} s")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5  # a node that takes longer is killed: nothing of it is kept anyway
        for node in self.nodes:
            try:
                node.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _kill_session(node.pid)
        self.nodes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _kill_session(sid: int) -> None:
    """SIGKILL every process left in the session `ray start` led (its node's processes, and theirs)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # stat's field 6: the session id
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass
