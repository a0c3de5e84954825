"""Exported files: atomic, with the usual permissions, and readable by plain CSV readers."""

from __future__ import annotations

import csv
import json
import os
import stat
from types import SimpleNamespace

import numpy as np
import pytest

from sparks_gui.data.atomic import atomic_path, atomic_save, atomic_write_text
from sparks_gui.data.export import export_arrays
from sparks_gui.data.recording import Recording


@pytest.fixture
def umask():
    """Run a test under a chosen umask, restoring the previous one."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_files_get_the_umask_mode_not_0600(tmp_path, umask):
    umask(0o022)
    text = atomic_write_text(tmp_path / "a.json", "{}")
    npy = atomic_save(tmp_path / "b.npy", lambda p: np.save(p, np.arange(3)))
    assert mode(text) == 0o644 and mode(npy) == 0o644
    written = export_arrays(tmp_path / "arrays", {"latents": np.zeros((4, 2))})
    assert [mode(p) for p in written] == [0o644, 0o644]
    umask(0o077)
    assert mode(atomic_write_text(tmp_path / "private.txt", "x")) == 0o600
    umask(0o002)
    assert mode(atomic_write_text(tmp_path / "group.txt", "x")) == 0o664


def test_replacing_a_file_keeps_its_permissions(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "metrics.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o640


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("good")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_ordering_csv_is_plain_csv_with_a_json_sidecar(tmp_path, umask):
    from sparks_gui.gui.exports import ORDERING_COLUMNS, export_ordering

    umask(0o022)
    rec = Recording(activity=np.zeros((4, 50), np.float32), dt=0.01, name="rec", neuron_ids=np.array([10, 11, 12, 13]))
    session = SimpleNamespace(
        training_recording=lambda: rec,
        order=np.array([2, 0, 3, 1]),
        original_neuron_index=lambda i: i + 5,
        ordering_name="SPARKS latent phase",
    )
    paths = export_ordering(session, tmp_path)
    assert sorted(p.name for p in paths) == ["ordering.csv", "ordering.json", "ordering.npy"]
    text = (tmp_path / "ordering.csv").read_text()
    assert not text.startswith("#")
    rows = list(csv.DictReader(text.splitlines()))
    assert tuple(rows[0]) == ORDERING_COLUMNS
    assert [int(r["neuron_index"]) for r in rows] == [2, 0, 3, 1]
    assert [int(r["recording_index"]) for r in rows] == [7, 5, 8, 6]
    assert [int(r["neuron_id"]) for r in rows] == [12, 10, 13, 11]
    table = np.loadtxt(tmp_path / "ordering.csv", delimiter=",", skiprows=1, dtype=np.int64)
    np.testing.assert_array_equal(table[:, 0], np.arange(4))
    meta = json.loads((tmp_path / "ordering.json").read_text())
    assert meta["ordering"] == "SPARKS latent phase" and meta["columns"] == list(ORDERING_COLUMNS)
    assert meta["n_neurons"] == 4
    np.testing.assert_array_equal(np.load(tmp_path / "ordering.npy"), [2, 0, 3, 1])
    assert all(mode(p) == 0o644 for p in paths)
