"""The trainer protocol (issue 13, item 5): both trainers implement it, and the GUI uses nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine.config import SparksConfig
from sparks_gui.engine.process import ProcessTrainer
from sparks_gui.engine.protocol import PROTOCOL_MEMBERS, TrainerProtocol
from sparks_gui.engine.trainer import Trainer

TINY = dict(target="hand_pos", epochs=1, batch_size=4, bin_factor=4, latent_dim=2, embed_dim=8, tau_p=3)
GUI = Path(__file__).resolve().parents[1] / "sparks_gui" / "gui"


def _rec():
    return make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3)


def test_both_trainers_implement_the_protocol():
    rec = _rec()
    local = Trainer(SparksConfig(**TINY), rec)
    remote = ProcessTrainer(SparksConfig(**TINY), rec, nice=0)  # no child until run()
    assert isinstance(local, TrainerProtocol) and isinstance(remote, TrainerProtocol)
    assert local.local is local and remote.local is remote.trainer
    assert remote.history is remote.trainer.history and remote.data is remote.trainer.data
    assert {"config", "run", "cancel", "cancelled", "pause", "resume", "local", "history"} <= PROTOCOL_MEMBERS
    assert not isinstance(object(), TrainerProtocol)


_USE = re.compile(r"(?:\btr|\btrainer)\.([A-Za-z_]\w*)")
_GETATTR = re.compile(r"getattr\((?:[\w.]*\btr|[\w.]*\btrainer),\s*\"(\w+)\"")


def test_the_gui_uses_only_protocol_members_of_a_trainer():
    used: dict[str, set[str]] = {}
    for path in GUI.rglob("*.py"):
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0]
            if "import" in code:
                continue
            for name in _USE.findall(code) + _GETATTR.findall(code):
                used.setdefault(name, set()).add(path.name)
    assert {"run", "cancel", "data", "config"} <= set(used)  # the scan sees the GUI's uses
    outside = {k: v for k, v in used.items() if k not in PROTOCOL_MEMBERS}
    assert not outside, f"the GUI uses trainer members outside TrainerProtocol: {outside}"
