"""Live pyqtgraph views of a SPARKS run (each is also a napari dock widget)."""

from .attention import AttentionView
from .decoding import DecodingView
from .latents import LatentView
from .loss import LossView
from .masked import MaskedNeuronsView
from .raster import RasterView

__all__ = ["AttentionView", "DecodingView", "LatentView", "LossView", "MaskedNeuronsView", "RasterView"]
