"""Where the validation scripts find real recordings: a folder the user gives, else ``tests/data``."""

from __future__ import annotations

from pathlib import Path

DATA_ROOT = Path(__file__).resolve().parents[2] / "tests" / "data"


def find_data_file(name: str, data_dir: str | Path | None) -> Path | None:
    """The file ``name`` under ``data_dir`` (searched recursively), else under the checkout's ``tests/data``; None
    when neither has it."""
    for root in [Path(data_dir)] if data_dir else []:
        for p in (root / name, *root.rglob(name)):
            if p.exists():
                return p
    for p in DATA_ROOT.rglob(name):
        return p
    return None
