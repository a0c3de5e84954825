"""The session encoder's token options (input residual, feed-forward block): fused paths equal the plain ones."""

from __future__ import annotations

import pytest
import torch

from sparks_gui.model.hebbian import cpu_kernel_available
from sparks_gui.model.sparks import SparksModel

BACKENDS = ["torch", "reference"] + (["cpu_kernel"] if cpu_kernel_available() else [])


def _counts(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    spikes = (torch.rand(3, 24, 80, generator=g) < 0.15).float()
    return spikes * torch.randint(1, 6, (3, 24, 80), generator=g).float()  # counts up to 5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("token_ff,input_residual", [(False, True), (True, False), (True, True)])
def test_fused_token_paths_equal_the_unfused_encoder(backend, token_ff, input_residual):
    torch.manual_seed(0)
    m = SparksModel(
        24, n_out=2, latent_dim=3, dt=0.02, backend=backend, token_ff=token_ff, input_residual=input_residual
    )
    x = _counts()
    fused = m(x, sample=False)
    m.fused_readout = False
    plain = m(x, sample=False)
    torch.testing.assert_close(fused.mu, plain.mu, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fused.logvar, plain.logvar, rtol=1e-4, atol=1e-5)
    # gradients reach the value vectors, the trace parameters and (when on) the input embedding
    m.fused_readout = True
    m(x, sample=False).mu.pow(2).sum().backward()
    enc = m.sessions[0]
    assert enc.hebbian.value.grad.abs().sum() > 0 and enc.hebbian.log_tau_pre.grad.abs().sum() > 0
    if input_residual:
        assert enc.input_embed.grad.abs().sum() > 0


def test_input_residual_makes_the_present_bin_visible():
    """With the residual, a spike at t changes mu(t) even where the Hebbian read-out is unchanged."""
    torch.manual_seed(0)
    m = SparksModel(10, n_out=1, latent_dim=3, dt=0.02, input_residual=True, backend="torch")
    x = torch.zeros(1, 10, 20)
    x[0, 3, 10] = 1.0  # a single spike: the Hebbian state of the other pairs stays zero
    base = m(torch.zeros_like(x), sample=False).mu
    mu = m(x, sample=False).mu
    assert torch.allclose(mu[0, :10], base[0, :10])  # causal: nothing changes before the spike
    assert (mu[0, 10] - base[0, 10]).abs().max() > 1e-3
