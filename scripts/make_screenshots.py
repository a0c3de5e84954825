"""Regenerate the user-guide screenshots in docs/img from the running app.

Run under a display (``xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/make_screenshots.py``).
It opens the synthetic reach sample, trains a small model, sorts the raster, picks a
neuron and exports, grabbing the window at each stage (load -> train -> inspect -> export).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def wait(app, seconds: float, until=None) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        if until is not None and until():
            return
        time.sleep(0.01)


def grab(viewer, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    viewer.window._qt_window.grab().save(str(path))
    print("wrote", path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "img"))
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--sample", default="reach")
    args = p.parse_args(argv)
    out = Path(args.out)

    import warnings

    warnings.filterwarnings("ignore", message=".*PyQt5.*")
    warnings.filterwarnings("ignore", message=".*System theme.*")
    from qtpy.QtWidgets import QApplication

    from sparks_gui.gui.app import make_viewer
    from sparks_gui.gui._session import session_for

    viewer = make_viewer(sample=args.sample, show=True)
    win = viewer.window._qt_window
    win.show()
    win.resize(1600, 1000)
    app = QApplication.instance()
    s = session_for(viewer)
    w = s.widgets
    wait(app, 1.0)
    grab(viewer, out / "01-load.png")

    # train
    s.docks["training"].raise_()
    form = w["training"].form
    form.editors["epochs"].setValue(args.epochs)
    form.editors["batch_size"].setValue(16)
    w["data"].bin_factor.setValue(10)
    wait(app, 0.5)
    w["training"].start()
    wait(app, 6.0, until=lambda: len(s.results.history) >= max(2, args.epochs // 3))
    grab(viewer, out / "02-training.png")
    wait(app, 600, until=lambda: not s.running)
    wait(app, 0.5)

    # inspect: order by latent phase, pick a neuron, move the cursor
    w["raster"].ordering.setCurrentText("SPARKS latent phase")
    w["latents"].average.setChecked(False)
    wait(app, 0.5)
    s.select_neuron(int(s.order[len(s.order) // 3]))
    rec = s.training_recording()
    s.set_time(rec.dt * (rec.trials[1][0] + 300 if rec.trials is not None else rec.n_time // 4))
    wait(app, 0.5)
    grab(viewer, out / "03-inspect.png")
    w["latents"].average.setChecked(True)
    wait(app, 0.3)
    w["latents"].export_image(out / "latents-averaged.png")
    w["latents"].average.setChecked(False)

    # export
    s.docks["export"].raise_()
    folder = Path(tempfile.mkdtemp(prefix="sparks-report-"))
    w["export"].folder.setText(str(folder))
    w["export"].run_export(__import__("sparks_gui.gui.exports", fromlist=["write_report"]).write_report, "Report")
    wait(app, 0.5)
    grab(viewer, out / "04-export.png")
    for name in ("raster", "attention", "decoding"):
        w[name].export_image(out / f"view-{name}.png")
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
