"""`--engine ray` without an address, from the command line exactly as a user runs it: seldb starts a Ray of
its own, which lives through the command, listens on 127.0.0.1 only, and ends with it; a Ray that dies
under a command is one line, exit 1, nothing written.

No cluster is started here and none may be named: RAY_ADDRESS is removed from the commands' environment.
The local engine is the reference for the rows (tests/test_import.py checks it against a brute-force
implementation). Listening sockets are read from /proc (tests/ray_sockets.py) while the command runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import ray_sockets
from support import rows

from seldb.h5.reader import write_activation_file

pytestmark = pytest.mark.ray
SELDB = [str(Path(sys.executable).with_name("seldb"))]
TEST_ADDRESS = "198.51.100.7"  # TEST-NET-2 (RFC 5737): never routed; the namespace's only non-loopback address


def user_env() -> dict[str, str]:
    """A user's environment: no cluster named, and not Ray's single-machine switch that conftest.py sets for
    the test cluster's drivers (seldb must turn it on for its own Ray by itself)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    return {**env, "COLUMNS": "200"}


def seldb(*args, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*SELDB, *map(str, args)], capture_output=True, text=True, env=user_env(), timeout=timeout)


class Watched:
    """A `seldb` command run in the background; its process tree's listening sockets polled until it ends."""

    def __init__(self, *args, new_session: bool = False) -> None:
        self.process = subprocess.Popen(
            [*SELDB, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=user_env(),
            start_new_session=new_session,  # a process group of its own, as a terminal's foreground job
        )
        self.sockets: dict[tuple[str, str, int], str] = {}  # (protocol, address, port) -> command line
        self.pids: set[int] = set()

    def poll(self) -> dict[int, str]:
        members = ray_sockets.tree(self.process.pid)
        self.pids |= set(members)
        for proto, address, port, pid in ray_sockets.listening(members):
            self.sockets[(proto, address, port)] = members.get(pid, "?")
        return members

    def wait(self, timeout: float = 240, on_poll=None) -> subprocess.CompletedProcess:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            members = self.poll()
            if on_poll is not None:
                on_poll(members)
            time.sleep(0.2)
        if self.process.poll() is None:
            self.process.kill()
        out, err = self.process.communicate()
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)

    def left_running(self) -> list[str]:
        """The tree's processes still alive a few seconds after the command ended (none should be)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = [_command(pid) for pid in self.pids if _alive(pid)]
            if not alive:
                return []
            time.sleep(0.5)
        return alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "?"


def assert_loopback_only(watched: Watched) -> None:
    commands = " ".join(watched.sockets.values())
    assert "gcs_server" in commands and "raylet" in commands, f"no Ray socket was seen: {watched.sockets}"
    exposed = {key: command for key, command in watched.sockets.items() if not ray_sockets.is_loopback(key[1])}
    assert not exposed, f"listening beyond 127.0.0.1: {exposed}"


def activation_file(path: Path, n_images: int, n_layers: int, units: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n_images)
    preds = np.where(rng.random(n_images) < 0.8, labels, (labels + 1) % 5)
    layers = {}
    for i in range(n_layers):
        values = np.maximum(rng.normal(size=(n_images, units)), 0).astype(np.float32)
        values[:, ::5] = np.round(values[:, ::5])  # ties
        layers[f"conv{i + 1}"] = values
    return write_activation_file(
        path,
        class_names=["wren", "kestrel", "plover", "curlew", "dunlin"],
        class_keys=["r8101", "r8102", "r8103", "r8104", "r8105"],
        labels=labels,
        preds=preds,
        layers=layers,
        reductions=dict.fromkeys(layers, "max"),
        paths=[f"img/{i}.jpg" for i in range(n_images)],
        model="tiny",
        dataset="gen",
    )


def run_ids() -> list[int]:
    return [r["run_id"] for r in rows("SELECT run_id FROM seldb_store.runs ORDER BY run_id")]


@pytest.mark.db
@pytest.mark.slow
def test_import_h5_on_a_ray_of_its_own_equals_local_and_listens_on_loopback(own_db, tmp_path):
    from test_ray_engine import assert_same_rows

    path = activation_file(tmp_path / "acts.h5", n_images=200, n_layers=2, units=300, seed=5)
    local = seldb("import-h5", path, "--quiet")
    assert local.returncode == 0, local.stderr
    watched = Watched("import-h5", path, "--engine", "ray", "--force", "--quiet")
    done = watched.wait()
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "run 2 imported: 600 units" in done.stdout
    assert run_ids() == [1, 2]
    assert_same_rows(own_db, 1, 2, concepts=False)
    record = rows("SELECT options FROM seldb_store.runs WHERE run_id = 2")[0]["options"]
    assert record["engine"] == {"name": "ray", "address": None, "ship_blocks": False}
    assert_loopback_only(watched)
    assert watched.left_running() == []


@pytest.mark.db
@pytest.mark.slow
def test_ingest_on_a_ray_of_its_own_loads_the_local_rows(own_db, tmp_path):
    from test_ingest_support import make_tree, random_state_dict, save
    from test_ray_engine import assert_same_rows

    tree = make_tree(tmp_path / "images", per_class=2)
    weights = save(random_state_dict("resnet18", 3), tmp_path / "resnet18.pth")
    common = ["--data", tree, "--arch", "resnet18", "--num-classes", 3, "--weights", weights, "--input-size", 64]
    common += ["--batch-size", 4, "--workers", 0, "--device", "cpu", "--layers", "layer4,fc"]
    local = seldb("ingest", *common, "--out", tmp_path / "local.h5")
    assert local.returncode == 0, local.stderr
    # the same images and network make the same recording: imported again as a run of its own
    watched = Watched("ingest", *common, "--out", tmp_path / "ray.h5", "--engine", "ray", "--on-duplicate", "new")
    done = watched.wait(timeout=400)
    assert done.returncode == 0, done.stderr
    assert run_ids() == [1, 2]
    assert_same_rows(own_db, 1, 2, also_differ={"source_file"}, concepts=False)
    assert_loopback_only(watched)
    assert watched.left_running() == []


@pytest.mark.db
@pytest.mark.slow
def test_a_raylet_killed_mid_import_is_one_line_and_nothing_written(own_db, tmp_path):
    path = activation_file(tmp_path / "acts.h5", n_images=1500, n_layers=6, units=1024, seed=6)
    killed: list[int] = []

    def kill_raylet_once_measuring(members: dict[int, str]) -> None:
        if killed or not any("_run_block" in command for command in members.values()):
            return
        for pid, command in members.items():
            if command.split(" ")[0].endswith("/raylet"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    watched = Watched("import-h5", path, "--engine", "ray", "--quiet")
    done = watched.wait(on_poll=kill_raylet_once_measuring)
    assert killed, f"the import ended before a raylet was killed: {done.stderr}"
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and done.stdout == "" and len(lines) == 1, done.stderr
    # Ray ends the driver itself (the watching parent's line), or, when the driver notices first, raises
    # LocalRayletDiedError, which seldb's fault translation turns into its own line: both name the raylet
    if lines[0].startswith("error: Ray failed (LocalRayletDiedError)"):
        assert "raylet died" in lines[0]
    else:
        assert lines[0].startswith(
            "error: Ray stopped this command (exit status 1): its raylet died; nothing was written."
        )
        log = Path(lines[0].rsplit("Ray's messages: ", 1)[1])
        assert "Raylet is terminated" in log.read_text()  # the reason, where the line says
        log.unlink()
    assert run_ids() == []
    assert watched.left_running() == []
    again = seldb("import-h5", path, "--engine", "ray", "--quiet")
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert len(run_ids()) == 1


@pytest.mark.slow
@pytest.mark.db
@pytest.mark.parametrize(
    "signum, line, code",
    [
        (signal.SIGINT, "interrupted: nothing was written", 130),  # a terminal's Ctrl-C: to the process group
        (
            signal.SIGTERM,
            "terminated (SIGTERM): nothing was written",
            143,
        ),  # to `seldb` (ray.init replaces its handler)
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_mid_import_is_one_line_and_nothing_written(own_db, tmp_path, signum, line, code):
    path = activation_file(tmp_path / "acts.h5", n_images=1500, n_layers=6, units=1024, seed=8)
    sent: list[int] = []
    watched = Watched("import-h5", path, "--engine", "ray", "--quiet", new_session=True)

    def signal_once_measuring(members: dict[int, str]) -> None:
        if not sent and any("_run_block" in command for command in members.values()):
            if signum == signal.SIGINT:
                os.killpg(watched.process.pid, signum)
            else:
                os.kill(watched.process.pid, signum)
            sent.append(signum)

    done = watched.wait(on_poll=signal_once_measuring)
    assert sent, f"the import ended before the signal: {done.stderr}"
    assert (done.returncode, done.stdout, done.stderr) == (code, "", line + "\n")
    assert run_ids() == []
    assert watched.left_running() == []


NAMESPACE_SETUP = f"""
set -e
ip link set lo up
ip link add seldb0 type veth peer name seldb1
ip addr add {TEST_ADDRESS}/24 dev seldb0
ip link set seldb0 up
ip link set seldb1 up
ip route add default dev seldb0
exec "$@"
"""

PROBE = """
import json, logging, os, sys
sys.path.insert(0, sys.argv[2])
import ray_sockets
if sys.argv[1] == "plain":  # Ray as it starts by default: the control
    import ray
    ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    session = ray
