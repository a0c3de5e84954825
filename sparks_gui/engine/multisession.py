"""Pre-training one model over several recordings: per-session input layers, everything else shared.

Each recording (session) gets its own encoder (its neuron count and Hebbian traces) and, for
``objective="mtm"``, its own rate read-out; the conventional blocks, the decoder, the MtM trunk
and the task token are shared.  Every epoch visits each session's training examples once, in
batches interleaved at random across sessions, with one optimiser over all parameters, so no
session's gradients dominate the shared part.  An unseen recording is then added with
:meth:`Sparks.add_session` and fine-tuned with :meth:`Sparks.fit_session`.

:class:`MultiSessionTrainer` is a generator of the same events as :class:`Trainer`
(``Started``, ``StepProgress``, ``EpochEnd``, ``Finished`` or ``Failed``); metrics of an epoch are
each session's held-out metrics prefixed ``s<k>_`` plus their mean under the plain name.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import SparksError
from .config import SparksConfig
from .events import EpochEnd, Event, Failed, Finished, Started, StepProgress
from .trainer import Trainer


class MultiSessionTrainer:
    """Train one model on ``recordings`` (a list of :class:`Recording`), one session each."""

    def __init__(self, config: SparksConfig, recordings: Sequence[Any]):
        recordings = list(recordings)
        if len(recordings) < 1:
            raise SparksError("Pre-training needs at least one recording.", "Pass a list of recordings.")
        first = Trainer(config, recordings[0])
        config = first.config  # "auto" fields resolved on the first recording, then shared
        if config.neurons is not None and len(recordings) > 1:
            raise SparksError(
                "config.neurons selects neurons of one recording; sessions differ in their neurons.",
                "Leave neurons unset (None) when pre-training over several recordings.",
            )
        model = first.model
        self.trainers = [first]
        for rec in recordings[1:]:
            n = rec.n_neurons
            if config.objective != "mtm":
                probe = Trainer(config, rec, model=None)  # the target's width on this recording
                if probe.data.n_out != first.data.n_out:
                    raise SparksError(
                        f"The sessions' targets differ in width ({first.data.n_out} vs {probe.data.n_out}): "
                        "the shared decoder cannot predict both.",
                        "Use objective='mtm' (per-session read-outs) or a behaviour target every session has.",
                    )
            session = model.add_session(n)
            self.trainers.append(Trainer(config, rec, model=model, session=session, init_rates=True))
        self.config = config
        self.model = model
        self.history: list[dict[str, Any]] = []
        self.metrics: dict[str, Any] = {}
        self._cancel = False

    def cancel(self) -> None:
        self._cancel = True

    def run(self) -> Iterator[Event]:
        try:
            yield from self._run()
        except SparksError as exc:
            yield Failed(len(self.history), str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the caller with its traceback
            yield Failed(
                len(self.history), f"{type(exc).__name__}: {exc}", traceback="".join(traceback.format_exception(exc))
            )

    def _run(self) -> Iterator[Event]:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        lead = self.trainers[0]
        generator = torch.Generator(device=lead.device)
        generator.manual_seed(cfg.seed)
        optimiser = torch.optim.Adam(lead._param_groups(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        batches_per = [math.ceil(len(t.data.train_idx) / cfg.batch_size) for t in self.trainers]
        if min(batches_per) == 0:
            raise SparksError("A session has no training examples after the split.", "Use longer recordings.")
        steps_per_epoch = sum(batches_per)
        total = steps_per_epoch * cfg.epochs
        n_train = sum(len(t.data.train_idx) for t in self.trainers)
        n_test = sum(len(t.data.test_idx) for t in self.trainers)
        yield Started(
            0,
            total,
            steps_per_epoch,
            n_train,
            n_test,
            str(lead.device),
            lead.data.target_name,
            lead.data.loss,
            n_neurons=lead.data.n_neurons,
        )
        t_start = time.perf_counter()
        step = 0
        for epoch in range(cfg.epochs):
            rng = np.random.default_rng((cfg.seed, epoch, 7))
            orders = [rng.permutation(t.data.train_idx) for t in self.trainers]
            schedule = rng.permutation(np.repeat(np.arange(len(self.trainers)), batches_per))
            cursor = [0] * len(self.trainers)
            running, count = 0.0, 0
            for s in schedule:
                tr = self.trainers[s]
                b = cursor[s]
                cursor[s] += 1
                sel = np.sort(orders[s][b * cfg.batch_size : (b + 1) * cfg.batch_size])
                loss = tr._train_batch(tr._tensor(tr.data.x[sel]), tr._tensor(tr.data.r[sel]), optimiser, generator)
                if not math.isfinite(loss):
                    yield Failed(
                        epoch,
                        f"Training stopped: the loss became NaN/inf in epoch {epoch + 1} "
                        f"(session {s}). Lower the learning rate (lr={cfg.lr}).",
                    )
                    return
                running += loss * len(sel)
                count += len(sel)
                step += 1
                elapsed = time.perf_counter() - t_start
                yield StepProgress(epoch, step, total, loss, elapsed, elapsed / step * (total - step), 0.0)
                if self._cancel:
                    self.metrics = {"epochs_completed": epoch, "cancelled": True}
                    yield Finished(epoch, self.metrics, self.history, cancelled=True)
                    return
            record: dict[str, Any] = {"epoch": epoch + 1, "train_loss": running / count}
            if epoch == cfg.epochs - 1 or (epoch + 1) % cfg.eval_every == 0:
                record.update(self.evaluate())
            self.history.append(record)
            elapsed = time.perf_counter() - t_start
            yield EpochEnd(
                epoch,
                record["train_loss"],
                record.get("test_loss"),
                {k: v for k, v in record.items() if isinstance(v, float) and k not in ("train_loss",)},
                elapsed,
                elapsed / max(step, 1) * (total - step),
            )
        self.metrics = dict(self.history[-1]) if self.history else {}
        self.metrics["epochs_completed"] = cfg.epochs
        yield Finished(cfg.epochs - 1, self.metrics, self.history)

    def evaluate(self) -> dict[str, Any]:
        """Each session's held-out metrics (``s<k>_<name>``) and their mean (``<name>``)."""
        out: dict[str, Any] = {}
        pooled: dict[str, list[float]] = {}
        for k, tr in enumerate(self.trainers):
            if not len(tr.data.test_idx):
                continue
            ev = tr.evaluate(tr.data.test_idx)
            values = {"test_loss": ev["loss"], **ev["metrics"]}
            for name, v in values.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[f"s{k}_{name}"] = float(v)
                    pooled.setdefault(name, []).append(float(v))
        out.update({name: float(np.mean(v)) for name, v in pooled.items()})
        return out
