"""Regenerate the user-guide screenshots in docs/img from the running app.

Run under a display (``xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/make_screenshots.py``).
Workflow 1 (reach sample): load -> train -> inspect -> export, plus single-view exports.
Workflow 2 (calcium_movie sample): imaging movie + ROI masks, a raster row picked.
Workflow 3 (stimulus_movie sample): frame decoding, stimulus and decoded frames side by side.
Workflow 4 (real recording, tests/data/songbird_hvc): open a user's .mat file, train unsupervised
with the default ("auto") settings, order the raster by SPARKS latent phase.
Workflow 5 (multiarea sample, ``--only mtm``): a short MtM run (objective 'mtm'), the masked-neurons
view showing a held-out neuron's predicted rate against its spikes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sparks_gui.analysis.ordering import CORRELATION, LATENT_PHASE, ordering_label
from sparks_gui.gui.app import docks_for


def wait(app, seconds: float, until=None) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        if until is not None and until():
            return
        time.sleep(0.01)


def grab(viewer, path: Path) -> None:
    from sparks_gui.gui.app import dismiss_notifications

    dismiss_notifications(viewer)
    from qtpy.QtWidgets import QApplication

    QApplication.instance().processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    viewer.window._qt_window.grab().save(str(path))
    print("wrote", path)


SIZE = (1472, 920)  # window size of the screenshots (--size); 1472x920 is sparks-gui's default on a 1600x1000 screen


def new_viewer(sample: str):
    from qtpy.QtWidgets import QApplication

    from sparks_gui.gui._session import session_for
    from sparks_gui.gui.app import make_viewer

    viewer = make_viewer(sample=sample, show=True)
    win = viewer.window._qt_window
    win.show()
    win.resize(*SIZE)
    app = QApplication.instance()
    wait(app, 0.2)
    from sparks_gui.gui.app import arrange_docks

    arrange_docks(viewer)
    s = session_for(viewer)
    wait(app, 1.0, until=lambda: s.recording is not None)
    wait(app, 0.3)
    viewer.reset_view()
    wait(app, 0.3)
    return viewer, s, docks_for(viewer).widgets, app


def tiny_form(w, epochs: int, batch: int, bin_factor: int) -> None:
    form = w["training"].form
    form.editors["epochs"].setValue(epochs)
    form.editors["batch_size"].setValue(batch)
    w["data"].bin_factor.setValue(bin_factor)
    w["training"].device.setCurrentIndex(1)


def flush(w) -> None:
    for name in ("raster", "latents", "attention", "decoding"):
        for t in (getattr(w[name], "_redraw", None), getattr(w[name], "_update", None)):
            if t is not None:
                t.flush()
    w["training"].loss_view._redraw.flush()


def workflow_reach(out: Path, epochs: int) -> None:
    viewer, s, w, app = new_viewer("reach")
    grab(viewer, out / "01-load.png")

    docks_for(s.viewer).docks["training"].raise_()
    tiny_form(w, epochs, 16, 10)
    wait(app, 0.5)
    w["training"].start()
    wait(app, 120, until=lambda: len(s.results.history) >= max(2, epochs // 3))
    flush(w)
    wait(app, 0.3)
    grab(viewer, out / "02-training.png")
    wait(app, 600, until=lambda: not s.running)
    wait(app, 0.5)

    # inspect: order by latent phase, pick a neuron, move the cursor, attention at the cursor
    w["raster"].ordering.setCurrentText(ordering_label(LATENT_PHASE))
    w["latents"].average.setChecked(False)
    w["attention"].mode.setCurrentText("at cursor time")
    docks_for(s.viewer).docks["attention"].raise_()  # a tab beside the latents
    wait(app, 0.5)
    s.select_neuron(int(s.order[len(s.order) // 3]))
    rec = s.training_recording()
    ex = int(s.results.attention.example)
    start = int(s.trainer.data.starts[ex])
    s.set_time(rec.dt * (start + 250))
    wait(app, 2.0, until=lambda: w["attention"].sequence is not None and w["attention"].sequence[0] == ex)
    flush(w)
    wait(app, 0.5)
    grab(viewer, out / "03-inspect.png")
    w["latents"].average.setChecked(True)
    flush(w)
    wait(app, 0.3)
    w["latents"].export_image(out / "latents-averaged.png")
    w["latents"].average.setChecked(False)
    flush(w)

    # export
    docks_for(s.viewer).docks["export"].raise_()
    from sparks_gui.gui import exports

    folder = Path(tempfile.mkdtemp(prefix="sparks-report-"))
    w["export"].folder.setText(str(folder))
    w["export"].run_export(exports.write_report, "Report")
    wait(app, 0.5)
    grab(viewer, out / "04-export.png")
    for name in ("raster", "attention", "decoding"):
        w[name].export_image(out / f"view-{name}.png")
    viewer.close()


def workflow_calcium(out: Path) -> None:
    viewer, s, w, app = new_viewer("calcium_movie")
    rec = s.recording
    w["raster"].ordering.setCurrentText(ordering_label(CORRELATION))
    wait(app, 1.0, until=lambda: s.ordering_method == CORRELATION)
    s.select_neuron(int(s.order[6]))
    s.set_time(200 * rec.dt)
    from sparks_gui.gui._links import fit_view_to

    fit_view_to(viewer, [ly for ly in viewer.layers if ly.visible and ly.ndim >= 2 and ly.name != "SPARKS cursor"])
    wait(app, 0.5)
    grab(viewer, out / "05-calcium-rois.png")
    viewer.close()


def workflow_frames(out: Path, epochs: int) -> None:
    viewer, s, w, app = new_viewer("stimulus_movie")
    w["data"].target.setCurrentText("frames")
    tiny_form(w, epochs, 8, 2)
    docks_for(s.viewer).docks["training"].raise_()
    w["training"].start()
    wait(app, 600, until=lambda: not s.running)
    wait(app, 0.5, until=lambda: "decoded frames" in viewer.layers)
    p = s.results.predictions
    f = int(round(p.dt / s.recording.dt))
    s.set_time((int(p.starts[0]) + (20 + p.offset) * f) * s.recording.dt)
    from sparks_gui.gui._links import fit_view_to

    fit_view_to(viewer, [ly for ly in viewer.layers if ly.visible and ly.ndim == 3])
    flush(w)
    wait(app, 0.5)
    grab(viewer, out / "06-frame-decoding.png")
    viewer.close()


def workflow_real(out: Path) -> None:
    viewer, s, w, app = new_viewer("reach")
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "songbird_hvc" / "MackeviciusData.mat"
    w["data"].open_file(path)
    wait(app, 60, until=lambda: s.recording is not None and s.recording.name == path.stem)
    wait(app, 1.0)
    w["data"].target.setCurrentText("unsupervised")
    w["training"].device.setCurrentIndex(1)
    docks_for(s.viewer).docks["training"].raise_()
    wait(app, 0.5)
    w["training"].start()
    wait(app, 900, until=lambda: not s.running and s.results.history)
    wait(app, 1.0)
    w["raster"].ordering.setCurrentText(ordering_label(LATENT_PHASE))
    wait(app, 3.0)
    from sparks_gui.gui._links import fit_view_to

    fit_view_to(viewer, [ly for ly in viewer.layers if ly.visible and ly.ndim >= 2 and ly.name != "SPARKS cursor"])
    flush(w)
    wait(app, 0.5)
    grab(viewer, out / "07-real-songbird.png")
    viewer.close()


def workflow_nwb(out: Path, path: Path) -> None:
    """A user's NWB file with every setting left as it opens: no form field, target or config touched."""
    viewer, s, w, app = new_viewer("reach")
    w["data"].open_file(path)
    wait(app, 120, until=lambda: s.recording is not None and s.recording.name == path.stem)
    wait(app, 1.0)
    print("target:", w["data"].target.currentText(), "| status:", w["data"].summary.text()[:400])
    docks_for(s.viewer).docks["training"].raise_()
    wait(app, 0.5)
    t0 = time.perf_counter()
    w["training"].start()
    wait(app, 1200, until=lambda: not s.running and s.results.history)
    print(f"trained in {time.perf_counter() - t0:.0f} s; status: {w['training'].status.text()}")
    wait(app, 1.0)
    flush(w)
    wait(app, 0.5)
    grab(viewer, out / f"nwb-{path.stem}.png")
    viewer.close()


