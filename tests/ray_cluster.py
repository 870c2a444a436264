"""A two-node Ray cluster on 127.0.0.1 for the Ray tests, started with `ray start` and torn down.

Both nodes run this interpreter (Ray workers run the Python that started
their node, so they import this checkout's seldb). Each node has its own
ports, one CPU and a small object store; the dashboard and usage stats are
off. Each `ray start --block` runs in a session of its own, so teardown ends
exactly the processes this module started: SIGTERM to `ray start` (which
stops its node), then SIGKILL to whatever is left in that session.

Every server of the cluster listens on 127.0.0.1 only, and the drivers reach
it there. `--node-ip-address 127.0.0.1` alone does not do that: with Ray's
default cluster mode, `ray start` and `ray.init` replace a loopback address by
the machine's outward one (ray._private.services.resolve_ip_for_localhost),
and Ray's gRPC servers then bind every interface (0.0.0.0 and ::) - they bind
127.0.0.1 only when the node's address is 127.0.0.1. Ray's single-machine
mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, CLUSTER_ENV; conftest.py sets it for
the test process, the drivers) keeps 127.0.0.1, but `ray start --address`
then refuses to add a node ("Multi-node Ray clusters are not supported on
Windows and OSX"). That refusal is a check of the `ray start` command alone
(ray/scripts/scripts.py), so the second node is started by JOIN: the same
command, with only that check seeing cluster mode. LocalCluster.not_loopback
lists any socket that breaks the rule; the fixture asserts there is none.
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

import ray_sockets

OBJECT_STORE_BYTES = 200 * 1024 * 1024  # enough for the tests' blocks; a benchmark passes more
# For nodes and drivers alike. Left unset, Ray turns token authentication on as soon as ~/.ray/auth_token
# exists - and any local `ray.init()` without an address writes that file - so a cluster started after it
# would refuse drivers that do not send the token. These clusters listen on 127.0.0.1 and live for one run.
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0: Ray's single-machine mode, where a node's address stays 127.0.0.1 and
# its servers bind 127.0.0.1 only (see the module's docstring); the drivers need it too, or they would
# reach the cluster through the machine's outward address.
CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
CLUSTER_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", CLUSTER_SWITCH: "0"}
# `ray start --address` for a second node in single-machine mode: Ray's command with its multi-node refusal
# (the only use of ENABLE_RAY_CLUSTER in ray/scripts/scripts.py besides a hint it prints) seeing cluster mode.
# Everything else - the address resolution in ray._private.services, the processes the node starts (they
# inherit CLUSTER_ENV) - stays in single-machine mode, so the node's address stays 127.0.0.1.
JOIN = (
    "import sys, types, ray._private.ray_constants as constants, ray.scripts.scripts as scripts;"
    "scripts.ray_constants = types.SimpleNamespace(**{**vars(constants), 'ENABLE_RAY_CLUSTER': True});"
    "sys.argv[0] = 'ray'; scripts.main()"
)


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

    def _start(self, *args: str, join: bool = False) -> None:
        workers = free_port_range()
        command = [
            sys.executable,
            *(["-c", JOIN] if join else ["-m", "ray.scripts.scripts"]),
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
            self._start("--address", self.address, join=True)
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

    def pids(self) -> dict[int, str]:
        """pid -> command line of every process of the cluster now (the nodes' trees and Ray sessions)."""
        found: dict[int, str] = {}
        for node in self.nodes:
            found.update(ray_sockets.tree(node.pid))
        return found

    def not_loopback(self, *more_pids: int) -> list[str]:
        """The listening sockets and TCP connections of the cluster (and of `more_pids`: the drivers) that
        are on, or go to, an address other than loopback; empty when every one is on 127.0.0.1."""
        members = self.pids()
        for pid in more_pids:
            members.setdefault(pid, "driver")
        wrong = [
            f"{proto} {address}:{port} listened by {members.get(pid, '?').strip()[:120]}"
            for proto, address, port, pid in ray_sockets.listening(members)
            if not ray_sockets.is_loopback(address)
        ]
        wrong += [
            f"{proto} {local} -> {remote}:{port} of {members.get(pid, '?').strip()[:120]}"
            for proto, local, remote, port, pid in ray_sockets.connected(members)
            if not (ray_sockets.is_loopback(local) and ray_sockets.is_loopback(remote))
        ]
        return wrong

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
