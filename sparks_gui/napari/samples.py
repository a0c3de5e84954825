"""npe2 ``sample_data`` contributions: the synthetic ground-truth sets as napari layers.

No Qt here: functions return napari ``LayerData`` tuples
(:func:`~sparks_gui.napari.layers.layers_for_recording`); the Recording travels in the layer
metadata so the SPARKS docks can pick it up.
"""

from __future__ import annotations

from ..data.synthetic import make_sample
from .layers import layers_for_recording


def _layers(name: str) -> list[tuple]:
    return layers_for_recording(make_sample(name))


def reach() -> list[tuple]:
    return _layers("reach")


def sequence() -> list[tuple]:
    return _layers("sequence")


def sequence_calcium() -> list[tuple]:
    return _layers("sequence_calcium")


def network() -> list[tuple]:
    return _layers("network")


def stimulus_movie() -> list[tuple]:
    """Includes the stimulus movie on the activity's bin clock."""
    return _layers("stimulus_movie")


def calcium_movie() -> list[tuple]:
    return _layers("calcium_movie")


def multiarea() -> list[tuple]:
    """3 coupled areas with ``brain_area`` labels (the Data dock offers them as neuron groups; MtM uses
    them for its region masks)."""
    return _layers("multiarea")
