"""Checkpoint files (``model.pt``, ``checkpoint.pt``): model + optimiser + config + RNG + epoch + history +
:func:`data_meta`, written atomically.  The run folder around them is :mod:`sparks_gui.engine.runs`'s;
the trainer writes its resumable checkpoint with :func:`save_training_checkpoint` (torch is imported
by the functions that need it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.atomic import atomic_save
from ..errors import SparksError

FORMAT = "sparks-gui-checkpoint-1"
CHECKPOINT_FILE = "checkpoint.pt"
"""The trainer's resumable checkpoint in a run folder."""


def save_checkpoint(path, model, optimiser, config, epoch: int, generator=None, history=None, data_meta=None) -> Path:
    import torch

    payload: dict[str, Any] = {
        "format": FORMAT,
        "model": model.state_dict(),
        "model_spec": model.spec(),
        "optimizer": optimiser.state_dict() if optimiser is not None else None,
        "config": config.to_dict(),
        "epoch": int(epoch),
        "generator": generator.get_state() if generator is not None else None,
        "torch_rng": torch.get_rng_state(),
        "history": list(history or []),
        "data_meta": dict(data_meta or {}),
    }
    return atomic_save(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path, map_location="cpu") -> dict[str, Any]:
    import torch

    p = Path(path)
    if not p.exists():
        raise SparksError(f"Checkpoint '{p}' does not exist.", "Check the path of the saved run.")
    try:
        payload = torch.load(p, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise SparksError(
            f"'{p}' is not a readable sparks-gui checkpoint ({exc}).",
            "Pick a model.pt/checkpoint.pt written by sparks-gui.",
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SparksError(
            f"'{p}' is not a sparks-gui checkpoint.", "Pick a model.pt/checkpoint.pt written by sparks-gui."
        )
    if payload.get("generator") is not None:
        payload["generator"] = payload["generator"].cpu()
    return payload


def data_meta(data, trainer=None) -> dict[str, Any]:
    """What a run stores about its data (``data_meta`` of model.pt / checkpoint.pt).

    Parameters
    ----------
    data
        The trainer's :class:`~sparks_gui.engine.dataset.PreparedData`: loss, target normalisation,
        offset, bin width, kind and the training example length.
    trainer
        When given, also its model ``session`` and, for MtM, the fixed held-out neurons, the trained
        masking schemes and the region labels.
    """
    meta: dict[str, Any] = {
        "r_mean": data.r_mean,
        "r_std": data.r_std,
        "loss": data.loss,
        "target": data.target_name,
        "target_offset": data.target_offset,
        "dt": data.dt,
        "kind": data.kind,
        "example_length": int(data.x.shape[-1]),
    }
    if trainer is None:
        return meta
    meta["session"] = int(getattr(trainer, "session", 0))
    if getattr(trainer, "mtm", False):
        meta["heldout_neurons"] = [int(i) for i in trainer.heldout_neurons]
        meta["mtm_schemes"] = list(getattr(trainer, "_schemes", []))
        if getattr(trainer, "regions", None) is not None:
            meta["regions"] = [str(r) for r in trainer.regions]
    return meta


def save_training_checkpoint(folder: str | Path, trainer, optimiser, generator, epoch: int) -> Path:
    """Write ``folder/checkpoint.pt``: what :class:`~sparks_gui.engine.trainer.Trainer` needs to resume
    exactly after ``epoch`` epochs (model, optimiser, random state, history)."""
    return save_checkpoint(
        Path(folder) / CHECKPOINT_FILE,
        trainer.model,
        optimiser,
        trainer.config,
        epoch,
        generator,
        trainer.history,
        data_meta=data_meta(trainer.data, trainer),
    )
