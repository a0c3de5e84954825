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
from .checkpoint import load_checkpoint, save_checkpoint
from .config import SparksConfig
from .dataset import rebin, PreparedData, as_recording
from .events import Event, Failed, Finished
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

    # --------------------------------------------------------------------- fit
    def fit(
        self,
        recording,
        target: str | np.ndarray | None = None,
        dt: float | None = None,
        kind: str = "spikes",
        callback: Callable[[Event], None] | None = None,
    ) -> "Sparks":
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
        for event in trainer.run():
            if callback is not None:
                callback(event)
            if isinstance(event, Failed):
                raise SparksError(event.message)
            if isinstance(event, Finished):
                self.metrics_ = dict(event.metrics)
        self.model, self.data_, self.recording_ = trainer.model, trainer.data, rec
        self.history_ = trainer.history
        self._meta = self._data_meta(trainer.data)
        return self

    @staticmethod
    def _data_meta(d: PreparedData) -> dict[str, Any]:
        return {"r_mean": d.r_mean, "r_std": d.r_std, "loss": d.loss, "target": d.target_name,
                "target_offset": d.target_offset, "dt": d.dt, "kind": d.kind}

    # ---------------------------------------------------------------- readouts
    def _check_fitted(self) -> SparksModel:
        if self.model is None:
            raise SparksError("This Sparks model has not been trained yet.", "Call fit(...) or Sparks.load(path) first.")
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

    @torch.no_grad()
    def _run(self, x: np.ndarray, session: int, batch_size: int = 64):
        model = self._check_fitted()
        n_expected = model.sessions[session].n_neurons
        if x.shape[1] != n_expected:
            raise SparksError(f"The data has {x.shape[1]} neurons; session {session} of the model expects {n_expected}.",
                              "Pass the same neurons as in training, or add_session() for a new recording.")
        device = next(model.parameters()).device
        model.eval()
        mus, preds = [], []
        for s in range(0, len(x), batch_size):
            out = model(torch.from_numpy(np.ascontiguousarray(x[s : s + batch_size])).to(device), session, sample=False)
            mus.append(out.mu.cpu().numpy())
            preds.append(prediction_from_output(out.pred, self._meta["loss"]).float().cpu().numpy())
        model.train()
        return np.concatenate(mus), np.concatenate(preds)

    def transform(self, recording=None, session: int = 0) -> np.ndarray:
        """Latent means: [trials, d, T] for trial data, [T, d] for a continuous recording."""
        x, continuous = self._inputs(recording)
        mu, _ = self._run(x, session)
        return mu[0] if continuous else np.transpose(mu, (0, 2, 1))

    def predict(self, recording=None, session: int = 0) -> np.ndarray:
        """Decoded reference for the first future step, in data units: [trials, T, k] or [T, k].

        Entry t predicts the reference at t + target_offset.
        """
        x, continuous = self._inputs(recording)
        _, pred = self._run(x, session)
        pred = pred[:, :, 0]
        if self._meta["loss"] == "mse":
            pred = pred * self._meta["r_std"] + self._meta["r_mean"]
        return pred[0] if continuous else pred

    def attention(self, recording=None, example: int = 0, session: int = 0, every: int = 1) -> np.ndarray:
        """Attention matrices of one example over time: [T // every, H, N, N]."""
        model = self._check_fitted()
        x, _ = self._inputs(recording)
        device = next(model.parameters()).device
        with torch.no_grad():
            Aseq, _ = model.sessions[session].attention_sequence(torch.from_numpy(x[example : example + 1]).to(device))
        return Aseq[0, :, ::every].permute(1, 0, 2, 3).cpu().numpy()

    def score(self, recording=None) -> dict[str, Any]:
        """Held-out metrics of the last fit (R2 for behaviour, NLL vs mean rate for spikes)."""
        self._check_fitted()
        return dict(self.metrics_)

    # ------------------------------------------------------------ multi-session
    def add_session(self, n_neurons: int) -> int:
        """Add an encoder for a new recording with ``n_neurons`` neurons (shared decoder)."""
        return self._check_fitted().add_session(n_neurons)

    def fit_session(self, recording, session: int, target=None, freeze_shared: bool = False, dt=None, kind="spikes",
                    callback=None) -> "Sparks":
        """Fine-tune session ``session`` (see :meth:`add_session`) on ``recording``."""
        model = self._check_fitted()
        rec = as_recording(recording, dt=dt or self._meta.get("dt", 0.001), kind=kind, target=target)
        cfg = self.config if target is None else self.config.replace(target=target if isinstance(target, str) else "target")
        params = list(model.sessions[session].parameters()) if freeze_shared else None
        trainer = Trainer(cfg, rec, model=model, session=session, parameters=params)
        for event in trainer.run():
            if callback is not None:
                callback(event)
            if isinstance(event, Failed):
                raise SparksError(event.message)
            if isinstance(event, Finished):
                self.metrics_ = dict(event.metrics)
        return self

    # ------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write model, config and normalisation to ``path`` (atomic)."""
        model = self._check_fitted()
        return save_checkpoint(path, model, None, self.config, len(self.history_), history=self.history_, data_meta=self._meta)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> "Sparks":
        ck = load_checkpoint(path)
        est = cls(SparksConfig.from_dict(ck["config"]))
        model = SparksModel.from_spec(ck["model_spec"])
        model.load_state_dict(ck["model"])
        est.model = model.to(pick_device(device))
        est._meta = dict(ck["data_meta"])
        est.history_ = list(ck.get("history", []))
        est.metrics_ = dict(est.history_[-1]) if est.history_ else {}
        return est
