"""Checkpoints: model + optimiser + config + RNG + epoch (+ history), written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..data.atomic import atomic_save
from ..errors import SparksError

FORMAT = "sparks-gui-checkpoint-1"


def save_checkpoint(path, model, optimiser, config, epoch: int, generator=None, history=None, data_meta=None) -> Path:
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
