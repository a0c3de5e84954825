"""npe2 ``sample_data`` contributions: the synthetic ground-truth sets as napari layers.

No Qt here: functions return napari ``LayerData`` tuples.  The Recording itself travels
in the layer metadata under ``"sparks_recording"`` so the SPARKS docks can pick it up.
"""

from __future__ import annotations

import numpy as np

from .data.synthetic import make_sample


def _layers(name: str) -> list[tuple]:
    from ._napari_io import layers_for_recording

    return layers_for_recording(make_sample(name))


def _layers_for_recording(rec) -> list[tuple]:
    """An image layer showing the activity (neurons x time), carrying the Recording."""
    act = rec.activity
    if rec.kind == "spikes" and act.shape[1] > 20000:
        # show the first 20 s of spikes as a raster image (analysis always uses the full data)
        act = act[:, : int(20.0 / rec.dt)]
    from ._napari_io import activity_display_scale

    meta = {"sparks_recording": rec, "dt": rec.dt, "kind": rec.kind, "sparks_role": "activity"}
    lo, hi = float(np.percentile(act, 1)), float(np.percentile(act, 99.5))
    # rows: neurons; columns: time bins, squeezed for display so a long recording is not a thin strip
    return [
        (
            act,
            {
                "name": f"{rec.name} activity",
                "colormap": "gray_r" if rec.kind == "spikes" else "magma",
                "contrast_limits": (lo, max(hi, lo + 1e-6)),
                "metadata": meta,
                "scale": activity_display_scale(*act.shape),
            },
            "image",
        )
    ]


def reach() -> list[tuple]:
    return _layers("reach")


def sequence() -> list[tuple]:
    return _layers("sequence")


def sequence_calcium() -> list[tuple]:
    return _layers("sequence_calcium")


def _full_layers(name: str) -> list[tuple]:
    from ._napari_io import layers_for_recording

    return layers_for_recording(make_sample(name))


def network() -> list[tuple]:
    return _full_layers("network")


def stimulus_movie() -> list[tuple]:
    from ._napari_io import layers_for_recording

    return layers_for_recording(make_sample("stimulus_movie"))  # includes the stimulus movie on the bin clock


def calcium_movie() -> list[tuple]:
    return _full_layers("calcium_movie")


def multiarea() -> list[tuple]:
    """3 coupled areas with ``brain_area`` labels (the Data dock offers them as neuron groups; MtM uses
    them for its region masks)."""
    return _full_layers("multiarea")
