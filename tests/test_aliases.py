"""seldb 0.1's module paths still import, with a DeprecationWarning naming the new one (for one release)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import warnings

import pytest

from seldb.aliases import MOVED

pytestmark = pytest.mark.unit


def _fresh(name: str):
    sys.modules.pop(name, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(name)
    return module, [w for w in caught if issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_every_old_module_forwards_to_its_new_home(old):
    module, warned = _fresh(old)
    assert warned and all(target in str(warned[0].message) for target in MOVED[old])
    new = importlib.import_module(MOVED[old][0])
    public = [name for name in dir(new) if not name.startswith("_") and getattr(new, name).__class__ is not type(sys)]
    assert public and all(getattr(module, name) is getattr(new, name) for name in public)
    with pytest.raises(AttributeError, match="no 'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_the_names_the_0_1_docs_used_still_import():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from seldb.activations import write_activation_file
        from seldb.control.measure import unit_frame
        from seldb.control.run import run_control
        from seldb.dissect.planted import PlantedNet
        from seldb.ingest.models import ARCHS, ModelSpec, build_network
        from seldb.measures.uncertainty import measure_uncertainty
        from seldb.options import DissectOptions, ImportOptions, IngestOptions
    from seldb.h5 import write_activation_file as now

    assert write_activation_file is now
    assert all(callable(x) for x in (unit_frame, run_control, PlantedNet, build_network, measure_uncertainty))
    assert ARCHS and ModelSpec and DissectOptions and ImportOptions and IngestOptions


def test_a_real_module_always_wins_over_an_alias():
    import seldb.dissect.tallycsv as real

    assert not hasattr(real, "_Forward") and real.__spec__.origin.endswith("tallycsv.py")


def test_python_m_of_an_old_module_runs_the_new_one(tmp_path):
    """`python -m seldb.docgen` (0.1's command) runs seldb.db.docgen's main: here it gets as far as the
    database, which is unreachable on purpose, so the traceback shows the new module at work."""
    env = {**os.environ, "SELDB_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "seldb.docgen", str(tmp_path / "views.md")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode != 0 and "No module named" not in done.stderr
    assert "seldb/db/docgen.py" in done.stderr and "main" in done.stderr
    assert not (tmp_path / "views.md").exists()
