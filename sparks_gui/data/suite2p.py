"""suite2p output folders (``F.npy``, ``Fneu.npy``, ``spks.npy``, ``iscell.npy``, ``stat.npy``, ``ops.npy``).

``stat.npy`` and ``ops.npy`` are pickled numpy object arrays (that is how suite2p
saves them), so they are loaded with ``allow_pickle=True``: only open folders you trust.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError, SparksWarning
from .recording import Recording
from .rois import RoiMasks

SIGNALS = ("F_corrected", "F", "spks", "Fneu")


def find_plane_folder(folder: Path, plane: int | str | None = None) -> Path:
    """The folder holding F.npy: ``folder`` itself, ``folder/planeN`` or ``folder/suite2p/planeN``."""
    if (folder / "F.npy").exists() or (folder / "spks.npy").exists():
        return folder
    base = folder / "suite2p" if (folder / "suite2p").is_dir() else folder
    planes = sorted(
        p.name
        for p in base.iterdir()
        if p.is_dir()
        and (p.name.startswith("plane") or p.name == "combined")
        and ((p / "F.npy").exists() or (p / "spks.npy").exists())
    )
    if not planes:
        raise SparksError(
            f"'{folder}' is not a suite2p output folder (no F.npy / spks.npy, no planeN subfolder).",
            "Point at the suite2p folder (or its plane0 subfolder) after suite2p has finished.",
        )
    if plane is None:
        real = [p for p in planes if p != "combined"]
        if len(real) == 1:
            return base / real[0]
        raise SparksError(
            f"'{folder}' has several suite2p planes: {', '.join(planes)}.",
            "Choose one with plane=0 (or plane='combined').",
        )
    name = plane if isinstance(plane, str) and not str(plane).isdigit() else f"plane{int(plane)}"
    if name not in planes:
        raise SparksError(f"'{folder}' has no suite2p '{name}'.", f"Choose one of {', '.join(planes)}.")
    return base / name


def _load(folder: Path, name: str, pickled: bool = False) -> Any:
    f = folder / name
    try:
        arr = np.load(f, allow_pickle=pickled)
    except Exception as exc:
        raise SparksError(
            f"Could not read '{f}': {exc}.",
            "Check that suite2p finished writing this file (re-run the plane if needed).",
        ) from exc
    return arr


def read_suite2p(
    folder: str | Path,
    signal: str | None = None,
    cells_only: bool = True,
    plane=None,
    dt: float | None = None,
    neuropil_coefficient: float | None = None,
    fs: float | None = None,
    **_ignored,
) -> Recording:
    """Read a suite2p plane as a calcium :class:`Recording`.

    Parameters
    ----------
    signal
        ``"F_corrected"`` (``F - c * Fneu``, c = ops['neucoeff'] or 0.7), ``"F"``, ``"spks"``
        (deconvolved) or ``"Fneu"``.  Default: ``F_corrected``, or ``F`` with a warning when
        the folder has no ``Fneu.npy`` (no neuropil correction), or ``spks`` when it has only that.
    cells_only
        Keep only ROIs classified as cells (``iscell[:, 0] == 1``).
    plane
        Plane number (or ``"combined"``) when the folder holds several.
    dt
        Frame period in seconds; default ``1 / ops['fs']`` (``1 / fs`` when given).  Without
        ``ops.npy`` one of ``dt``/``fs`` is needed.
    """
    folder = Path(folder)
    plane_dir = find_plane_folder(folder, plane)
    if signal is not None and signal not in SIGNALS:
        raise SparksError(
            f"Unknown suite2p signal '{signal}'.", f"Use one of {SIGNALS} (--signal on the command line)."
        )
    if dt is None and fs is not None:
        dt = 1.0 / float(fs)
    notes: list[str] = []
    if signal is None:
        has = {n: (plane_dir / n).exists() for n in ("F.npy", "Fneu.npy", "spks.npy")}
        if has["F.npy"] and has["Fneu.npy"]:
            signal = "F_corrected"
        elif has["F.npy"]:
            signal = "F"
            notes.append("no Fneu.npy, so the traces are F without neuropil correction (signal='F')")
        else:
            signal = "spks"
            notes.append("no F.npy, so the deconvolved spks.npy is used (signal='spks')")
    ops: dict[str, Any] = {}
    if (plane_dir / "ops.npy").exists():
        try:
            ops = dict(_load(plane_dir, "ops.npy", pickled=True).item())
        except SparksError as exc:
            notes.append(f"ops.npy could not be read ({exc.problem}); not used")
        except Exception as exc:  # noqa: BLE001 - .item() on an odd ops file
            notes.append(f"ops.npy does not hold suite2p's settings dict ({type(exc).__name__}); not used")
    else:
        notes.append("no ops.npy (no frame rate, image size or registered movie from it)")
    need = {"F_corrected": ("F.npy", "Fneu.npy"), "F": ("F.npy",), "spks": ("spks.npy",), "Fneu": ("Fneu.npy",)}[signal]
    for n in need:
        if not (plane_dir / n).exists():
            have = [
                s
                for s, files in (
                    ("F_corrected", ("F.npy", "Fneu.npy")),
                    ("F", ("F.npy",)),
                    ("spks", ("spks.npy",)),
                    ("Fneu", ("Fneu.npy",)),
                )
                if all((plane_dir / f).exists() for f in files)
            ]
            raise SparksError(
                f"'{plane_dir}' has no {n} (needed for signal='{signal}').",
                f"Choose another signal: {', '.join(have) or 'none available'} (--signal on the command line).",
            )
    arrays = {n: _load(plane_dir, n) for n in need}
    first = arrays[need[0]]
    if first.ndim != 2:
        raise SparksError(
            f"'{plane_dir / need[0]}' has shape {first.shape}; expected [n_rois, n_frames].", "Re-run suite2p."
        )
    for n, a in arrays.items():
        if a.shape != first.shape:
            raise SparksError(
                f"'{plane_dir / n}' has shape {a.shape} but '{need[0]}' has {first.shape}.",
                "These files come from different suite2p runs; re-run the plane so they match.",
            )
    if signal == "F_corrected":
        c = float(neuropil_coefficient if neuropil_coefficient is not None else ops.get("neucoeff", 0.7))
        act = arrays["F.npy"].astype(np.float32) - np.float32(c) * arrays["Fneu.npy"].astype(np.float32)
    else:
        act = first.astype(np.float32)
    n_rois = act.shape[0]

    rois = None
    meta: dict[str, np.ndarray] = {}
    if (plane_dir / "stat.npy").exists():
        stat = _load(plane_dir, "stat.npy", pickled=True)
        if len(stat) != n_rois:
            raise SparksError(
                f"'{plane_dir / 'stat.npy'}' describes {len(stat)} ROIs but '{need[0]}' has {n_rois} traces.",
                "stat.npy and the traces come from different runs (or were edited separately); re-run suite2p for this plane.",
            )
        Ly = int(ops.get("Ly", max(int(np.max(s["ypix"])) for s in stat) + 1))
        Lx = int(ops.get("Lx", max(int(np.max(s["xpix"])) for s in stat) + 1))
        rois = RoiMasks(
            (Ly, Lx),
            [s["ypix"] for s in stat],
            [s["xpix"] for s in stat],
            [s.get("lam", np.ones(len(s["ypix"]))) for s in stat],
        )
        meta["npix"] = np.array([len(s["ypix"]) for s in stat])
    iscell = None
    if (plane_dir / "iscell.npy").exists():
        iscell = _load(plane_dir, "iscell.npy")
        iscell = iscell.reshape(len(iscell), -1)
        if len(iscell) != n_rois:
            raise SparksError(
                f"'{plane_dir / 'iscell.npy'}' has {len(iscell)} entries for {n_rois} traces.",
                "Re-run the classifier (or suite2p) for this plane so iscell matches the traces.",
            )
        meta["iscell"] = iscell[:, 0].astype(bool)
        if iscell.shape[1] > 1:
            meta["cell_probability"] = iscell[:, 1].astype(np.float32)
    keep = np.arange(n_rois)
    if cells_only and iscell is not None:
        keep = np.flatnonzero(iscell[:, 0] > 0.5)
        if keep.size == 0:
            raise SparksError(
                f"No ROI in '{plane_dir / 'iscell.npy'}' is classified as a cell.",
                "Pass cells_only=False to use every ROI, or re-classify in the suite2p GUI.",
            )
    if dt is None:
        if "fs" not in ops:
            raise SparksError(
                f"'{plane_dir}' has no ops.npy with the frame rate 'fs'"
                + (f" ({'; '.join(notes)})" if notes else "")
                + ".",
                "Pass the frame rate: fs=30 (--fs 30 on the command line) or dt in seconds per frame (--dt 0.0333).",
            )
        dt = 1.0 / float(ops["fs"])
    if notes:
        warnings.warn(f"suite2p folder '{plane_dir}': " + "; ".join(notes) + ".", SparksWarning, stacklevel=2)
    movie = None
    reg = plane_dir / "data.bin"
    if reg.exists() and "Ly" in ops and "Lx" in ops:
        n_frames = reg.stat().st_size // (2 * int(ops["Ly"]) * int(ops["Lx"]))
        if n_frames:
            movie = np.memmap(reg, dtype=np.int16, mode="r", shape=(n_frames, int(ops["Ly"]), int(ops["Lx"])))
    if rois is not None:
        cen = rois.centroids()
        meta["centroid_row"], meta["centroid_col"] = cen[:, 0], cen[:, 1]
    rec = Recording(
        activity=act[keep],
        dt=dt,
        kind="calcium",
        neuron_ids=keep,
        name=folder.name if folder.name else "suite2p",
        neuron_meta={k: v[keep] for k, v in meta.items()},
        rois=None if rois is None else rois.subset(keep),
        movie=movie,
        movie_dt=dt if movie is not None else None,
        provenance={
            "source": str(folder),
            "reader": "suite2p",
            "plane_folder": str(plane_dir),
            "signal": signal,
            "cells_only": cells_only,
            "dt_source": "ops.npy fs" if "fs" in ops and dt == 1.0 / float(ops["fs"]) else "given",
            **({"notes": notes} if notes else {}),
        },
    )
    return rec
