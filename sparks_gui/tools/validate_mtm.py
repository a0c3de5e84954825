"""Masked modelling (MtM, issue 14) in ``sparks-gui validate``: the synthetic multi-area set and sessions.

``multiarea``: three coupled areas (known inter-area coupling, ``brain_area`` labels), trials split
by the trainer's split, the same 20 % of neurons held out everywhere.  Methods, per metric:

* ``sparks[mtm] all schemes`` -- objective ``mtm`` with neuron, causal, intra- and inter-region masking;
* ``sparks[mtm] without causal`` -- neuron, intra- and inter-region masking (the causal scheme hides
  every neuron, so the encoder sees silence and only the read-out's window of earlier latents
  carries information into the hidden steps);
* ``sparks[mtm] neuron only`` -- the same model trained with neuron masking only (as NDT);
* ``sparks[pcc] + GLM read-out`` -- today's PCC objective (unsupervised), latents computed with the
  hidden neurons silenced, a Poisson GLM from those latents to the hidden neurons fitted on the
  training trials (how NLB reads out models without their own rate head);
* ``smoothed-spikes GLM`` -- NLB's baseline: Poisson GLMs from Gaussian-smoothed visible neurons.

Metrics: co-smoothing and inter-region bits/spike (each area hidden in turn, predicted from the
others), forward prediction bits/spike (last 20 % of each trial hidden) and behaviour decoding
(a linear probe from the latents to the ``readout`` behaviour, cross-validated R2).

``multiarea_sessions``: MtM pre-trained over three sessions of the same dynamics recorded through
different neurons, a fourth (unseen) session added and fine-tuned on 20 % of its trials, against
the same model trained from scratch on those 20 %; co-smoothing on the other 80 %.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np


def _mtm_config(S, **kw):
    from ..engine.config import SparksConfig

    return SparksConfig(objective="mtm", epochs=S.mtm_epochs, seed=S.seed, eval_every=1000, snapshot_trials=1, **kw)


def _glm_scores(
    x: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    held: np.ndarray,
    regions: np.ndarray,
    features: np.ndarray | None = None,
    features_for=None,
) -> dict[str, float]:
    """Co-smoothing / inter-region (and forward, for spikes as inputs) bits per spike of GLM read-outs.

    ``features=None``: smoothed visible spikes (the NLB baseline).  Otherwise ``features_for(hidden)``
    returns latents [n, d, T] computed with ``hidden`` neurons silenced (sigma 0: no smoothing).
    """
    from ..analysis.nlb import (
        co_smoothing,
        forward_prediction,
        glm_forward_prediction,
        region_bits_per_spike,
        smoothed_spikes_glm,
    )

    N = x.shape[1]

    def read_out(hidden: np.ndarray) -> np.ndarray:
        visible = np.setdiff1d(np.arange(N), hidden)
        if features_for is None:
            return smoothed_spikes_glm(x[train][:, visible], x[train][:, hidden], x[test][:, visible])
        f = features_for(hidden)
        return smoothed_spikes_glm(f[train], x[train][:, hidden], f[test], sigma_bins=0.0)

    out = {"cosmooth_bps": float(co_smoothing(x[test][:, held], read_out(held), np.arange(held.size)).bits_per_spike)}
    per = []
    for lab in sorted(set(regions)):
        members = np.flatnonzero(regions == lab)
        rate = np.ones_like(x[test])
        rate[:, members] = read_out(members)
        per.append(float(region_bits_per_spike(x[test], rate, regions, region=lab).bits_per_spike))
    out["inter_region_bps"] = float(np.mean(per))
    if features_for is None:
        k = max(1, int(round(0.2 * x.shape[-1])))
        out["forward_bps"] = float(
            forward_prediction(x[test], glm_forward_prediction(x[train], x[test], k), k).bits_per_spike
        )
    return out


def _probe(latents: np.ndarray, behaviour: np.ndarray) -> float:
    from ..analysis.nlb import linear_probe

    return float(linear_probe(latents, behaviour).r2)


def _multiarea(rep, figdir: Path) -> None:
    from ..data.synthetic_multiarea import make_multiarea
    from ..engine.facade import Sparks

    S = rep.settings
    rec = make_multiarea(
        n_areas=3,
        neurons_per_area=S.mtm_neurons_per_area,
        n_trials=S.mtm_trials,
        trial_length=100,
        dt=0.01,
        seed=S.data_seed,
    )
    behaviour = rec.trial_tensor(rec.behaviour["readout"])  # [n, T, 2]
    scores: dict[str, dict[str, float]] = {}
    split = None
    methods = [
        ("sparks[mtm] all schemes", None),
        ("sparks[mtm] without causal", ("neuron", "intra_region", "inter_region")),
        ("sparks[mtm] neuron only", ("neuron",)),
    ]
    if not S.mtm_without_causal:
        methods = [m for m in methods if m[0] != "sparks[mtm] without causal"]
    for method, schemes in methods:
        cfg = _mtm_config(S) if schemes is None else _mtm_config(S, mtm_schemes=schemes)
        t0 = time.perf_counter()
        est = Sparks(cfg).fit(rec)
        secs = time.perf_counter() - t0
        data = est.data_
        if est.config.bin_factor != 1:
            raise RuntimeError("the multi-area comparison expects bin_factor 1 (it compares binned counts directly)")
        if split is None:
            split = (
                data.train_idx,
                data.test_idx,
                np.asarray(est._meta["heldout_neurons"]),
                np.asarray(est._meta["regions"]),
            )
        train, test, held, regions = split
        sc = est.score(data.x[test], heldout_neurons=held)
        sc = {k: sc[k] for k in ("cosmooth_bps", "inter_region_bps", "forward_bps") if k in sc}
        sc["behaviour_r2"] = _probe(est.transform(), behaviour)
        scores[method] = sc
        rep.add("multiarea", method, sc, secs)
    train, test, held, regions = split
    # PCC (unsupervised), read out by GLMs from latents computed with the hidden neurons silenced
    from ..engine.config import SparksConfig

    t0 = time.perf_counter()
    pcc = Sparks(
        SparksConfig(target="unsupervised", epochs=S.mtm_epochs, seed=S.seed, eval_every=1000, snapshot_trials=1)
    ).fit(rec)
    x = pcc.data_.x
    if not (np.array_equal(pcc.data_.train_idx, train) and np.array_equal(pcc.data_.test_idx, test)):
        raise RuntimeError("PCC and MtM runs split the trials differently; the comparison would be unfair")

    def silenced_latents(hidden: np.ndarray) -> np.ndarray:
        xs = x.copy()
        xs[:, hidden] = 0
        return pcc.transform(xs)  # [n, d, T]

    sc = _glm_scores(x, train, test, held, regions, features_for=silenced_latents)
    sc["behaviour_r2"] = _probe(pcc.transform(), behaviour)
    scores["sparks[pcc] + GLM read-out"] = sc
    rep.add("multiarea", "sparks[pcc] + GLM read-out", sc, time.perf_counter() - t0)
    t0 = time.perf_counter()
    sc = _glm_scores(x, train, test, held, regions)
    scores["smoothed-spikes GLM"] = sc
    rep.add("multiarea", "smoothed-spikes GLM", sc, time.perf_counter() - t0, kind="baseline")
    from ..figures.analysis import decoding_summary_figure

    rep.figures.append(
        str(
            decoding_summary_figure(
                {k: {m: v for m, v in s.items() if m != "behaviour_r2"} for k, s in scores.items()},
                figdir / "multiarea_bits_per_spike.png",
                metrics=["cosmooth_bps", "inter_region_bps", "forward_bps"],
                title="Multi-area: held-out bits/spike",
            )
        )
    )
    rep.extra["multiarea"] = {
        "n_neurons": int(rec.n_neurons),
        "n_trials": int(rec.n_trials),
        "n_test_trials": int(len(test)),
        "heldout_neurons": held.tolist(),
        "epochs": S.mtm_epochs,
    }


def _multiarea_sessions(rep, figdir: Path) -> None:
    from ..data.synthetic_multiarea import make_multiarea_sessions
    from ..engine.facade import Sparks
    from ..engine.mtm import default_heldout

    S = rep.settings
    recs = make_multiarea_sessions(
        n_sessions=S.mtm_sessions + 1, n_areas=3, n_trials=S.session_trials, trial_length=100, dt=0.01, seed=S.data_seed
    )
    new = recs[-1]
    rng = np.random.default_rng((S.seed, 20))
    order = rng.permutation(new.n_trials)
    n_ft = max(2, int(round(S.finetune_fraction * new.n_trials)))
    ft_rec, eval_rec = new.select(trials=np.sort(order[:n_ft])), new.select(trials=np.sort(order[n_ft:]))
    held = default_heldout(new.n_neurons, S.seed)
    cfg = _mtm_config(S).replace(epochs=S.pretrain_epochs)
    t0 = time.perf_counter()
    pre = Sparks(cfg).fit_sessions(recs[:-1])
    secs_pre = time.perf_counter() - t0
    pre.save(Path(figdir) / "_pretrained.pt")
    for label, freeze in (("fine-tuned", False), ("fine-tuned, session layers only", True)):
        est = Sparks.load(Path(figdir) / "_pretrained.pt", device=pre.config.device)
        s = est.add_session(new.n_neurons)
        ft_cfg = est.config.replace(epochs=S.finetune_epochs, test_fraction=0.2)
        t0 = time.perf_counter()
        est.fit_session(ft_rec, s, config=ft_cfg, freeze_shared=freeze)
        fine = est.score(eval_rec, heldout_neurons=held, session=s)
        rep.add(
            "multiarea_sessions",
            f"sparks[mtm] pre-trained on {S.mtm_sessions} sessions + {label}",
            {"cosmooth_bps": fine["cosmooth_bps"], "inter_region_bps": fine.get("inter_region_bps", float("nan"))},
            secs_pre + time.perf_counter() - t0,
        )
    (Path(figdir) / "_pretrained.pt").unlink(missing_ok=True)
    t0 = time.perf_counter()
    scratch = Sparks(cfg.replace(epochs=S.finetune_epochs, test_fraction=0.2)).fit(ft_rec)
    sc = scratch.score(eval_rec, heldout_neurons=held)
    rep.add(
        "multiarea_sessions",
        "sparks[mtm] from scratch on the same trials",
        {"cosmooth_bps": sc["cosmooth_bps"], "inter_region_bps": sc.get("inter_region_bps", float("nan"))},
        time.perf_counter() - t0,
        kind="baseline",
    )
    rep.extra["multiarea_sessions"] = {
        "pretrain_sessions": S.mtm_sessions,
        "finetune_trials": int(n_ft),
        "eval_trials": int(new.n_trials - n_ft),
        "pretrain_epochs": S.pretrain_epochs,
        "finetune_epochs": S.finetune_epochs,
        "neurons": [r.n_neurons for r in recs],
    }


def _windows(activity: np.ndarray, length: int) -> np.ndarray:
    """Consecutive windows [n, N, length] of a continuous recording (the remainder dropped)."""
    n = activity.shape[-1] // length
    return np.ascontiguousarray(np.moveaxis(activity[:, : n * length].reshape(activity.shape[0], n, length), 1, 0))


def _real_chewie_mtm(rep, figdir: Path, data_dir=None) -> None:
    """Issue 7's Chewie recording (M1, 50 ms bins, no regions): co-smoothing and forward prediction on its
    test part, MtM vs neuron-only vs the smoothed-spikes GLM; velocity decoding by a linear probe."""
    from ..analysis.nlb import forward_prediction, glm_forward_prediction, smoothed_spikes_glm
    from ..data.io import load_recording
    from ..engine.facade import Sparks
    from ..engine.mtm import default_heldout
    from ..errors import SparksError
    from ._data import find_data_file

    path = find_data_file("chewie_demo.mat", data_dir)
    if path is None:
        raise SparksError(
            "chewie_demo.mat was not found (it is not shipped: no licence file in its repository).",
            "Download data/demo/chewie_demo.mat from github.com/KordingLab/DAD and pass --data-dir.",
        )
    rec = load_recording(path, dt=0.05)
    test = load_recording(path, dt=0.05, activity_key="Yte")
    S = rep.settings
    held = default_heldout(rec.n_neurons, S.seed)
    vel = test.behaviour["Xte"] if "Xte" in test.behaviour else next(iter(test.behaviour.values()))
    length = None
    for method, schemes in (("sparks[mtm] defaults", None), ("sparks[mtm] neuron only", ("neuron",))):
        from ..engine.config import SparksConfig

        cfg = (
            SparksConfig(objective="mtm", seed=S.seed)
            if schemes is None
            else SparksConfig(objective="mtm", seed=S.seed, mtm_schemes=schemes)
        )
        t0 = time.perf_counter()
        est = Sparks(cfg).fit(rec)
        if est.config.bin_factor != 1:
            raise RuntimeError("expected bin_factor 1 on 50 ms bins")
        sc = est.score(test, heldout_neurons=held)
        length = est.example_length
        lat = est.transform(test)  # [T, d]
        out = {k: sc[k] for k in ("cosmooth_bps", "forward_bps")}
        out["velocity_r2_probe"] = _probe(lat, vel[: len(lat)])
        rep.add("real_chewie_mtm", method, out, time.perf_counter() - t0)
    t0 = time.perf_counter()
    tr_w, te_w = _windows(rec.activity, length), _windows(test.activity, length)
    visible = np.setdiff1d(np.arange(rec.n_neurons), held)
    from ..analysis.nlb import co_smoothing

    rate = smoothed_spikes_glm(tr_w[:, visible], tr_w[:, held], te_w[:, visible])
    k = max(1, int(round(0.2 * length)))
    out = {
        "cosmooth_bps": float(co_smoothing(te_w[:, held], rate, np.arange(held.size)).bits_per_spike),
        "forward_bps": float(forward_prediction(te_w, glm_forward_prediction(tr_w, te_w, k), k).bits_per_spike),
    }
    rep.add("real_chewie_mtm", "smoothed-spikes GLM", out, time.perf_counter() - t0, kind="baseline")
    rep.extra["real_chewie_mtm"] = {
        "n_neurons": int(rec.n_neurons),
        "train_bins": int(rec.n_time),
        "test_bins": int(test.n_time),
        "window_bins": int(length),
        "heldout_neurons": held.tolist(),
    }


def targets(rep) -> list[dict[str, Any]]:
    """Issue 14's targets on the measured numbers."""
    out = []
    allm, neuron = "sparks[mtm] all schemes", "sparks[mtm] neuron only"
    for metric in ("cosmooth_bps", "inter_region_bps"):
        m, n, g = (rep.value("multiarea", k, metric) for k in (allm, neuron, "smoothed-spikes GLM"))
        if m is not None and n is not None and g is not None:
            out.append(
                {
                    "target": f"multiarea: MtM {metric} above neuron-only masking and the GLM baseline",
                    "passed": m > n and m > g,
                    "detail": f"MtM {m:.3f}, neuron only {n:.3f}, GLM {g:.3f}",
                }
            )
    rows = {
        r["method"]: r["value"]
        for r in rep.rows
        if r["dataset"] == "multiarea_sessions" and r["metric"] == "cosmooth_bps"
    }
    ft = next((v for k, v in rows.items() if k.endswith("fine-tuned")), None)
    sc = next((v for k, v in rows.items() if "scratch" in k), None)
    if ft is not None and sc is not None:
        out.append(
            {
                "target": "sessions: fine-tuning a pre-trained model on 20% of an unseen session beats "
                "training from scratch on it (co-smoothing)",
                "passed": ft > sc,
                "detail": f"fine-tuned {ft:.3f} vs scratch {sc:.3f} bits/spike",
            }
        )
    return out


RUNNERS = {"multiarea": _multiarea, "multiarea_sessions": _multiarea_sessions}
