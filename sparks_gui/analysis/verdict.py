"""Plain-language verdicts on a finished run's held-out numbers (numpy only).

A run can finish without error and still have learned nothing: on a sparse recording the model's
held-out likelihood can sit at the mean-rate null (``nll_ratio`` ~ 1), a decoder's R2 at or below 0.
The CLI prints these verdicts after training and the GUI shows them as notifications, so a user
does not read a finished run as a result.
"""

from __future__ import annotations

import math
from typing import Any

#: a held-out likelihood ratio at or above this is "no better than each neuron's mean rate"
NULL_RATIO = 0.99
#: a held-out R2 at or below this is "no better than the mean of the target"
NULL_R2 = 0.0


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def held_out_verdicts(metrics: dict[str, Any], target: str = "") -> list[str]:
    """Sentences for the held-out numbers in ``metrics`` that say the model beat no simple baseline.

    Reads ``nll_ratio`` (Poisson, spikes), ``bce_ratio`` (binary spikes) and ``r2`` (a decoded
    target); ``[]`` when the numbers beat their baselines or are absent."""
    out: list[str] = []
    what = f"'{target}'" if target else "the target"
    for key, name in (("nll_ratio", "Poisson likelihood"), ("bce_ratio", "binary cross-entropy")):
        ratio = _finite(metrics.get(key))
        if ratio is not None and ratio >= NULL_RATIO:
            out.append(
                f"Held-out {name} is {ratio:.3f} x that of each neuron's mean rate: the model predicts the "
                "held-out activity no better than constant rates. Try wider bins (bin factor), more epochs, "
                "trials from the file, or a behaviour/stimulus target."
            )
    r2 = _finite(metrics.get("r2"))
    if r2 is not None and r2 <= NULL_R2:
        out.append(
            f"Held-out R2 of {what} is {r2:.3f}: no better than predicting its mean. Try more epochs, a "
            "longer history (tau_p), more training trials, or check that the target is related to the activity."
        )
    return out
