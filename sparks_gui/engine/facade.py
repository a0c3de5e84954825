"""``Sparks``: a scikit-learn-style estimator over the engine (fit / transform / predict / save / load)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.recording import Recording
from ..errors import SparksError
from ..model.sparks import SparksModel, pick_device, prediction_from_output
from . import runs
from .config import SparksConfig
from .dataset import PreparedData, as_recording, rebin
from .events import Event, Failed, Finished
from .inference import attention_at, check_mode, example_length, run_continuous
from .mtm import mtm_rates, mtm_scores, trained_token
from .targets import target_values
from .trainer import Trainer


class Sparks:
    """Train SPARKS and read out latents, predictions and attention.

    Examples
    --------
    >>> from sparks_gui import Sparks, SparksConfig
    >>> from sparks_gui.data.synthetic import make_reach
    >>> model = Sparks(SparksConfig(epochs=5)).fit(make_reach(), target="hand_pos")  # doctest: +SKIP
    >>> model.transform().shape  # [trials, d, T]                                    # doctest: +SKIP
    """

    def __init__(self, config: SparksConfig | None = None, **overrides):
        self.config = (config or SparksConfig()).replace(**overrides) if overrides else (config or SparksConfig())
        self.model: SparksModel | None = None
        self.data_: PreparedData | None = None
        self.recording_: Recording | None = None
        self.history_: list[dict[str, Any]] = []
        self.metrics_: dict[str, Any] = {}
        self._meta: dict[str, Any] = {}
        self._fresh_sessions: set[int] = set()

    # --------------------------------------------------------------------- fit
    def _drive(self, trainer, callback) -> None:
        """Run ``trainer``'s events to the end: ``callback`` sees each, a failure raises, the final metrics stay."""
        for event in trainer.run():
            if callback is not None:
                callback(event)
            if isinstance(event, Failed):
                raise SparksError(event.message)
            if isinstance(event, Finished):
                self.metrics_ = dict(event.metrics)

    def fit(
        self,
        recording,
        target: str | np.ndarray | None = None,
        dt: float | None = None,
        kind: str = "spikes",
        callback: Callable[[Event], None] | None = None,
    ) -> Sparks:
        """Train on ``recording`` (a Recording, [N, T] or [trials, N, T] array).

        ``target`` is a behaviour name, ``"unsupervised"``, or (for arrays) the
        reference signal itself: [T, k] or [trials, T, k].  ``callback`` receives
        every trainer event.  Raises :class:`SparksError` when training fails.
        """
        rec = as_recording(recording, dt=dt or 0.001, kind=kind, target=target)
        cfg = self.config
        if target is not None:
            cfg = cfg.replace(target=target if isinstance(target, str) else "target")
        self.config = cfg
        trainer = Trainer(cfg, rec)
        self._drive(trainer, callback)
        self.config = trainer.config  # "auto" fields resolved from the recording
        self.model, self.data_, self.recording_ = trainer.model, trainer.data, rec
        self.history_ = trainer.history
        self._meta = runs.data_meta(trainer.data, trainer)  # with MtM: held-out neurons, schemes, regions
        return self

    # ---------------------------------------------------------------- readouts
    def _check_fitted(self) -> SparksModel:
        if self.model is None:
            raise SparksError(
                "This Sparks model has not been trained yet.", "Call fit(...) or Sparks.load(path) first."
            )
        return self.model

    def _inputs(self, recording) -> tuple[np.ndarray, bool]:
        """[n, N, L] examples and whether the input was continuous ([N, T]).

        New data is given at its original bin width and goes through the same
        preparation as the training data (neuron selection, ``bin_factor``).
        """
        if recording is None:
            if self.data_ is None:
                raise SparksError("No data to transform.", "Pass a recording or array.")
            return self.data_.x, False
        kind = self._meta.get("kind", "spikes")
        if isinstance(recording, Recording):
            if self.config.neurons is not None:
                recording = recording.select(neurons=self.config.neurons)
            kind = recording.kind
            if recording.trials is not None and recording.n_trials >= 2:
                x, continuous = recording.trial_tensor(), False
            else:
                x, continuous = recording.activity[None], True
        else:
            arr = np.asarray(recording, dtype=np.float32)
            if arr.ndim not in (2, 3):
                raise SparksError(f"Expected [N, T] or [trials, N, T], got shape {arr.shape}.", "Reshape the array.")
            x, continuous = (arr[None], True) if arr.ndim == 2 else (arr, False)
        x = rebin(x, self.config.bin_factor, kind)
        return np.ascontiguousarray(x, dtype=np.float32), continuous

    def _check_neurons(self, x: np.ndarray, session: int) -> SparksModel:
        model = self._check_fitted()
        n_expected = model.sessions[session].n_neurons
        if x.shape[1] != n_expected:
            raise SparksError(
                f"The data has {x.shape[1]} neurons; session {session} of the model expects {n_expected}.",
                "Pass the same neurons as in training, or add_session() for a new recording.",
            )
        return model

    @torch.no_grad()
    def _run(self, x: np.ndarray, session: int, batch_size: int = 64):
        """Each example from a reset state: mu [n, L, d], predictions in data units [n, L, tau_f, k]."""
        model = self._check_neurons(x, session)
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        mus, preds = [], []
        for s in range(0, len(x), batch_size):
            out = model(torch.from_numpy(np.ascontiguousarray(x[s : s + batch_size])).to(device), session, sample=False)
            mus.append(out.mu.float().cpu().numpy())
            preds.append(prediction_from_output(out.pred, self._meta["loss"]).float().cpu().numpy())
        model.train(was_training)
        return np.concatenate(mus), np.concatenate(preds)

    @property
    def example_length(self) -> int:
        """Bins per training example (after ``bin_factor``): the window length of whole-recording inference."""
        return example_length(self.config, self._meta)

    def _run_continuous(self, x: np.ndarray, session: int, mode: str, warmup: int | None, crossfade: int | None):
        """mu [T, d] and predictions [T, tau_f, k] of one continuous recording ``x`` [1, N, T]."""
        model = self._check_neurons(x, session)
        res = run_continuous(model, x[0], session, self._meta["loss"], self.example_length, warmup, mode, crossfade)
        return res["mu"], res["pred"]

    def transform(
        self,
        recording=None,
        session: int = 0,
        mode: str = "windowed",
        warmup: int | None = None,
        crossfade: int | None = None,
    ) -> np.ndarray:
        """Latent means: [trials, d, T] for trial data, [T, d] for a continuous recording.

        Without ``recording``: the training examples.  Trials (and the training examples) are
        each run from a reset state, as in training.  A continuous recording is run in
        overlapping windows of the training example length ``L`` (:attr:`example_length`,
        model bins) with a warm-up of ``warmup`` bins (default ``L // 2``), handed over with a
        linear crossfade of ``crossfade`` bins (default ``L // 10``; 0 = each bin exactly from
        the window that owns it); see :mod:`sparks_gui.engine.inference`.  Every latent has
        seen between ``warmup`` and ``L`` bins of history, as in training, so the latents of an
        hour-long recording stay where training put them.  ``mode="single_pass"`` runs the
        recording in one pass instead (the old behaviour: the state is never reset, leaves the
        range seen in training on long recordings, and the latents drift or collapse).
        """
        check_mode(mode)
        x, continuous = self._inputs(recording)
        if continuous:
            return self._run_continuous(x, session, mode, warmup, crossfade)[0]
        mu, _ = self._run(x, session)
        return np.transpose(mu, (0, 2, 1))

    def predict(
        self,
        recording=None,
        session: int = 0,
        mode: str = "windowed",
        warmup: int | None = None,
        crossfade: int | None = None,
        heldout_neurons=None,
    ) -> np.ndarray:
        """Decoded reference for the first future step, in data units: [trials, T, k] or [T, k].

        Entry t predicts the reference at t + target_offset.  ``mode``, ``warmup``, ``crossfade``: as in
        :meth:`transform` (continuous recordings only).

        ``heldout_neurons`` (models trained with ``objective="mtm"``): hide these neurons from the
        encoder and return every neuron's predicted rate (expected count per bin; values for
        calcium) from the others instead, [trials, N, T] or [N, T] -- co-smoothing.
        """
        check_mode(mode)
        x, continuous = self._inputs(recording)
        if heldout_neurons is not None:
            mask = np.zeros(x.shape[1:], dtype=bool)
            mask[self._heldout_index(heldout_neurons, x.shape[1])] = True
            rates = self._mtm_rates(x, continuous, mask, "neuron", session, mode, warmup, crossfade)
            return rates[0] if continuous else rates
        if continuous:
            pred = self._run_continuous(x, session, mode, warmup, crossfade)[1][None]
        else:
            _, pred = self._run(x, session)
        pred = pred[:, :, 0]
        if self._meta["loss"] == "mse":
            pred = pred * self._meta["r_std"] + self._meta["r_mean"]
        return pred[0] if continuous else pred

    @staticmethod
    def _heldout_index(heldout_neurons, n: int) -> np.ndarray:
        idx = np.asarray(heldout_neurons)
        idx = np.flatnonzero(idx) if idx.dtype == bool else idx.astype(np.int64).ravel()
        if idx.size == 0 or idx.min() < 0 or idx.max() >= n or idx.size >= n:
            raise SparksError(
                f"heldout_neurons must be some (not all) of the neuron indices 0..{n - 1}.",
                "Pass the indices of the neurons to hide, e.g. a fifth of them.",
            )
        return idx

    def _likelihood(self) -> str:
        return "gaussian" if self._meta.get("kind", "spikes") == "calcium" else "poisson"

    def _mtm_rates(
        self,
        x: np.ndarray,
        continuous: bool,
        mask: np.ndarray,
        scheme: str,
        session: int,
        mode: str = "windowed",
        warmup: int | None = None,
        crossfade: int | None = None,
    ) -> np.ndarray:
        """Predicted rates [n, N, T] with ``mask`` [N, T] hidden from the encoder (MtM models).

        The read-out is per bin (latent of bin t -> rates of bin t), so a continuous recording
        reuses the windowed latents of :meth:`transform` on the masked input.
        """
        model = self._check_neurons(x, session)
        if getattr(model, "mtm_head", None) is None:
            raise SparksError(
                "Predicting held-out neurons needs a masked-modelling read-out; this model was trained "
                "with objective='pcc'.",
                "Train with objective='mtm' (SparksConfig(objective='mtm')).",
            )
        token = trained_token(scheme, self._meta.get("mtm_schemes"))
        likelihood = self._likelihood()
        if not continuous:
            return mtm_rates(model, x, mask, token, session, likelihood)
        masked = np.where(mask, 0.0, x[0]).astype(np.float32)
        mu = run_continuous(model, masked, session, self._meta["loss"], self.example_length, warmup, mode, crossfade)[
            "mu"
        ]
        device = next(model.parameters()).device
        with torch.no_grad():
            log_rate = model.mtm_log_rates(torch.from_numpy(np.ascontiguousarray(mu[None])).to(device), token, session)
            out = torch.exp(log_rate) if likelihood == "poisson" else log_rate
        return out.float().cpu().numpy()

    def attention(
        self,
        recording=None,
        example: int = 0,
        session: int = 0,
        every: int = 1,
        times=None,
        mode: str = "windowed",
        warmup: int | None = None,
        crossfade: int | None = None,
    ) -> np.ndarray:
        """Attention matrices over time: [n_times, H, N, N] ([.., N, K] for sparse partners).

        Trials / training examples: example ``example`` from a reset state, every ``every``-th
        step.  A continuous recording: the bins ``times`` (default every ``every``-th bin),
        each from the window that owns it (never blended; ``mode``, ``warmup``, ``crossfade`` as in
        :meth:`transform`, so the windows are those of the latents).
        ``times`` for trials are steps of the example.
        """
        model = self._check_fitted()
        check_mode(mode)
        x, continuous = self._inputs(recording)
        self._check_neurons(x, session)
        if continuous:
            t = np.arange(0, x.shape[-1], max(1, int(every))) if times is None else np.asarray(times)
            return attention_at(model, x[0], t, session, self.example_length, warmup, mode, crossfade)
        if not 0 <= example < len(x):
            raise SparksError(
                f"Example {example} is out of range (0..{len(x) - 1}).", "Pick an existing trial/example."
            )
        enc = model.sessions[session]
        if not getattr(enc, "has_attention", True):
            raise SparksError(
                "This model's encoder has no attention matrices.",
                "Train a Hebbian or dot_attention encoder to inspect attention.",
            )
        device = next(model.parameters()).device
        with torch.no_grad():
            Aseq, _ = enc.attention_sequence(torch.from_numpy(x[example : example + 1]).to(device))
        steps = np.arange(0, Aseq.shape[2], max(1, int(every))) if times is None else np.asarray(times, dtype=np.int64)
        return Aseq[0][:, torch.from_numpy(steps).to(Aseq.device)].transpose(0, 1).float().cpu().numpy()

    def score(self, recording=None, heldout_neurons=None, session: int = 0) -> dict[str, Any]:
        """Evaluate the fitted model.

        Without arguments: the held-out metrics of the last fit (R2 for behaviour, NLL for spikes,
        co-smoothing bits/spike for MtM).  With ``recording``: metrics *on that recording*:

        * models trained with ``objective="mtm"``: co-smoothing with ``heldout_neurons`` hidden
          (default: the fit's held-out neurons), forward prediction of the last 20 % of each
          example's steps and, when the recording has region labels, inter-region prediction;
          bits per spike for spikes (``cosmooth_bps``, ``forward_bps``, ``inter_region_bps``),
          R2 for calcium (see :func:`sparks_gui.engine.mtm.mtm_scores`);
        * PCC models with a behaviour target: R2 of :meth:`predict` against the recording's
          target (``r2``, ``r2_per_variable``).

        A continuous recording is cut into consecutive examples of :attr:`example_length` bins.
        """
        model = self._check_fitted()
        if recording is None and heldout_neurons is None:
            return dict(self.metrics_)
        if recording is None:
            if self.recording_ is None:
                raise SparksError(
                    "No recording to score.", "Pass the recording: score(recording, heldout_neurons=...)."
                )
            recording = self.recording_
        if getattr(model, "mtm_head", None) is not None:
            return self._score_mtm(recording, heldout_neurons, session)
        if heldout_neurons is not None:
            raise SparksError(
                "Co-smoothing (heldout_neurons) needs a masked-modelling read-out; this model was "
                "trained with objective='pcc'.",
                "Train with objective='mtm', or call score(recording).",
            )
        return self._score_pcc(recording, session)

    def _examples(self, recording, session: int) -> np.ndarray:
        x, continuous = self._inputs(recording)
        self._check_neurons(x, session)
        if not continuous:
            return x
        L = self.example_length
        n = x.shape[-1] // L
        if n < 1:
            raise SparksError(
                f"The recording has {x.shape[-1]} bins, fewer than one example ({L}).", "Score a longer recording."
            )
        return np.ascontiguousarray(np.moveaxis(x[0, :, : n * L].reshape(x.shape[1], n, L), 1, 0))

    def _score_mtm(self, recording, heldout_neurons, session: int) -> dict[str, Any]:
        x = self._examples(recording, session)
        held = heldout_neurons
        if held is None and session == 0:
            held = self._meta.get("heldout_neurons")
        regions = None
        if isinstance(recording, Recording):
            from ..data.regions import neuron_regions

            regions = neuron_regions(recording)
            if regions is not None and self.config.neurons is not None:
                regions = np.asarray(regions)[np.asarray(self.config.neurons)]
        elif session == 0:  # an array: the fit's labels, if it has as many neurons
            regions = self._meta.get("regions")
        return mtm_scores(
            self._check_fitted(), x, session, self._likelihood(), held, regions, trained=self._meta.get("mtm_schemes")
        )

    def _score_pcc(self, recording, session: int) -> dict[str, Any]:
        from ..analysis.decoding import r2_per_variable

        target, loss = self._meta.get("target"), self._meta.get("loss")
        if loss != "mse" or not isinstance(recording, Recording):
            raise SparksError(
                f"score(recording) reports R2 of a behaviour target; this model predicts '{target}' ({loss}).",
                "Pass a Recording holding the behaviour it was trained on, or train "
                "with objective='mtm' and score held-out neurons.",
            )
        rec = recording.select(neurons=self.config.neurons) if self.config.neurons is not None else recording
        values = target_values(rec, target)
        trials = rec.trials is not None and rec.n_trials >= 2
        true = rec.trial_tensor(values) if trials else values[None]
        true = np.moveaxis(rebin(np.moveaxis(true, 1, 2), self.config.bin_factor, "calcium"), 2, 1)
        pred = self.predict(recording, session)
        pred = pred if trials else pred[None]
        off = int(self._meta.get("target_offset", 0))
        T = min(pred.shape[1], true.shape[1])
        p, t = pred[:, : T - off], true[:, off:T]
        per = r2_per_variable(t.reshape(-1, t.shape[-1]), p.reshape(-1, p.shape[-1]))
        return {"r2": float(np.nanmean(per)), "r2_per_variable": [float(v) for v in per]}

    # ------------------------------------------------------------ multi-session
    def fit_sessions(
        self, recordings, dt: float | None = None, kind: str = "spikes", callback: Callable[[Event], None] | None = None
    ) -> Sparks:
        """Pre-train one model over several recordings (session k = ``recordings[k]``).

        Each session has its own input layer (encoder) and, with ``objective="mtm"``, its own rate
        read-out; the rest is shared (see :mod:`sparks_gui.engine.multisession`).  Then add an
        unseen recording with :meth:`add_session` and fine-tune it with :meth:`fit_session`.
        The auto settings are resolved on the first recording.
        """
        from .multisession import MultiSessionTrainer

        recs = [as_recording(r, dt=dt or 0.001, kind=kind) for r in recordings]
        trainer = MultiSessionTrainer(self.config, recs)
        self._drive(trainer, callback)
        lead = trainer.trainers[0]
        self.config = trainer.config
        self.model, self.data_, self.recording_ = trainer.model, lead.data, recs[0]
        self.history_ = trainer.history
        self._meta = runs.data_meta(lead.data, lead)
        return self

    def add_session(self, n_neurons: int) -> int:
        """Add an encoder (and, for MtM, a rate read-out) for a new recording with ``n_neurons`` neurons."""
        session = self._check_fitted().add_session(n_neurons)
        self._fresh_sessions.add(session)
        return session

    def fit_session(
        self,
        recording,
        session: int,
        target=None,
        freeze_shared: bool = False,
        dt=None,
        kind="spikes",
        callback=None,
        config: SparksConfig | None = None,
    ) -> Sparks:
        """Fine-tune session ``session`` (see :meth:`add_session`) on ``recording``.

        ``freeze_shared`` trains only the session's own layers; ``config`` replaces the training
        settings for this fine-tuning (e.g. fewer epochs); the architecture stays the model's.
        """
        model = self._check_fitted()
        rec = as_recording(recording, dt=dt or self._meta.get("dt", 0.001), kind=kind, target=target)
        cfg = self.config if config is None else config
        cfg = cfg if target is None else cfg.replace(target=target if isinstance(target, str) else "target")
        params = model.session_parameters(session) if freeze_shared else None
        trainer = Trainer(
            cfg, rec, model=model, session=session, parameters=params, init_rates=session in self._fresh_sessions
        )
        self._fresh_sessions.discard(session)
        self._drive(trainer, callback)
        return self

    # ------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write model, config and normalisation to ``path`` (atomic; ``model.pt`` format, see
        :mod:`sparks_gui.engine.runs`)."""
        model = self._check_fitted()
        return runs.save_model(path, model, self.config, self.history_, self._meta)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> Sparks:
        """Read a model written by :meth:`save`, a run folder of the CLI or GUI, or its model.pt /
        checkpoint.pt (:func:`sparks_gui.engine.runs.load_run`)."""
        run = runs.load_run(path)
        est = cls(run.config)
        est.model = run.model.to(pick_device(device))
        est._meta = dict(run.meta)
        est.history_ = list(run.history)
        est.metrics_ = dict(est.history_[-1]) if est.history_ else {}
        return est
