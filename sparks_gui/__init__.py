"""sparks-gui: train SPARKS on neural recordings and look inside it while it learns.

Public API::

    from sparks_gui import Sparks, SparksConfig, Recording, SparksError
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import SparksError
from .data.recording import Recording

__all__ = ["Sparks", "SparksConfig", "Recording", "SparksError", "load_recording", "__version__"]


def __getattr__(name):  # torch-heavy pieces load on first use, so `data/` stays torch-free
    if name == "Sparks":
        from .engine.facade import Sparks

        return Sparks
    if name == "SparksConfig":
        from .engine.config import SparksConfig

        return SparksConfig
    if name == "load_recording":
        from .data.io import load_recording

        return load_recording
    raise AttributeError(f"module 'sparks_gui' has no attribute '{name}'")
