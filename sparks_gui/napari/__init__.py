"""The napari plugin's non-Qt half (npe2 contributions in ``sparks_gui/napari.yaml``).

* :mod:`.layers` - the one layer-role type (:class:`LayerRole`), the metadata keys that carry a
  Recording and its role, and helpers to tag and find SPARKS layers.
* :mod:`.frames` - :class:`LazyFrames`, the lazy movie on a recording's bin clock (stimulus and
  decoded frames).
* :mod:`.reader` - ``get_reader`` and the layers of a Recording.
* :mod:`.writer` - the NWB, ``.npy`` and ``.csv`` writers.
* :mod:`.samples` - the synthetic ground-truth sets as sample data.

Nothing here imports Qt or the napari package: functions return napari ``LayerData`` tuples.
"""

from .layers import (
    MOVIE_ROLES,
    RECORDING_KEY,
    RESULTS_KEY,
    ROLE_KEY,
    LayerRole,
    find_layers,
    layers_for_recording,
    recording_of,
    role_of,
    tag,
)

__all__ = [
    "MOVIE_ROLES",
    "RECORDING_KEY",
    "RESULTS_KEY",
    "ROLE_KEY",
    "LayerRole",
    "find_layers",
    "layers_for_recording",
    "recording_of",
    "role_of",
    "tag",
]
