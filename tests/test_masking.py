"""MtM masking schemes: what each hides, determinism, region handling, no leak, loss, task token."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparks_gui.errors import SparksError
from sparks_gui.model.masking import (
    SCHEMES,
    TaskToken,
    available_schemes,
    draw_scheme,
    mask_batch,
    mask_entries,
    mask_mixed,
    masked_loss,
    region_codes,
)

B, N, T = 6, 20, 15
REGIONS = np.array(["CA1"] * 8 + ["LP"] * 5 + ["PO"] * 7)


def _x(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((B, N, T), 2.0), generator=g) + 1.0  # all entries > 0


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_neuron_scheme_hides_whole_neurons_by_ratio():
    x = _x()
    masked, mask = mask_batch(x, "neuron", ratio=0.3, generator=_gen())
    assert mask.dtype == torch.bool and mask.shape == x.shape
    per_neuron = mask.any(dim=2)
    assert torch.equal(per_neuron, mask.all(dim=2))  # all time steps of a hidden neuron
    assert per_neuron.sum(dim=1).tolist() == [6] * B  # round(0.3 * 20)
    assert not all(torch.equal(per_neuron[0], per_neuron[b]) for b in range(1, B))  # drawn per sample
    assert torch.all(masked[mask] == 0) and torch.equal(masked[~mask], x[~mask])


def test_causal_scheme_hides_the_last_steps():
    x = _x()
    masked, mask = mask_batch(x, "causal", ratio=0.2, generator=_gen())
    k = 3  # round(0.2 * 15)
    assert mask[:, :, T - k :].all() and not mask[:, :, : T - k].any()
    assert torch.all(masked[:, :, T - k :] == 0) and torch.equal(masked[:, :, : T - k], x[:, :, : T - k])


def test_intra_region_hides_some_neurons_of_one_region():
    x = _x()
    _, mask = mask_batch(x, "intra_region", regions=REGIONS, ratio=0.5, generator=_gen(3))
    hidden = mask.any(dim=2)
    assert torch.equal(hidden, mask.all(dim=2))
    sizes = {"CA1": 8, "LP": 5, "PO": 7}
    seen = set()
    for b in range(B):
        regs = set(REGIONS[hidden[b].numpy()])
        assert len(regs) == 1  # within one region
        reg = regs.pop()
        seen.add(reg)
        n_reg = sizes[reg]
        assert int(hidden[b].sum()) == max(1, min(round(0.5 * n_reg), n_reg - 1))
        assert int(hidden[b].sum()) < n_reg  # some of the region stays visible
    assert len(seen) >= 2  # the region is drawn per sample


def test_inter_region_hides_a_whole_region():
    x = _x()
    masked, mask = mask_batch(x, "inter_region", regions=list(REGIONS), generator=_gen(1))
    hidden = mask.any(dim=2)
    for b in range(B):
        regs = set(REGIONS[hidden[b].numpy()])
        assert len(regs) == 1
        assert np.array_equal(hidden[b].numpy(), regs.pop() == REGIONS)  # exactly the region's neurons
    assert torch.all(masked[mask] == 0)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_leak_masked_values_do_not_reach_masked_input(scheme):
    x = _x()
    m1, mask = mask_batch(x, scheme, regions=REGIONS, generator=_gen(7))
    x2 = x.clone()
    x2[mask] = torch.rand(int(mask.sum())) * 100 + 5  # change every hidden entry
    m2, mask2 = mask_batch(x2, scheme, regions=REGIONS, generator=_gen(7))
    assert torch.equal(mask, mask2) and torch.equal(m1, m2)
    # gradient view of the same fact: masked_input does not depend on hidden entries
    xg = x.clone().requires_grad_(True)
    mg, maskg = mask_batch(xg, scheme, regions=REGIONS, generator=_gen(7))
    mg.sum().backward()
    assert torch.all(xg.grad[maskg] == 0) and torch.all(xg.grad[~maskg] == 1)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_seeded_generator_is_deterministic(scheme):
    x = _x()
    a = mask_batch(x, scheme, regions=REGIONS, ratio=0.4, generator=_gen(11))
    b = mask_batch(x, scheme, regions=REGIONS, ratio=0.4, generator=_gen(11))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_random_scheme_draw_is_seeded_and_covers_schemes():
    draws = [draw_scheme(REGIONS, _gen(s)) for s in range(40)]
    assert set(draws) == set(SCHEMES)
    assert draws == [draw_scheme(REGIONS, _gen(s)) for s in range(40)]
    g1, g2 = _gen(5), _gen(5)
    scheme = draw_scheme(REGIONS, g1)
    masked, mask = mask_batch(_x(), None, regions=REGIONS, generator=g2)  # draws with the same stream first
    ref_masked, ref_mask = mask_batch(_x(), scheme, regions=REGIONS, generator=g1)
    assert torch.equal(mask, ref_mask) and torch.equal(masked, ref_masked)


def test_region_schemes_without_regions_are_skipped_or_refused():
    assert available_schemes(None) == ("neuron", "causal")
    assert available_schemes(["a"] * N) == ("neuron", "causal", "intra_region")  # one region: no inter
    assert available_schemes(REGIONS) == SCHEMES
    assert {draw_scheme(None, _gen(s)) for s in range(30)} == {"neuron", "causal"}
    for scheme in ("intra_region", "inter_region"):
        with pytest.raises(SparksError, match="region"):
            mask_batch(_x(), scheme, regions=None)
    with pytest.raises(SparksError, match="two regions"):
        mask_batch(_x(), "inter_region", regions=["a"] * N)
    with pytest.raises(SparksError, match="region labels"):
        mask_batch(_x(), "inter_region", regions=REGIONS[:5])
    with pytest.raises(SparksError, match="can run"):
        draw_scheme(None, schemes=("inter_region",))


def test_bad_arguments():
    with pytest.raises(SparksError, match="Unknown masking scheme"):
        mask_batch(_x(), "time")
    with pytest.raises(SparksError, match="ratio"):
        mask_batch(_x(), "neuron", ratio=1.0)
    with pytest.raises(SparksError, match=r"\[B, N, T\]"):
        mask_batch(torch.zeros(3, 4), "neuron")


def test_never_hides_everything_and_at_least_one():
    x = torch.ones(2, 3, 4)
    _, m = mask_batch(x, "neuron", ratio=0.99, generator=_gen())
    assert m.any(dim=2).sum(dim=1).tolist() == [2, 2]
    _, m = mask_batch(x, "causal", ratio=0.01, generator=_gen())
    assert m[0, 0].tolist() == [False, False, False, True]


def test_region_codes_and_mask_entries():
    codes, names = region_codes(REGIONS, N)
    assert names == ["CA1", "LP", "PO"] and codes[:8].tolist() == [0] * 8 and codes[-1] == 2
    assert region_codes(None, N) is None
    x = _x()
    masked, mask = mask_entries(x, neurons=[1, 4], steps=[T - 1])
    assert mask[:, [1, 4]].all() and mask[:, :, T - 1].all()
    assert int(mask[0].sum()) == 2 * T + N - 2
    assert torch.equal(masked[~mask], x[~mask]) and torch.all(masked[mask] == 0)
    _, mb = mask_entries(x, neurons=np.arange(N) < 2)
    assert mb[0].any(dim=1).tolist() == [True, True] + [False] * (N - 2)
    with pytest.raises(SparksError):
        mask_entries(x)
    with pytest.raises(SparksError, match="range"):
        mask_entries(x, neurons=[N])


def test_masked_loss_only_counts_masked_entries():
    target = torch.tensor([[[1.0, 0.0], [2.0, 3.0]]])
    mask = torch.tensor([[[True, False], [False, True]]])
    log_rate = torch.zeros_like(target)
    # entries (1 at rate 1) and (3 at rate 1): exp(0) - y*0 = 1 each -> mean 1
    assert masked_loss(log_rate, target, mask).item() == pytest.approx(1.0)
    changed = log_rate.clone()
    changed[~mask] = 5.0
    assert masked_loss(changed, target, mask).item() == pytest.approx(1.0)
    rate = torch.full_like(target, 2.0)
    # rate 2: 2 - y ln 2 for y = 1 and 3 -> (4 - 4 ln 2) / 2
    assert masked_loss(rate, target, mask, log_rate=False).item() == pytest.approx(2 - 2 * np.log(2))
    assert masked_loss(target + 1, target, mask, likelihood="gaussian").item() == pytest.approx(0.5)
    with pytest.raises(SparksError):
        masked_loss(rate, target, mask, likelihood="bernoulli")


def test_task_token():
    tok = TaskToken(8)
    out = tok("causal", batch_size=3)
    assert out.shape == (3, 8) and torch.equal(out[0], tok.embedding.weight[1])
    mixed = tok(["neuron", "inter_region"])
    assert torch.equal(mixed[1], tok.embedding.weight[3])
    assert tok(torch.tensor([2, 2])).shape == (2, 8)
    assert not torch.equal(tok("neuron")[0], tok("causal")[0])
    assert sum(p.numel() for p in tok.parameters()) == 4 * 8
    with pytest.raises(SparksError):
        tok("time")
    small = TaskToken(4, schemes=("neuron", "causal"))
    assert small.embedding.num_embeddings == 2


# --------------------------------------------------------------------------- per-sample mix
def _check_sample(mask_b, scheme, ratio_k=None):
    """One sample's mask [N, T] is a valid ``scheme`` mask (k = hidden neurons / steps when given)."""
    if scheme == "causal":
        steps = mask_b.all(dim=0)
        assert torch.equal(steps, mask_b.any(dim=0))  # whole steps, every neuron
        k = int(steps.sum())
        assert steps[T - k :].all() and not steps[: T - k].any()  # the last k steps
        return k
    neurons = mask_b.all(dim=1)
    assert torch.equal(neurons, mask_b.any(dim=1))  # whole neurons, every step
    hidden_regions = set(REGIONS[neurons.numpy()])
    if scheme == "neuron":
        return int(neurons.sum())
    assert len(hidden_regions) == 1  # one region
    region = hidden_regions.pop()
    size = {"CA1": 8, "LP": 5, "PO": 7}[region]
    if scheme == "inter_region":
        assert int(neurons.sum()) == size
    else:
        assert 1 <= int(neurons.sum()) <= size - 1
    return int(neurons.sum())


