"""The GUI's state as a plain evented model (psygnal, as napari's own components): no Qt here.

:class:`SessionState` holds what the SPARKS docks of one viewer share: the recording, the run
configuration, the neuron ordering, the selected neuron, the time cursor, whether a run is going (or
paused) and the latest run's :class:`RunResults`.  Setting a field emits ``state.events.<field>`` with
``(new, old)`` when the value changed (``paused``: ``state.events.paused_changed``, as ``SignalGroup.paused()`` is
taken) (arrays compared by value; recordings, configs and results by
identity).  :class:`~sparks_gui.gui._session.SparksSession` keeps its state here and drives its Qt signals
from these events, so the state can be tested, and listened to, without a ``QApplication``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from psygnal import evented

from ..analysis import ordering as orderings

if TYPE_CHECKING:
    from ..data.recording import Recording
    from ..engine import events as E
    from ..engine.config import SparksConfig


def _default_config() -> SparksConfig:
    from ..engine.config import SparksConfig

    return SparksConfig()


@dataclass
class RunResults:
    """What the latest (or loaded) run produced, as plain data for views and exports."""

    history: list[dict[str, Any]] = field(default_factory=list)
    step_losses: list[tuple[int, float]] = field(default_factory=list)
    latents: E.LatentSnapshot | None = None
    attention: E.AttentionSnapshot | None = None
    predictions: E.Predictions | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    checkpoint_epoch: int = 0
    """Epochs completed when ``checkpoint`` was written."""
    config: SparksConfig | None = None
    started: E.Started | None = None


@evented(
    equality_operators={"recording": operator.is_, "config": operator.is_, "results": operator.is_},
    connect_child_events=False,
    signal_aliases={"paused": "paused_changed"},  # SignalGroup.paused() is a method
)
@dataclass
class SessionState:
    """Shared, evented state of the SPARKS docks of one viewer (see the module's docstring)."""

    recording: Recording | None = None
    """The current recording (the whole of it; the session restricts it to the neuron/time selection)."""
    config: SparksConfig = field(default_factory=_default_config)
    ordering_name: str = field(default_factory=lambda: orderings.ordering_label(orderings.ORIGINAL))
    """A label of the raster's ordering menu."""
    order: np.ndarray | None = None
    """Row order of the training selection's neurons under ``ordering_name``."""
    selected_neuron: int | None = None
    """Highlighted neuron (row of the training selection), or None."""
    time_s: float = 0.0
    """The time cursor, in seconds of the training selection."""
    running: bool = False
    paused: bool = False
    results: RunResults = field(default_factory=RunResults)
