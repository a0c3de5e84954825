"""The worker hands the engine's typed events to the session unchanged (issue 13, item 5): no tagged tuples."""

from __future__ import annotations

import pytest

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine import events as E
from sparks_gui.engine.config import SparksConfig

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TINY = dict(target="hand_pos", epochs=2, batch_size=4, bin_factor=4, latent_dim=2, embed_dim=8, tau_p=3)


def test_the_worker_yields_engine_events_and_progress_reports():
    from sparks_gui.gui._worker import ProgressReport, TrainingRun

    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3)
    run = TrainingRun(SparksConfig(**TINY), rec, trainer_kwargs={"session": 0})  # in-process Trainer
    items = list(run._generate())
    assert all(isinstance(x, (E.Event, ProgressReport)) for x in items), [type(x) for x in items]
    assert isinstance(items[0], E.Started) and isinstance(items[-1], E.Finished)
    assert run.trainer.local is run.trainer
    reports = [x for x in items if isinstance(x, ProgressReport)]
    steps = [s for r in reports for s, _ in r.losses]
    assert steps == list(range(1, items[0].total_steps + 1))  # coalesced, but no step's loss is lost
    assert all(r.event.step == r.losses[-1][0] for r in reports)
    assert sum(isinstance(x, E.EpochEnd) for x in items) == 2


def test_a_trainer_that_cannot_be_built_yields_failed():
    from sparks_gui.gui._worker import TrainingRun

    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3)
    run = TrainingRun(SparksConfig(**{**TINY, "target": "no_such_variable"}), rec, trainer_kwargs={"session": 0})
    items = list(run._generate())
    assert len(items) == 1 and isinstance(items[0], E.Failed) and "no_such_variable" in items[0].message
