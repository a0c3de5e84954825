"""What a consumer (the GUI, the CLI) may use of a trainer: :class:`TrainerProtocol`.

:class:`~sparks_gui.engine.trainer.Trainer` (in this process) and
:class:`~sparks_gui.engine.process.ProcessTrainer` (in a child process) both implement it, so the
GUI's worker drives either without asking which one it has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from .config import SparksConfig
    from .dataset import PreparedData
    from .events import Event
    from .trainer import Trainer


@runtime_checkable
class TrainerProtocol(Protocol):
    """A training run that yields :mod:`~sparks_gui.engine.events` and can be paused, resumed and stopped.

    ``local`` is the in-process :class:`Trainer` that holds the prepared data, the model weights and the
    history (the trainer itself, or the shadow of a :class:`ProcessTrainer`): saving, exporting and
    recomputing attention after the run use it.
    """

    config: SparksConfig

    def run(self) -> Iterator[Event]:
        """Train, yielding events; ends with ``Finished`` or ``Failed``."""
        ...

    def cancel(self) -> None:
        """Stop after the batch in progress."""
        ...

    @property
    def cancelled(self) -> bool: ...

    def pause(self) -> None:
        """Hold between batches (an in-process run holds when its consumer stops asking for events)."""
        ...

    def resume(self) -> None: ...

    def warmup(self) -> None:
        """Compile kernels before the first, timed batch (a no-op where another process trains)."""
        ...

    @property
    def local(self) -> Trainer: ...

    @property
    def data(self) -> PreparedData: ...

    @property
    def model(self) -> Any: ...

    @property
    def history(self) -> list[dict[str, Any]]: ...

    def attention_subsampled(self, example: int) -> tuple[np.ndarray | None, int]: ...


PROTOCOL_MEMBERS = frozenset(
    name for name in (*vars(TrainerProtocol), *TrainerProtocol.__annotations__) if not name.startswith("_")
)
"""Names of :class:`TrainerProtocol`'s members (what a consumer may use)."""
