"""Publication figures (matplotlib, headless-safe, atomic writes) built from analysis results.

Each function takes plain results and a path whose extension picks the format, writes the file
and returns its path.  matplotlib is imported only when a figure is drawn.

* Training runs (:mod:`.training`): :func:`loss_curve`, :func:`latent_trajectories`, :func:`decoding`.
* Analysis results (:mod:`.analysis`): :func:`ordering_figure`, :func:`oscillation_figure`,
  :func:`decoding_summary_figure`, :func:`frame_accuracy_figure`, :func:`consistency_figure`,
  :func:`connectivity_figure`, :func:`hierarchy_figure`.
* Size and resolution of an export (:mod:`.size`): :class:`ImageSize`, :func:`resolve`.
"""

from .analysis import (
    connectivity_figure,
    consistency_figure,
    decoding_summary_figure,
    frame_accuracy_figure,
    hierarchy_figure,
    ordering_figure,
    oscillation_figure,
)
from .size import ImageSize, resolve
from .training import decoding, latent_trajectories, loss_curve

__all__ = [
    "ImageSize",
    "connectivity_figure",
    "consistency_figure",
    "decoding",
    "decoding_summary_figure",
    "frame_accuracy_figure",
    "hierarchy_figure",
    "latent_trajectories",
    "loss_curve",
    "ordering_figure",
    "oscillation_figure",
    "resolve",
]