def workflow_mtm(out: Path, epochs: int) -> None:
    viewer, s, w, app = new_viewer("multiarea")
    form = w["training"].form
    form.editors["objective"].setCurrentText("mtm")
    for name, value in (("latent_dim", 6), ("embed_dim", 8), ("tau_p", 2)):
        form.editors[name].setValue(value)
    form.editors["lr"].setText("0.01")
    tiny_form(w, epochs, 16, 2)
    docks_for(s.viewer).docks["training"].raise_()
    wait(app, 0.5)
    w["training"].start()
    wait(app, 600, until=lambda: not s.running)
    wait(app, 0.5)
    if s.results.predictions is None:
        raise SystemExit(f"the MtM run produced no predictions: {w['training'].status.text()}")
    rec = s.training_recording()
    p = s.results.predictions
    s.set_time((int(p.starts[0]) * rec.dt) + 0.5 * p.predicted.shape[1] * p.dt)
    docks_for(s.viewer).docks["masked"].raise_()
    flush(w)
    w["masked"]._redraw.flush()
    wait(app, 0.5)
    grab(viewer, out / "mtm-masked-neurons.png")
    viewer.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "img"))
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--only", choices=("reach", "calcium", "frames", "real", "mtm", "nwb"))
    p.add_argument("--nwb", help="also (or with --only nwb: only) open this NWB file and train with the defaults")
    p.add_argument("--size", default="1472x920", help="window size WxH (default 1472x920; 1280x800: a laptop)")
    args = p.parse_args(argv)
    out = Path(args.out)
    global SIZE
    try:
        SIZE = tuple(int(v) for v in args.size.lower().split("x"))
        assert len(SIZE) == 2 and min(SIZE) > 0
    except (ValueError, AssertionError):
        p.error(f"--size must be WxH, e.g. 1280x800 (got {args.size!r})")
    import os

    # the screenshot runs go to a temporary runs folder: the user's own runs stay out of the Training dock's
    # list in the pictures, and the screenshots leave nothing in the user's folder
    os.environ.setdefault("SPARKS_RUNS_DIR", tempfile.mkdtemp(prefix="sparks-screenshot-runs-"))
    from sparks_gui.gui.app import quiet_qt_warnings

    quiet_qt_warnings()
    if args.only in (None, "reach"):
        workflow_reach(out, args.epochs)
    if args.only in (None, "calcium"):
        workflow_calcium(out)
    if args.only in (None, "frames"):
        workflow_frames(out, max(args.epochs, 15))
    if args.only in (None, "real"):
        workflow_real(out)
    if args.only in (None, "mtm"):
        workflow_mtm(out, max(args.epochs, 20))
    if args.nwb and args.only in (None, "nwb"):
        workflow_nwb(out, Path(args.nwb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