def test_mixed_draws_a_scheme_per_sample_with_its_own_mask():
    g = torch.Generator().manual_seed(0)
    x = torch.poisson(torch.full((64, N, T), 2.0), generator=g) + 1.0
    masked, mask, names = mask_mixed(x, SCHEMES, REGIONS, 0.3, _gen(1))
    assert mask.shape == x.shape and mask.dtype == torch.bool and len(names) == 64
    assert set(names) == set(SCHEMES)  # every task in one batch
    counts = {s: names.count(s) for s in SCHEMES}
    assert min(counts.values()) >= 8  # about 16 each
    for b, s in enumerate(names):
        k = _check_sample(mask[b], s)
        if s == "neuron":
            assert k == 6  # round(0.3 * 20)
        elif s == "causal":
            assert k == 4  # round(0.3 * 15)
    assert torch.all(masked[mask] == 0) and torch.equal(masked[~mask], x[~mask])
    # seeded; the names feed the task token per sample
    m2, mask2, names2 = mask_mixed(x, SCHEMES, REGIONS, 0.3, _gen(1))
    assert names2 == names and torch.equal(mask2, mask) and torch.equal(m2, masked)
    assert TaskToken(5)(names).shape == (64, 5)


def test_mixed_without_regions_uses_neuron_and_causal_only():
    _, mask, names = mask_mixed(_x(), SCHEMES, None, 0.3, _gen(2))
    assert set(names) <= {"neuron", "causal"}
    for b, s in enumerate(names):
        _check_sample(mask[b], s)
    with pytest.raises(SparksError):
        mask_mixed(_x(), ("inter_region",), None, 0.3, _gen())


