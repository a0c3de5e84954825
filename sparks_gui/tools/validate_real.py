"""``sparks-gui validate --real``: SPARKS with its defaults against simple baselines on real recordings.

Every recording is opened with :func:`~sparks_gui.load_recording` as a user would (at most the
array name and the bin width as hints) and trained with the default :class:`SparksConfig`
("auto" fields chosen from the recording).  Baselines see exactly the same train/test split:

* ``real_songbird`` - zebra finch HVC calcium imaging (Mackevicius et al. 2019, shipped in
  ``tests/data/songbird_hvc``): unsupervised SPARKS; the latents of the *whole* recording
  (``transform(rec)``) give a population phase; its spectral peak is compared with the PCA
  angle's, and the neurons' phases (activity-weighted circular means of the population phase)
  with PCA's (phase agreement, 1 = same, ~0.1 = unrelated for 75 neurons).
* ``real_mc_maze`` - two MC_Maze reaching trials of one session (DANDI 000128 via HiSDE, shipped
  in ``tests/data/mc_maze_hisde``), 1 ms bins summed to 20 ms: trained on trial 748 (3.2 s),
  hand-velocity R2 on trial 1356 (3.6 s) for SPARKS, the MLP-encoder control and Wiener filters
  (ridge on 1, 3 and 5 lags of the counts).  Very little data: a floor, not a benchmark.
* ``real_chewie`` - centre-out reaching counts (Dyer et al. 2017, ``chewie_demo.mat`` from
  KordingLab/DAD ``data/demo``; no licence file, so not shipped: pass ``--data-dir`` holding
  it): the same comparison on its ``Ytr``/``Xtr`` part.
* ``real_mec`` - an hour of mouse MEC calcium imaging with ultraslow oscillatory sequences
  (Gonzalo Cogno et al. 2024, Nature 625:338; session 17 of mouse 60584, 484 cells x 27,832
  frames at 7.73 Hz, deconvolved events as a sparse matrix, from soledadgcogno/
  Ultraslow-oscillatory-sequences; no licence file, so not shipped: pass ``--data-dir``): the
  phase comparison of ``real_songbird``, one seed (about 10 CPU minutes).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ._data import find_data_file

REAL_DATASETS = ("real_songbird", "real_mc_maze", "real_chewie", "real_mec", "real_chewie_mtm")


def _lagged(x: np.ndarray, lags: int) -> np.ndarray:
    """Activity [N, T] -> causal lagged features [T, N * lags] (zeros before the start)."""
    N, T = x.shape
    out = np.zeros((T, N * lags), dtype=np.float32)
    for k in range(lags):
        out[k:, k * N : (k + 1) * N] = x[:, : T - k].T
    return out


def wiener_r2(
    x_train: np.ndarray,
    y_train: np.ndarray,
    train_mask: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    test_mask: np.ndarray,
    lags: int,
) -> float:
    """Wiener filter: ridge from ``lags`` lags of the counts to ``y``, scored by R2 on held-out bins.

    ``x_*`` are continuous [N, T] recordings and ``y_*`` [T, k]; the filter is fitted on the bins
    in ``train_mask`` (each counted once) with the ridge penalty chosen by 5-fold cross-validation
    over contiguous blocks of time (no shuffling: neighbouring bins are not independent), and
    scored on the bins in ``test_mask``.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold

    from ..analysis import r2_overall

    Ftr, Fte = _lagged(x_train, lags)[train_mask], _lagged(x_test, lags)[test_mask]
    model = RidgeCV(alphas=np.logspace(-2, 5, 15), cv=KFold(5)).fit(Ftr, y_train[train_mask])
    return r2_overall(y_test[test_mask], model.predict(Fte))


