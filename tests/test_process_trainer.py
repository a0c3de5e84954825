"""Training in a child process: same events and same weights as in-process training."""

import torch

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine.config import SparksConfig
from sparks_gui.engine.events import EpochEnd, Finished, StepProgress
from sparks_gui.engine.process import ProcessTrainer
from sparks_gui.engine.trainer import Trainer

TINY = dict(target="hand_pos", epochs=2, batch_size=4, bin_factor=4, latent_dim=2, embed_dim=8, tau_p=3)


def _rec():
    return make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3)


def test_process_trainer_matches_in_process_training():
    rec = _rec()
    local = Trainer(SparksConfig(**TINY), rec)
    local_events = list(local.run())
    remote = ProcessTrainer(SparksConfig(**TINY), rec, nice=0)
    remote_events = list(remote.run())
    assert [type(e) for e in remote_events] == [type(e) for e in local_events]
    assert isinstance(remote_events[-1], Finished) and not remote_events[-1].cancelled
    a = [e.test_loss for e in local_events if isinstance(e, EpochEnd)]
    b = [e.test_loss for e in remote_events if isinstance(e, EpochEnd)]
    assert len(a) == len(b) == 2 and abs(a[-1] - b[-1]) < 1e-4
    # the parent's shadow trainer holds the child's final weights
    for (name, w), v in zip(local.model.state_dict().items(), remote.trainer.model.state_dict().values(), strict=False):
        torch.testing.assert_close(v, w, rtol=1e-4, atol=1e-5, msg=name)
    assert len(remote.trainer.history) == 2


def test_process_trainer_cancel_stops_the_child():
    remote = ProcessTrainer(SparksConfig(**{**TINY, "epochs": 200}), _rec(), nice=0)
    seen = []
    for ev in remote.run():
        seen.append(ev)
        if isinstance(ev, StepProgress) and ev.step == 2:
            remote.cancel()
    assert isinstance(seen[-1], Finished) and seen[-1].cancelled
    assert len([e for e in seen if isinstance(e, StepProgress)]) <= 4  # stopped within a batch or two
    assert remote._process is not None and not remote._process.is_alive()
