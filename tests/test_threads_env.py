"""Importing sparks_gui leaves os.environ alone; our own entry points set the OpenMP wait policy."""

from __future__ import annotations

import os
import subprocess
import sys


def test_import_does_not_change_the_environment():
    code = (
        "import os; before = dict(os.environ); import sparks_gui, sparks_gui.engine.facade, sparks_gui.analysis; "
        "print(dict(os.environ) == before)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "True"


def test_children_get_passive_and_the_parent_is_restored(monkeypatch):
    from sparks_gui._threads import passive_openmp_for_children

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    with passive_openmp_for_children():
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(os.environ.get('OMP_WAIT_POLICY'))"],
            capture_output=True,
            text=True,
            check=True,
        )
    assert child.stdout.strip() == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice wins
    with passive_openmp_for_children():
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_command_sets_passive():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = (
        "import os\nfrom sparks_gui.cli import main\ntry:\n    main(['validate', '--help'])\n"
        "except SystemExit:\n    pass\nprint(os.environ.get('OMP_WAIT_POLICY'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "PASSIVE"