def test_mixed_no_leak():
    x = _x()
    masked, mask, _ = mask_mixed(x, SCHEMES, REGIONS, 0.3, _gen(4))
    y = torch.where(mask, x + 7.0, x)
    masked_y, mask_y, _ = mask_mixed(y, SCHEMES, REGIONS, 0.3, _gen(4))
    assert torch.equal(mask_y, mask) and torch.equal(masked_y, masked)


def test_ratio_range_draws_a_ratio_per_sample():
    g = torch.Generator().manual_seed(0)
    x = torch.poisson(torch.full((200, N, T), 2.0), generator=g)
    _, mask = mask_batch(x, "neuron", ratio=(0.1, 0.5), generator=_gen(5))
    k = mask.all(dim=2).sum(dim=1)
    assert int(k.min()) == 2 and int(k.max()) == 10  # round(0.1 * 20) .. round(0.5 * 20)
    assert len(set(k.tolist())) >= 7  # varies per sample
    _, cmask = mask_batch(x, "causal", ratio=(0.1, 0.5), generator=_gen(5))
    steps = cmask.all(dim=1).sum(dim=1)  # hidden steps per sample
    assert int(steps.min()) >= 1 and int(steps.max()) <= 8 and len(set(steps.tolist())) >= 4
    for b in range(0, 200, 17):
        _check_sample(cmask[b], "causal")
    _, imask = mask_batch(x[:50], "intra_region", regions=REGIONS, ratio=(0.1, 0.5), generator=_gen(6))
    for b in range(50):
        _check_sample(imask[b], "intra_region")
    # a fixed ratio: the same count for every sample
    _, fixed = mask_batch(x, "neuron", ratio=0.3, generator=_gen(5))
    assert fixed.all(dim=2).sum(dim=1).tolist() == [6] * 200
    for bad in ((0.5, 0.1), (0.0, 0.5), (0.1, 1.0), (0.1, 0.2, 0.3)):
        with pytest.raises(SparksError):
            mask_batch(x, "neuron", ratio=bad, generator=_gen())
