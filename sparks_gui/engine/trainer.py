"""The training engine: :class:`Trainer.run` is a generator of typed events.

The CLI consumes it with a progress bar, the GUI inside a napari thread worker,
tests directly.  The trainer never knows who listens.  ``cancel()`` may be
called from any thread; it takes effect after the current batch.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..analysis.decoding import binary_cross_entropy, frame_correlation, poisson_nll, r2_per_variable
from ..data.recording import Recording
from ..errors import SparksError
from ..model.hebbian import TRACE_PARAMETERS, one_step_gradients
from ..model.masking import available_schemes, mask_entries, mask_mixed, masked_loss
from ..model.sparks import (
    SparksModel,
    autocast,
    autocast_dtype,
    kl_divergence,
    pick_device,
    prediction_from_output,
    reconstruction_loss,
)
from .checkpoint import load_checkpoint, save_training_checkpoint
from .config import SparksConfig
from .dataset import PreparedData, prepare
from .defaults import resolve as resolve_defaults
from .defaults import resolve_for_data
from .events import (
    AttentionSnapshot,
    CheckpointWritten,
    EpochEnd,
    Event,
    Failed,
    Finished,
    LatentSnapshot,
    Predictions,
    Started,
    StepProgress,
)
from .memory import check_memory
from .mtm import default_heldout, mtm_rates, mtm_scores

ATTENTION_SEQUENCE_BYTES = 64e6
"""Attention sequences in snapshots are subsampled in time to stay under this size."""


def build_model(config: SparksConfig, data: PreparedData) -> SparksModel:
    """A fresh model for ``data`` under ``config``."""
    sparse = 0 < config.hebbian_partners < data.n_neurons and config.encoder.startswith("hebbian")
    extra = {"n_partners": config.hebbian_partners} if sparse else {}
    model = SparksModel(
        data.n_neurons,
        n_out=data.n_out,
        latent_dim=config.latent_dim,
        embed_dim=config.embed_dim,
        n_heads=config.n_heads,
        tau_p=config.tau_p,
        tau_f=config.tau_f,
        n_conv_blocks=config.n_conv_blocks,
        conv_heads=config.conv_heads,
        decoder_layers=config.decoder_layers,
        dt=data.dt,
        tau_s=config.tau_s,
        w_start=config.w_start,
        stdp_rule=config.stdp_rule,
        kind=data.kind,
        learn_traces=config.learn_traces,
        token_ff=config.token_ff,
        input_residual=config.input_residual,
        backend=config.hebbian_backend,
        encoder=config.encoder,
        mtm_outputs=data.n_neurons if config.objective == "mtm" else 0,
        **extra,
    )
    if sparse and config.partner_selection == "correlation":
        from ..model.hebbian import correlation_partners

        train = data.x[data.train_idx]  # [n, N, L]: partners from the training examples only
        activity = np.concatenate(list(train), axis=1)
        model.sessions[0].hebbian.set_partners(correlation_partners(activity, config.hebbian_partners))
    return model


def target_windows(r: torch.Tensor, t0: int, n_steps: int, offset: int, tau_f: int):
    """Targets r[t + offset + f] for t in [t0, t0 + n_steps), f < tau_f: ([B, n, tau_f, k], valid mask [n, tau_f])."""
    L = r.shape[1]
    idx = t0 + torch.arange(n_steps)[:, None] + offset + torch.arange(tau_f)[None, :]
    valid = idx < L
    return r[:, idx.clamp(max=L - 1)], valid.to(r.device)


MIN_HELD_OUT_VARIANCE = 1e-3
"""Targets are z-scored with training statistics: a held-out variable varying less than this is
(nearly) constant there, and its R2 would be a meaningless huge number (NaN instead)."""
NLL_EPS = 1e-6
"""Floor of predicted rates / probabilities in the held-out NLL and BCE."""


def _finite_r2(true: np.ndarray, pred: np.ndarray, min_variance: float = 0.0) -> np.ndarray:
    """``analysis.r2_per_variable`` of [n, k] arrays; NaN for variables with non-finite predictions."""
    k = true.shape[-1]
    ok = np.isfinite(pred).all(0)
    per = np.full(k, np.nan)
    if ok.any() and len(true) >= 2:
        per[ok] = r2_per_variable(true[:, ok], pred[:, ok], min_variance=min_variance)
    return per


def prediction_scores(pred: np.ndarray, true: np.ndarray, offset: int, loss: str, target: str) -> dict[str, Any]:
    """The scores a :class:`Predictions` snapshot carries (computed with :mod:`sparks_gui.analysis`).

    ``pred`` [n, T, k] (class ids [n, T]) and ``true`` [n, T, k] in data units; entry t of ``pred``
    predicts ``true`` at t + ``offset``.  Returns ``accuracy`` (frame ids), ``frame_correlation``
    [n, T - offset] (decoded image frames) and ``r2_per_variable`` [k] (regression targets); the
    keys that do not apply are absent.
    """
    p = np.asarray(pred)
    p = p[..., None] if p.ndim == 2 else p
    t_all = np.asarray(true)
    T = p.shape[1] - offset
    p, t = p[:, :T], t_all[:, offset : offset + T]
    if target == "frame_id":
        return {"accuracy": float(np.mean(p[..., 0] == t[..., 0]))}
    if loss != "mse" or p.shape != t.shape or T < 1:
        return {}
    k = t.shape[-1]
    out: dict[str, Any] = {"r2_per_variable": _finite_r2(t.reshape(-1, k), p.reshape(-1, k))}
    if target == "frames":
        out["frame_correlation"] = frame_correlation(t, p)
    return out


class Trainer:
    """Train a :class:`SparksModel` on a recording, reporting progress as events.

    Parameters
    ----------
    config
        Hyperparameters, seed and target.
    recording
        The data (ignored when ``data`` is given).
    data
        Already prepared tensors (lets several trainers share one preparation).
    model
        Continue training this model (e.g. fine-tuning) instead of building one.
    session
        Which session encoder of ``model`` this recording feeds.
    resume
        Path of a checkpoint to resume from exactly (model, optimiser, RNG, epoch).
    parameters
        Train only these parameters (e.g. one session's encoder when fine-tuning).
    dist
        A :class:`~sparks_gui.engine.distributed.DistContext`: data-parallel training,
        each process computing its slice of every batch (see ``engine/distributed.py``).
    regions
        One brain-region label per neuron for the MtM region schemes (default: read from
        ``recording.neuron_meta`` by :func:`sparks_gui.data.regions.neuron_regions`).
    init_rates
        MtM with a given ``model``: start this session's rate read-out at the neurons' mean
        rates (a session just added with ``add_session``); a fresh model always does.
    """

    def __init__(
        self,
        config: SparksConfig,
        recording: Recording | None = None,
        data: PreparedData | None = None,
        model: SparksModel | None = None,
        session: int = 0,
        resume: str | Path | None = None,
        parameters=None,
        dist=None,
        regions=None,
        init_rates: bool = False,
    ):
        self.config_notes: dict[str, str] = {}
        """Why each "auto" field of the config got its value (see ``engine/defaults.py``)."""
        if regions is None and recording is not None and config.objective == "mtm":
            from ..data.regions import neuron_regions

            regions = neuron_regions(recording)
            if regions is not None and config.neurons is not None:
                regions = regions[np.asarray(config.neurons)]
        if data is None:
            if recording is None:
                raise SparksError("The trainer needs a recording.", "Pass recording=... or data=...")
            resolved = resolve_defaults(config, recording)
            config, self.config_notes = resolved.config, resolved.notes
            data = prepare(recording, config)
        elif config.auto_fields:
            config = resolve_for_data(
                config,
                data.x,
                len(data.train_idx),
                data.dt,
                None if data.loss != "mse" or data.target_name == "unsupervised" else data.n_out,
            )
        self.config = config
        self.data = data
        self.session = session
        self.dist = dist
        """A :class:`~sparks_gui.engine.distributed.DistContext` for data-parallel training, or None."""
        self.device = dist.device if dist is not None else pick_device(config.device)
        self.memory = check_memory(config, data, self.device, model=model, parameters=parameters)
        """This run's memory estimate (``engine/memory.py``); a config that cannot fit raised SparksError."""
        fresh = model is None
        if fresh:
            with torch.random.fork_rng(devices=[]):  # the initial weights depend on the seed only
                torch.manual_seed(config.seed)
                model = build_model(config, data)
        self.model = model.to(self.device)
        self._amp_dtype = autocast_dtype(config.precision, self.device)
        self._parameters = parameters
        self._resume = resume
        self._cancel = threading.Event()
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        self.last_checkpoint: str | None = None
        self.metrics: dict[str, Any] = {}
        self.regions = None if regions is None else np.asarray(regions).astype(str)
        """MtM: one region label per neuron, or None (region schemes skipped)."""
        self.mtm = config.objective == "mtm"
        self.heldout_neurons = np.array([], dtype=int)
        """MtM: the fixed neurons hidden from the encoder at evaluation (co-smoothing)."""
        if self.mtm:
            if getattr(self.model, "mtm_head", None) is None:
                raise SparksError(
                    "objective='mtm' needs a model with an MtM head; this model was built for PCC.",
                    "Train a new model (model=None) or use objective='pcc'.",
                )
            N = data.n_neurons
            self.heldout_neurons = default_heldout(N, config.seed)
            if (fresh or init_rates) and resume is None:  # rate read-out starts at the neurons' mean rates
                self.model.init_mtm_rates(session, data.x[data.train_idx], self.likelihood)
            self._schemes = available_schemes(self.regions, config.mtm_schemes, N)
            if not self._schemes:
                raise SparksError(
                    f"None of the MtM schemes {list(config.mtm_schemes)} can run: the neurons have no "
                    "region labels (or a single region).",
                    "Add 'neuron' or 'causal' to mtm_schemes, or load a recording with brain_area labels.",
                )

    # ----------------------------------------------------------------- control
    def cancel(self) -> None:
        """Ask the run to stop; it ends after the batch in progress."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def pause(self) -> None:
        """Nothing to do here: an in-process run holds between batches while its consumer stops asking
        for events (:class:`~sparks_gui.engine.protocol.TrainerProtocol`)."""

    def resume(self) -> None:
        """See :meth:`pause`."""

    @property
    def local(self) -> Trainer:
        """This trainer (it holds its data, model and history itself)."""
        return self

    # ------------------------------------------------------------------ helpers
    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device)

    @property
    def likelihood(self) -> str:
        """MtM reconstruction likelihood: Poisson for spikes, Gaussian for calcium."""
        return "gaussian" if self.data.kind == "calcium" else "poisson"

    def _mtm_loss(
        self, xb, masked, mask, scheme, t0, n_steps, state, generator, sample=True, noise=None, recon_weight=1.0
    ):
        """MtM: encoder on the masked input, per-neuron log-rates, loss on the masked entries + beta * KL.

        ``recon_weight`` rescales the reconstruction term (data-parallel training: see ``_train_batch``)."""
        cfg = self.config
        sl = slice(t0, t0 + n_steps)
        with autocast(self._amp_dtype, self.device):
            out = self.model(masked[..., sl], self.session, state, sample=sample, generator=generator, noise=noise)
            log_rate = self.model.mtm_log_rates(out.z, scheme, self.session)
        recon = masked_loss(log_rate.float(), xb[..., sl].float(), mask[..., sl], self.likelihood)
        return recon * recon_weight + cfg.beta * kl_divergence(out.mu, out.logvar), recon, out, log_rate

    def _batch_loss(self, xb, rb, t0, n_steps, state, generator, sample=True, noise=None, mtm=None, recon_weight=1.0):
        cfg, d = self.config, self.data
        if mtm is not None:  # (masked input, mask, scheme)
            loss, recon, out, _ = self._mtm_loss(
                xb, *mtm, t0, n_steps, state, generator, sample, noise, recon_weight=recon_weight
            )
            return loss, recon, out
        with autocast(self._amp_dtype, self.device):
            out = self.model(
                xb[..., t0 : t0 + n_steps], self.session, state, sample=sample, generator=generator, noise=noise
            )
        tgt, valid = target_windows(rb, t0, n_steps, d.target_offset, cfg.tau_f)
        if d.loss == "cross_entropy":
            tgt = tgt[..., 0]
        mask = valid[None].expand(xb.shape[0], -1, -1)
        recon = reconstruction_loss(out.pred, tgt, mask, d.loss)
        return recon + cfg.beta * kl_divergence(out.mu, out.logvar), recon, out

    def _train_batch(self, xb, rb, optimiser, generator) -> float:
        cfg = self.config
        L = xb.shape[-1]
        chunk = {"full": L, "truncated": cfg.chunk_steps, "online": 1, "online_chunked": cfg.chunk_steps}[cfg.grad_mode]
        n_global = xb.shape[0]
        dist = self.dist
        mtm = None
        if self.mtm:  # one scheme per sample, masks drawn for the global batch (identical on every process)
            masked, mask, schemes = mask_mixed(xb, self._schemes, self.regions, cfg.mask_ratio, generator)
            mtm = (masked, mask, schemes)
            self.last_schemes = schemes
        global_mask = None
        if dist is not None:  # this process computes a slice of the global batch
            rows = torch.from_numpy(dist.local_rows(n_global)).to(self.device)
            xb, rb = xb[rows], rb[rows]
            if mtm is not None:
                global_mask = mtm[1]
                mtm = (mtm[0][rows], mtm[1][rows], [mtm[2][i] for i in rows.tolist()])
            scale = len(rows) * dist.world_size / n_global
        state = self.model.initial_state(xb.shape[0], self.session, self.device)
        d_lat = self.model.latent_dim
        total, weight = 0.0, 0
        for t0 in range(0, L, chunk):
            n = min(chunk, L - t0)
            # noise for the global batch, drawn identically on every process, then sliced
            noise = torch.randn((n_global, n, d_lat), generator=generator, device=self.device)
            if dist is not None:
                noise = noise[rows]
            # online_chunked: the graph is built with one-step truncation (recorded at forward time)
            recon_weight = 1.0
            if global_mask is not None:
                # the masked loss is a mean over the global batch's masked entries, and samples hide different
                # numbers of entries (one scheme each): weigh this process's mean by its share of those entries
                # rather than of the rows (the row scale below assumes equal rows)
                sl = slice(t0, t0 + n)
                share = float(mtm[1][..., sl].sum()) / max(float(global_mask[..., sl].sum()), 1.0)
                recon_weight = share / (len(rows) / n_global)
            with one_step_gradients(cfg.grad_mode == "online_chunked"):
                loss, _, out = self._batch_loss(
                    xb, rb, t0, n, state, generator, noise=noise, mtm=mtm, recon_weight=recon_weight
                )
            if dist is not None:
                loss_value = dist.sum_scalar(float(loss.detach()) * scale) / dist.world_size
                loss = loss * scale
            else:
                loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                return float("nan")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if dist is not None:
                dist.average_gradients(self._trainable())
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self._trainable(), cfg.grad_clip)
            optimiser.step()
            state = out.state.detach()
            total += loss_value * n
            weight += n
            if self.cancelled:  # online/truncated batches hold many updates: stop after the current one
                break
        return total / weight

    def _trainable(self):
        params = self._parameters if self._parameters is not None else self.model.parameters()
        return [p for p in params if p.requires_grad]

    def _param_groups(self) -> list[dict[str, Any]]:
        """Adam groups: the Hebbian trace parameters (log tau, log w) apart, with their own lr and eps."""
        trace_ids = {id(p) for name, p in self.model.named_parameters() if name.rsplit(".", 1)[-1] in TRACE_PARAMETERS}
        params = self._trainable()
        rest = [p for p in params if id(p) not in trace_ids]
        traces = [p for p in params if id(p) in trace_ids]
        groups = [{"params": rest}] if rest else []
        if traces:
            groups.append({"params": traces, "lr": self.config.lr * self.config.trace_lr_scale, "eps": 1e-12})
        return groups

    @torch.no_grad()
    def evaluate(self, idx: np.ndarray, batch_size: int | None = None) -> dict[str, Any]:
        """Deterministic pass (z = mu) over examples ``idx``: loss, metrics, latents, predictions."""
        d, cfg = self.data, self.config
        if self.mtm:
            return self._evaluate_mtm(idx, batch_size)
        self.model.eval()
        bs = batch_size or max(cfg.batch_size, 64)
        losses, mus, preds, weights = [], [], [], []
        for s in range(0, len(idx), bs):
            sel = idx[s : s + bs]
            xb, rb = self._tensor(d.x[sel]), self._tensor(d.r[sel])
            loss, recon, out = self._batch_loss(xb, rb, 0, xb.shape[-1], None, None, sample=False)
            losses.append(float(loss) * len(sel))
            weights.append(len(sel))
            mus.append(out.mu.cpu().numpy())
            preds.append(prediction_from_output(out.pred[:, :, 0], d.loss).float().cpu().numpy())
        self.model.train()
        latents = np.concatenate(mus)
        pred = np.concatenate(preds)
        result = {
            "loss": sum(losses) / sum(weights),
            "latents": latents,
            "pred": d.denormalise(pred) if d.loss == "mse" else pred,
        }
        result["metrics"] = self._metrics(idx, pred)
        return result

    @torch.no_grad()
    def mtm_predict(
        self, x: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor, scheme: str = "neuron"
    ) -> np.ndarray:
        """MtM prediction (z = mu) of ``x`` [B, N, T] with ``mask`` (bool, [B, N, T] or [N, T]) hidden from the encoder.

        Returns the predicted rates (spikes) or values (calcium) of every entry, [B, N, T].
        The encoder receives ``where(mask, 0, x)``: the hidden entries' values never reach it.
        """
        x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        mask = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        return mtm_rates(self.model, x, mask, scheme, self.session, self.likelihood)

    def _evaluate_mtm(self, idx: np.ndarray, batch_size: int | None = None) -> dict[str, Any]:
        """MtM evaluation: masked loss and latents with the fixed held-out neurons hidden, plus
        co-smoothing, forward-prediction and (with regions) inter-region scores (``engine/mtm.py``)."""
        d, cfg = self.data, self.config
        self.model.eval()
        bs = batch_size or max(cfg.batch_size, 64)
        losses, mus, preds, weights = [], [], [], []
        for s in range(0, len(idx), bs):
            sel = idx[s : s + bs]
            xb = self._tensor(d.x[sel])
            masked, mask = mask_entries(xb, neurons=self.heldout_neurons)
            loss, _, out, log_rate = self._mtm_loss(
                xb, masked, mask, "neuron", 0, xb.shape[-1], None, None, sample=False
            )
            losses.append(float(loss) * len(sel))
            weights.append(len(sel))
            mus.append(out.mu.float().cpu().numpy())
            rate = torch.exp(log_rate) if self.likelihood == "poisson" else log_rate
            preds.append(rate.float().cpu().numpy())
        self.model.train()
        pred = np.concatenate(preds)  # [n, N, T]
        scores = mtm_scores(
            self.model,
            d.x[idx],
            self.session,
            self.likelihood,
            self.heldout_neurons,
            self.regions,
            trained=self._schemes,
            batch_size=bs,
        )
        metrics: dict[str, Any] = {k: v for k, v in scores.items() if k not in ("heldout_neurons", "forward_steps")}
        metrics["masked_loss"] = sum(losses) / sum(weights)
        return {
            "loss": sum(losses) / sum(weights),
            "latents": np.concatenate(mus),
            "pred": np.moveaxis(pred, 1, 2),
            "metrics": metrics,
        }

    def _metrics(self, idx: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
        d = self.data
        L = d.x.shape[-1]
        off = d.target_offset
        valid = slice(0, L - off)
        true = d.r[idx][:, off:]
        p = pred[:, valid]
        if d.loss == "mse":
            k = true.shape[-1]
            flat = true.reshape(-1, k)
            per = _finite_r2(flat, p.reshape(-1, k), min_variance=MIN_HELD_OUT_VARIANCE)
            if not np.isfinite(per).any():
                return {
                    "r2": float("nan"),
                    "r2_per_variable": [float("nan")] * k,
                    "r2_note": f"R2 cannot be computed: the held-out target is constant over the {len(idx)} "
                    "held-out example(s); hold out more or longer examples",
                }
            return {"r2": float(np.nanmean(per)), "r2_per_variable": [float(v) for v in per]}
        if d.loss == "cross_entropy":
            return {"accuracy": float(np.mean(p == true[..., 0]))}
        # spikes: held-out negative log-likelihood against the mean-rate null
        rate = np.broadcast_to(d.r[d.train_idx].reshape(-1, d.r.shape[-1]).mean(0), true.shape)
        if d.loss == "bce":
            nll = binary_cross_entropy(true, p, eps=NLL_EPS)
            null = binary_cross_entropy(true, rate, eps=NLL_EPS)
            return {"bce": nll, "baseline_bce": null, "bce_ratio": nll / null}
        nll = poisson_nll(true, p, eps=NLL_EPS, constant=False)
        null = poisson_nll(true, rate, eps=NLL_EPS, constant=False)
        return {"poisson_nll": nll, "baseline_poisson_nll": null, "nll_ratio": nll / null}

    def attention(self, example: int, every: int = 1) -> np.ndarray | None:
        """Attention matrices [T // every, H, N, N] of one example (deterministic, no grad); None for mlp/gru."""
        heb = self.model.sessions[self.session]
        if not heb.has_attention:
            return None
        budget = max(1, int(256e6 // (4 * heb.n_heads * heb.n_neurons**2)))  # keep the sequence under ~256 MB
        x = self._tensor(self.data.x[example : example + 1, :, :budget])
        with torch.no_grad():
            Aseq, _ = heb.attention_sequence(x)
        return Aseq[0, :, ::every].permute(1, 0, 2, 3).cpu().numpy()

    def _checkpoint(self, optimiser, generator, epoch: int) -> str | None:
        if not self.config.out_dir or (self.dist is not None and not self.dist.is_main):
            return None
        path = save_training_checkpoint(self.config.out_dir, self, optimiser, generator, epoch)
        self.last_checkpoint = str(path)
        return str(path)

    def warmup(self) -> None:
        """Compile the CPU kernels (first call of a process takes ~1 s) on a tiny input, without training."""
        d = self.data
        n = min(d.x.shape[-1], self.config.tau_p + self.config.tau_f + 2)
        xb, rb = self._tensor(d.x[:1, :, :n]), self._tensor(d.r[:1, :n])
        loss, _, _ = self._batch_loss(xb, rb, 0, n, None, None, sample=False)
        params = [p for p in self.model.parameters() if p.requires_grad]
        torch.autograd.grad(loss, params, allow_unused=True)

    # --------------------------------------------------------------------- run
    def run(self) -> Iterator[Event]:
        """Train, yielding events; ends with ``Finished`` or ``Failed`` (never raises for user errors)."""
        try:
            yield from self._run()
        except SparksError as exc:
            yield Failed(self.epoch, str(exc), self.last_checkpoint)
        except Exception as exc:  # noqa: BLE001 - reported to the user, not swallowed silently
            yield Failed(
                self.epoch,
                f"{type(exc).__name__}: {exc}",
                self.last_checkpoint,
                traceback="".join(traceback.format_exception(exc)),
            )

    def _run(self) -> Iterator[Event]:
        cfg, d = self.config, self.data
        torch.manual_seed(cfg.seed)
        generator = torch.Generator(device=self.device)
        generator.manual_seed(cfg.seed)
        optimiser = torch.optim.Adam(self._param_groups(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        start_epoch = 0
        if self._resume is not None:
            ck = load_checkpoint(self._resume, map_location=self.device)
            self.model.load_state_dict(ck["model"])
            optimiser.load_state_dict(ck["optimizer"])
            generator.set_state(ck["generator"])
            start_epoch = int(ck["epoch"])
            self.history = list(ck.get("history", []))
        n_train = len(d.train_idx)
        if n_train == 0:
            raise SparksError(
                "No training examples left after the train/test split.",
                "Use more trials/segments or a smaller test_fraction.",
            )
        steps_per_epoch = math.ceil(n_train / cfg.batch_size)
        total = steps_per_epoch * cfg.epochs
        yield Started(
            start_epoch,
            total,
            steps_per_epoch,
            n_train,
            len(d.test_idx),
            str(self.device),
            d.target_name,
            d.loss,
            self._resume is not None,
            d.n_neurons,
        )
        t_start = time.perf_counter()
        done = 0
        step = start_epoch * steps_per_epoch
        trial_steps = 0
        for epoch in range(start_epoch, cfg.epochs):
            self.epoch = epoch
            order = np.random.default_rng((cfg.seed, epoch)).permutation(d.train_idx)
            running, count = 0.0, 0
            for b in range(steps_per_epoch):
                sel = np.sort(order[b * cfg.batch_size : (b + 1) * cfg.batch_size])
                xb, rb = self._tensor(d.x[sel]), self._tensor(d.r[sel])
                loss = self._train_batch(xb, rb, optimiser, generator)
                if not math.isfinite(loss):
                    where = f"epoch {epoch + 1}, batch {b + 1}"
                    keep = f" The last good checkpoint is {self.last_checkpoint}." if self.last_checkpoint else ""
                    yield Failed(
                        epoch,
                        f"Training stopped: the loss became NaN/inf at {where}. Lower the learning rate (lr={cfg.lr}), "
                        f"keep grad_clip > 0, or check the data for extreme values.{keep}",
                        self.last_checkpoint,
                    )
                    return
                running += loss * len(sel)
                count += len(sel)
                done += 1
                step += 1
                trial_steps += len(sel) * xb.shape[-1]
                elapsed = time.perf_counter() - t_start
                eta = elapsed / done * (total - step)
                yield StepProgress(epoch, step, total, loss, elapsed, eta, trial_steps / max(elapsed, 1e-9))
                if self.cancelled:  # keeps the held-out metrics (R2, ...) of the last evaluated epoch
                    held_out = next((h for h in reversed(self.history) if "test_loss" in h), {})
                    self.metrics = {**held_out, "epochs_completed": epoch, "cancelled": True}
                    yield Finished(epoch, self.metrics, self.history, cancelled=True)
                    return
            record: dict[str, Any] = {"epoch": epoch + 1, "train_loss": running / count}
            last = epoch == cfg.epochs - 1
            if len(d.test_idx) and ((epoch + 1) % cfg.eval_every == 0 or last):
                ev = self.evaluate(d.test_idx)
                record.update(test_loss=ev["loss"], **{k: v for k, v in ev["metrics"].items()})
                yield EpochEnd(
                    epoch,
                    record["train_loss"],
                    ev["loss"],
                    ev["metrics"],
                    time.perf_counter() - t_start,
                    (time.perf_counter() - t_start) / done * (total - step),
                )
                yield from self._snapshots(epoch, ev)
            else:
                yield EpochEnd(
                    epoch,
                    record["train_loss"],
                    None,
                    {},
                    time.perf_counter() - t_start,
                    (time.perf_counter() - t_start) / done * (total - step),
                )
            self.history.append(record)
            if (epoch + 1) % cfg.checkpoint_every == 0 or last:
                path = self._checkpoint(optimiser, generator, epoch + 1)
                if path:
                    yield CheckpointWritten(epoch, path)
        self.epoch = cfg.epochs
        final = dict(self.history[-1]) if self.history else {}
        final.update(
            epochs_completed=cfg.epochs,
            train_seconds=time.perf_counter() - t_start,
            trial_steps_per_s=trial_steps / max(time.perf_counter() - t_start, 1e-9),
        )
        self.metrics = final
        yield Finished(cfg.epochs - 1, final, self.history)

    def _snapshots(self, epoch: int, ev: dict[str, Any]) -> Iterator[Event]:
        n = min(self.config.snapshot_trials, len(self.data.test_idx))
        yield from self.snapshot_events(epoch, self.data.test_idx[:n], {k: ev[k][:n] for k in ("latents", "pred")})

    def snapshot_events(self, epoch: int, idx: np.ndarray, ev: dict[str, Any]) -> list[Event]:
        """Latent, prediction and attention snapshots of examples ``idx`` from an :meth:`evaluate` result."""
        d = self.data
        true = d.denormalise(d.r[idx]) if d.loss == "mse" else d.r[idx]
        events: list[Event] = [
            LatentSnapshot(
                epoch, ev["latents"], idx, {k: v[idx] for k, v in d.conditions.items()}, starts=d.starts[idx], dt=d.dt
            ),
            Predictions(
                epoch,
                ev["pred"],
                true,
                idx,
                d.target_name,
                starts=d.starts[idx],
                dt=d.dt,
                offset=d.target_offset,
                masked_neurons=self.heldout_neurons.copy() if self.mtm else None,
                loss=d.loss,
                likelihood=self.likelihood if self.mtm else None,
                **prediction_scores(ev["pred"], true, d.target_offset, d.loss, d.target_name),
            ),
        ]
        A, every = self.attention_subsampled(int(idx[0]))
        if A is not None:
            events.append(
                AttentionSnapshot(
                    epoch,
                    A.mean(0),
                    A[-1],
                    int(idx[0]),
                    sequence=A[::every],
                    every=every,
                    starts=np.asarray(d.starts),
                    example_bins=int(d.x.shape[-1]),
                    dt=d.dt,
                )
            )
        return events

    def attention_subsampled(self, example: int, max_bytes: float = ATTENTION_SEQUENCE_BYTES):
        """``(A [T, H, N, N], every)``: the attention of one example and the time stride that keeps
        ``A[::every]`` under ``max_bytes`` (A is None for encoders without attention)."""
        A = self.attention(example)
        if A is None:
            return None, 1
        return A, max(1, int(np.ceil(A.nbytes / max_bytes)))