def _binned(rec, name: str, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Activity [N, T'] and target [T', k] of ``rec`` at ``factor`` times its bin width."""
    from ..engine.dataset import rebin
    from ..engine.targets import target_values

    x = rebin(rec.activity[None], factor, rec.kind)[0]
    y = rebin(target_values(rec, name).T[None], factor, "calcium")[0].T
    return x, y


def _covered(starts: np.ndarray, length: int, n_time: int) -> np.ndarray:
    mask = np.zeros(n_time, dtype=bool)
    for s in starts:
        mask[s : s + length] = True
    return mask


def _decoding(
    rep,
    name: str,
    rec,
    target: str,
    seeds: tuple[int, ...],
    encoders=("hebbian", "mlp"),
    test_rec=None,
    test_target: str | None = None,
    **config,
) -> None:
    """SPARKS (defaults) and controls vs Wiener filters, scored on the same held-out bins.

    Without ``test_rec`` the held-out examples of SPARKS's own split are scored (the Wiener
    filters are fitted on its training examples).  With ``test_rec`` (e.g. the test part a
    file ships beside the training part) everything is fitted on ``rec`` and scored on the
    whole of ``test_rec``, SPARKS through windowed whole-recording inference.
    """
    from ..analysis import r2_overall
    from ..engine.config import SparksConfig
    from ..engine.facade import Sparks

    scores: dict[str, list[float]] = {}
    data = None
    f = max(1, int(config.get("bin_factor", 1)))
    for enc in encoders:
        for seed in seeds:
            t0 = time.perf_counter()
            est = Sparks(SparksConfig(target=target, encoder=enc, seed=seed, **config)).fit(rec)
            d = est.data_
            if test_rec is None:
                pred = est.predict()[d.test_idx]  # [n_test, T, k] in data units
                true = d.denormalise(d.r[d.test_idx])
            else:
                pred = est.predict(test_rec)  # [T / bin_factor, k]: windows of the training length, stitched
                true = _binned(test_rec, test_target or target, f)[1][: len(pred)]
            r2 = r2_overall(true.reshape(-1, true.shape[-1]), pred.reshape(-1, pred.shape[-1]))
            scores.setdefault(enc, []).append(r2)
            rep.add(name, f"sparks[{enc}] defaults", {"heldout_r2": r2}, time.perf_counter() - t0, seed=seed)
            data = d
            if enc == encoders[0] and seed == seeds[0]:
                rep.extra[name] = {
                    "n_neurons": int(d.n_neurons),
                    "bins": int(rec.n_time),
                    "dt": float(d.dt),
                    "examples_train": int(len(d.train_idx)),
                    "examples_test": int(len(d.test_idx)),
                    "test_bins": int(test_rec.n_time) if test_rec is not None else "held-out examples",
                    "example_bins": int(d.x.shape[-1]),
                    "config": {
                        k: getattr(est.config, k)
                        for k in (
                            "segment_length",
                            "batch_size",
                            "epochs",
                            "tau_s",
                            "w_start",
                            "latent_dim",
                            "input_residual",
                            "token_ff",
                        )
                    },
                }
    # the Wiener filters see the same bins: SPARKS's training windows (each bin once), then its held-out
    # examples or the separate test recording; same bin_factor
    L = data.x.shape[-1]
    x_tr, y_tr = _binned(rec, target, f)
    starts = data.starts // f
    train_mask = _covered(starts[data.train_idx], L, x_tr.shape[1])
    if test_rec is None:
        x_te, y_te, test_mask = x_tr, y_tr, _covered(starts[data.test_idx], L, x_tr.shape[1])
    else:
        x_te, y_te = _binned(test_rec, test_target or target, f)
        test_mask = np.ones(x_te.shape[1], dtype=bool)
    for lags in (1, 3, 5):
        t0 = time.perf_counter()
        r2 = wiener_r2(x_tr, y_tr, train_mask, x_te, y_te, test_mask, lags)
        rep.add(
            name,
            f"wiener filter ({lags} lags)",
            {"heldout_r2": r2},
            time.perf_counter() - t0,
            kind="baseline",
            seed=seeds[-1],
        )  # the split of the last SPARKS fit
    for enc, vals in scores.items():
        if len(vals) > 1:
            rep.add(
                name,
                f"sparks[{enc}] defaults, mean of {len(vals)} seeds",
                {"heldout_r2": float(np.mean(vals)), "heldout_r2_sd": float(np.std(vals))},
                0.0,
                kind="summary",
            )


def _phase_recovery(rep, name: str, rec, seeds: tuple[int, ...]) -> None:
    """Unsupervised SPARKS (defaults) on a recording with an oscillatory sequence vs the PCA angle.

    The latents of the whole recording (``transform(rec)``, windowed inference) give a population
    phase (:func:`ring_phase`); its spectral peak is compared with the PCA angle's, and every
    neuron's phase (activity-weighted circular mean of the population phase) with PCA's.
    """
    from ..analysis import neuron_order_from_latents, neuron_order_from_phase, pca_phase, phase_agreement, ring_phase
    from ..analysis.oscillation import phase_signal_psd, spectral_peak
    from ..engine.config import SparksConfig
    from ..engine.facade import Sparks

    act = rec.activity
    t0 = time.perf_counter()
    ph_pca = pca_phase(act, smooth_bins=1.0)
    key_pca = neuron_order_from_phase(act, ph_pca).key
    f_pca = spectral_peak(*phase_signal_psd(ph_pca, dt=rec.dt)).frequency
    rep.add(name, "pca_angle", {"peak_hz": f_pca}, time.perf_counter() - t0, kind="baseline")
    agreements = []
    for seed in seeds:
        t0 = time.perf_counter()
        est = Sparks(SparksConfig(target="unsupervised", seed=seed)).fit(rec)
        lat = est.transform(rec)  # [T, d]: the whole recording (windowed inference)
        o = neuron_order_from_latents(act, lat)
        f_sp = spectral_peak(*phase_signal_psd(ring_phase(lat), dt=rec.dt)).frequency
        agree = phase_agreement(o.key, key_pca)
        agreements.append(agree)
        rep.add(
            name,
            "sparks[hebbian] defaults, whole-recording latents",
            {"peak_hz": f_sp, "phase_agreement_with_pca": agree, "max_abs_latent": float(np.abs(lat).max())},
            time.perf_counter() - t0,
            seed=seed,
        )
        if seed == seeds[0]:
            rep.extra[name] = {
                "n_neurons": int(act.shape[0]),
                "bins": int(act.shape[1]),
                "dt": rec.dt,
                "segment_length": est.config.segment_length,
                "epochs": est.config.epochs,
                "batch_size": est.config.batch_size,
                "tau_s": est.config.tau_s,
            }
    if len(agreements) > 1:
        rep.add(
            name,
            f"sparks[hebbian] defaults, mean of {len(agreements)} seeds",
            {"phase_agreement_with_pca": float(np.mean(agreements)), "phase_agreement_sd": float(np.std(agreements))},
            0.0,
            kind="summary",
        )
    rng = np.random.default_rng(0)
    null = [phase_agreement(rng.uniform(0, 2 * np.pi, act.shape[0]), key_pca) for _ in range(200)]
    rep.add(
        name,
        "random phases (null, 95th percentile)",
        {"phase_agreement_with_pca": float(np.quantile(null, 0.95))},
        0.0,
        kind="reference",
    )


def _songbird(rep, figdir: Path, data_dir=None) -> None:
    from ..data.io import load_recording

    rec = load_recording(find_data_file("MackeviciusData.mat", data_dir))
    _phase_recovery(rep, "real_songbird", rec, rep.settings.real_seeds)


MEC_FILE = "calcium_activity_matrix_60584_session17.mat"


def _mec(rep, figdir: Path, data_dir=None) -> None:
    from ..data.io import load_recording
    from ..errors import SparksError

    path = find_data_file(MEC_FILE, data_dir)
    if path is None:
        raise SparksError(
            f"{MEC_FILE} was not found (it is not shipped: no licence file in its repository).",
            "Download 'Selection of codes/" + MEC_FILE + "' from github.com/soledadgcogno/"
            "Ultraslow-oscillatory-sequences and pass --data-dir.",
        )
    rec = load_recording(path, fs=7.73)  # the file stores no frame rate; 7.73 Hz per Gonzalo Cogno et al. 2024
    _phase_recovery(rep, "real_mec", rec, rep.settings.real_seeds[:1])  # ~10 CPU minutes per seed


def _mc_maze(rep, figdir: Path, data_dir=None) -> None:
    from ..data.io import load_recording

    train = load_recording(find_data_file("trial_748_data.csv.gz", data_dir))
    test = load_recording(find_data_file("trial_1356_data.csv.gz", data_dir))  # another trial of the same session
    _decoding(rep, "real_mc_maze", train, "hand_vel", rep.settings.real_seeds, test_rec=test, bin_factor=20)


def _chewie(rep, figdir: Path, data_dir=None) -> None:
    from ..data.io import load_recording
    from ..errors import SparksError

    path = find_data_file("chewie_demo.mat", data_dir)
    if path is None:
        raise SparksError(
            "chewie_demo.mat was not found (it is not shipped: no licence file in its repository).",
            "Download data/demo/chewie_demo.mat from github.com/KordingLab/DAD and pass --data-dir.",
        )
    rec = load_recording(path, dt=0.05)  # the file stores no bin width; Ytr/Xtr (training part) are read
    test = load_recording(path, dt=0.05, activity_key="Yte")  # its test part, 1,818 bins
    _decoding(rep, "real_chewie", rec, "Xtr", rep.settings.real_seeds, test_rec=test, test_target="Xte")


def runners(data_dir: str | Path | None = None) -> dict[str, Any]:
    from .validate_mtm import _real_chewie_mtm

    return {
        "real_songbird": lambda rep, fig: _songbird(rep, fig, data_dir),
        "real_mc_maze": lambda rep, fig: _mc_maze(rep, fig, data_dir),
        "real_chewie": lambda rep, fig: _chewie(rep, fig, data_dir),
        "real_mec": lambda rep, fig: _mec(rep, fig, data_dir),
        "real_chewie_mtm": lambda rep, fig: _real_chewie_mtm(rep, fig, data_dir),
    }