else:
    from seldb.engine.ray_blocks import connect
    session = connect()
    ray = session.__enter__()
nodes = sorted({n["NodeManagerAddress"] for n in ray.nodes()})
answer = ray.get(ray.remote(lambda: 6 * 7).remote())
found = ray_sockets.listening(ray_sockets.tree(os.getpid()))
print(json.dumps({"nodes": nodes, "answer": answer, "listening": sorted({a for _, a, _, _ in found})}))
ray.shutdown()
"""


def namespace_command() -> list[str]:
    """How this machine makes a private network namespace: as root `unshare -n`, else `unshare -rn`."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare(1) and ip(8) (util-linux, iproute2)")
    command = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    probe = subprocess.run(
        [*command, "sh", "-c", "ip link add seldb0 type veth peer name seldb1"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace with a veth pair here: {probe.stderr.strip()}")
    return command


@pytest.mark.slow
def test_a_ray_of_its_own_does_not_pick_a_non_loopback_address(tmp_path):
    """In a network namespace whose only non-loopback address is TEST_ADDRESS (and the default route
    goes there), Ray by default takes that address; the Ray seldb starts takes 127.0.0.1 only."""
    command = namespace_command()
    tests = str(Path(__file__).parent)

    def probe(which: str) -> dict:
        import json

        done = subprocess.run(
            [
                *command,
                "sh",
                "-c",
                NAMESPACE_SETUP,
                "setup",
                sys.executable,
                "-c",
                textwrap.dedent(PROBE),
                which,
                tests,
            ],
            capture_output=True,
            text=True,
            env=user_env(),
            timeout=240,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    plain = probe("plain")
    assert plain["answer"] == 42 and plain["nodes"] == [TEST_ADDRESS]  # the namespace does what the test needs
    assert any(not ray_sockets.is_loopback(a) for a in plain["listening"])
    own = probe("seldb")
    assert own["answer"] == 42 and own["nodes"] == ["127.0.0.1"]
    assert own["listening"] and all(ray_sockets.is_loopback(a) for a in own["listening"]), own["listening"]


UNIMPORTABLE = """
import sys
sys.path.insert(0, sys.argv[1])  # on the driver's path only: the workers cannot import the module
import numpy as np
import driver_only
from seldb.engine import ray_blocks
from seldb.engine.blocks import UnitBlock
from seldb.errors import SeldbError
from seldb.h5.reader import ActivationFile

with ray_blocks.connect() as ray:
    try:
        blocks = [UnitBlock(layer_id=0, layer="conv1", first=0, stop=10)]
        list(ray_blocks.measure_blocks(ActivationFile(sys.argv[2]), blocks, np.arange(10), driver_only.measure))
    except SeldbError as exc:
        print("LINE", exc)
"""


@pytest.mark.slow
def test_a_worker_that_cannot_import_the_code_is_one_line(tmp_path):
    """Workers unpickle the measure by module name; a module only the driver has (as seldb missing on a
    node) fails every try of the task: one line that says so, not Ray's traceback."""
    (tmp_path / "driver_only").mkdir()
    (tmp_path / "driver_only" / "__init__.py").write_text("def measure(block, values, labels):\n    return 0\n")
    path = activation_file(tmp_path / "acts.h5", n_images=20, n_layers=1, units=10, seed=7)
    done = subprocess.run(
        [sys.executable, "-c", UNIMPORTABLE, str(tmp_path), str(path)],
        capture_output=True,
        text=True,
        env=user_env(),
        timeout=240,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("LINE ")]
    assert lines and "No module named 'driver_only'" in lines[0], done.stdout + done.stderr[-2000:]
    assert lines[0].endswith("(every Ray node needs seldb and Python as the driver has them: docs/ray.md, Installing)")
    assert "\n" not in lines[0]


def _ray_errors():
    ray = pytest.importorskip("ray")
    errors = ray.exceptions
    return ray, [
        (
            errors.ObjectStoreFullError("Failed to put object 00ff in object store because it is full."),
            "Ray's object store is full: give its nodes more (`ray start --object-store-memory BYTES`)",
        ),
        (
            errors.NodeDiedError("The node 1a2b with address 10.0.0.5 died."),
            "Ray failed (NodeDiedError): The node 1a2b",
        ),
        (
            errors.RayTaskError("_run_block", "Traceback (most recent call last):\n  ...", ZeroDivisionError("oops")),
            "a Ray task failed: ZeroDivisionError: oops",
        ),
        (
            errors.RayTaskError("_run_block", "Traceback ...", ModuleNotFoundError("No module named 'seldb'")),
            "a Ray task failed: ModuleNotFoundError: No module named 'seldb' (every Ray node needs seldb",
        ),
        (
            errors.OutOfMemoryError("Task was killed due to the node running low on memory.\nMemory on the node"),
            "Ray stopped a worker for lack of memory: Task was killed due to the node running low on memory.",
        ),
    ]


@pytest.mark.unit
def test_each_ray_fault_leaves_the_session_as_one_line():
    from seldb.engine import ray_blocks
    from seldb.errors import InputError, SeldbError

    ray, cases = _ray_errors()
    for error, start in cases:
        with pytest.raises(SeldbError) as caught, ray_blocks.faults_as_lines(ray):
            raise error
        assert str(caught.value).startswith(start) and "\n" not in str(caught.value), str(caught.value)
    own = InputError("conv1: the file has 3 units, the run 4")  # a task's own line passes as itself
    with pytest.raises(InputError) as caught, ray_blocks.faults_as_lines(ray):
        raise ray.exceptions.RayTaskError("_run_block", "Traceback ...", own)
    assert caught.value is own
