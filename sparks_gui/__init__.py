"""sparks-gui: train SPARKS on neural recordings and look inside it while it learns.

Public API::

    from sparks_gui import Sparks, SparksConfig, Recording, SparksError
"""

from __future__ import annotations

__version__ = "0.1.0"

from .data.recording import Recording
from .errors import SparksError

__all__ = [
    "Sparks",
    "SparksConfig",
    "Recording",
    "SparksError",
    "load_recording",
    "make_sample",
    "write_nwb",
    "export_to_nwb",
    "__version__",
]

_LAZY = {
    "Sparks": ("engine.facade", "Sparks"),
    "SparksConfig": ("engine.config", "SparksConfig"),
    "load_recording": ("data.io", "load_recording"),
    "make_sample": ("data.synthetic", "make_sample"),
    "write_nwb": ("data.nwb", "write_nwb"),
    "export_to_nwb": ("data.export", "export_to_nwb"),
}


def __getattr__(name):  # torch-heavy pieces load on first use, so `data/` stays torch-free
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module 'sparks_gui' has no attribute '{name}'")
