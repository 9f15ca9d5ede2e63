"""The fused BPTT path (host/snn.py FusedLayer) against the general path, the
layer's unit's float step (compiler/neurons/) under torch autograd.

Tolerances: forwards are bit-equal (torch.equal, float32 and float64: the same
operations in the same order); gradients agree to float rounding (float64:
rtol 1e-10; float32: rtol 1e-4 of the largest entry); the hand-written
backward equals torch.autograd.gradcheck's numerical Jacobian where the forward
is differentiable (the LI readout) and the full Jacobian of torch autograd of
the general path for the spiking modes (a surrogate gradient is by design not
the derivative of the Heaviside, so finite differences do not apply there)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from fenn_dma.host.network import NeuronParams  # noqa: E402
from fenn_dma.host.snn import SNN, FusedLayer, HiddenConfig, NetConfig, _MODES, fast_rule  # noqa: E402

FAST = ["LIF", "IF", "LIFSubtract"]


def _run(m, x, fused):
    m.fused = fused
    m.zero_grad()
    scores, traces = m(x, record=True)
    (scores ** 2).sum().backward()
    grads = {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}
    return scores.detach().clone(), [t.detach().clone() for t in traces], grads


def _compare(m, x, rtol):
    s1, t1, g1 = _run(m, x, True)
    s0, t0, g0 = _run(m, x, False)
    assert torch.equal(s1, s0)
    assert all(torch.equal(a, b) for a, b in zip(t1, t0))
    assert g1.keys() == g0.keys() and g1
    for k in g0:
        scale = g0[k].abs().max().item() + 1e-30
        assert (g1[k] - g0[k]).abs().max().item() <= rtol * scale, k
    return t1


@pytest.mark.parametrize("model", FAST)
@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_fused_equals_general(model, recurrent, dtype, rtol):
    cfg = NetConfig(12, 3, [HiddenConfig(16, model=model, recurrent=recurrent), HiddenConfig(8, model=model)],
                    weight_scale=3.0, seed=1)
    m = SNN(cfg).to(dtype)
    x = (torch.rand(3, 40, 12, generator=torch.Generator().manual_seed(2)) < 0.25).to(dtype)
    traces = _compare(m, x, rtol)
    rate = traces[0].mean().item()
    assert 0.02 < rate < 0.8           # the case exercises spikes and resets


@pytest.mark.parametrize("mode", ["synapse", "position"])
def test_fused_with_learnt_delays(mode):
    cfg = NetConfig(10, 2, [HiddenConfig(12, recurrent=True)], delay_mode=mode, max_delay=5,
                    init_delay=0.5, weight_scale=3.0, seed=3)
    m = SNN(cfg).double()
    x = (torch.rand(2, 30, 10, generator=torch.Generator().manual_seed(4)) < 0.3).double()
    _compare(m, x, 1e-10)


def _layer_fns(model, rec, slope=10.0, n=3, shift=0):
    p = NeuronParams(model, 8.0, 4.0, 0.6, 1.0)
    rule = fast_rule(p.unit, p.dt)
    m = SNN(NetConfig(n, n, [HiddenConfig(n, model=model, recurrent=rec, tau_mem=8.0, tau_syn=4.0,
                                         threshold=0.6)], surrogate_slope=slope)).double()
    m.neurons[0] = p
    if not rec:
        m.w_rec[0] = torch.nn.Parameter(torch.zeros(0, dtype=torch.float64), requires_grad=False)

    def fused(ff, w):
        return FusedLayer.apply(ff, w, p.alpha, rule.beta, rule.threshold, rule.reset, _MODES[rule.mode], slope,
                                shift)

    def general(ff, w):
        m.effective_weights = lambda li, rec=False: w      # the general path's recurrent weights: w
        if shift:                                           # the one-step latency, as delayed_projection
            ff = torch.nn.functional.pad(ff, (0, 0, 1, 0))[:, :ff.shape[1]]
        return m.layer_general(0, ff)

    return fused, general


@pytest.mark.parametrize("model", FAST)
@pytest.mark.parametrize("rec", [False, True])
@pytest.mark.parametrize("shift", [0, 1])
def test_backward_is_autograd_of_the_unit_step(model, rec, shift):
    """Full Jacobians (tiny float64 case) of the fused backward and of torch autograd
    through the unit's step (shift 1: the fused layer applies the one-step latency)."""
    gen = torch.Generator().manual_seed(5)
    ff = (torch.rand(2, 7, 3, generator=gen, dtype=torch.float64) * 0.8)
    w = torch.randn(3, 3, generator=gen, dtype=torch.float64) * 0.5 if rec else torch.zeros(0, dtype=torch.float64)
    fused, general = _layer_fns(model, rec, shift=shift)
    assert torch.equal(fused(ff, w), general(ff, w))
    assert 0 < fused(ff, w).sum() < ff.numel()
    if rec:
        jf = torch.autograd.functional.jacobian(fused, (ff, w))
        jg = torch.autograd.functional.jacobian(general, (ff, w))
    else:
        jf = torch.autograd.functional.jacobian(lambda a: fused(a, w), ff)
        jg = torch.autograd.functional.jacobian(lambda a: general(a, w), ff)
        jf, jg = (jf,), (jg,)
    for a, b in zip(jf, jg):
        assert a.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_gradcheck_readout():
    """The LI mode (linear, differentiable): gradcheck against finite differences."""
    p = NeuronParams("LI", 6.0, 3.0, 1.0, 1.0)
    rule = fast_rule(p.unit, p.dt)
    assert rule.mode == "none"
    ff = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    w = torch.zeros(0, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda a: FusedLayer.apply(a, w, p.alpha, rule.beta, 0.0, 0.0, 0, 10.0), (ff,))


@pytest.mark.parametrize("model", FAST)
@pytest.mark.parametrize("rec", [False, True])
def test_gradcheck_fused_minus_general(model, rec):
    """gradcheck of (fused - general): the forwards are bit-equal, so the numerical
    Jacobian is exactly 0 and the check passes only if the hand-written backward
    equals torch autograd of the unit's step (to 1e-12)."""
    gen = torch.Generator().manual_seed(8)
    ff = (torch.rand(2, 6, 3, generator=gen, dtype=torch.float64) * 0.8).requires_grad_()
    w = (torch.randn(3, 3, generator=gen, dtype=torch.float64) * 0.5).requires_grad_() if rec \
        else torch.zeros(0, dtype=torch.float64)
    fused, general = _layer_fns(model, rec)
    assert 0 < fused(ff, w).sum() < ff.numel()
    args = (ff, w) if rec else (ff,)

    def diff(*a):
        return fused(*a) - general(*a) if rec else fused(a[0], w) - general(a[0], w)

    assert torch.autograd.gradcheck(diff, args, eps=1e-9, atol=1e-12, rtol=0.0)


def test_fast_rule_falls_back():
    assert fast_rule(NeuronParams("ALIF", 20.0, 5.0, 1.0, 1.0, 0, 200.0, 0.1).unit, 1.0) is None
    assert fast_rule(NeuronParams("LIF", 20.0, 5.0, 1.0, 1.0, refractory=2).unit, 1.0) is None
    r = fast_rule(NeuronParams("LIF", 20.0, 5.0, 0.7, 1.0).unit, 1.0)
    assert r.mode == "reset" and r.threshold == 0.7 and r.reset == 0.0
    assert fast_rule(NeuronParams("IF", 20.0, 5.0, 1.0, 1.0).unit, 1.0).beta == 1.0


@pytest.mark.parametrize("hidden", [HiddenConfig(10, model="ALIF", recurrent=True),
                                    HiddenConfig(10, refractory=2, recurrent=True)])
def test_general_path_for_other_units(hidden, monkeypatch):
    m = SNN(NetConfig(6, 2, [hidden], weight_scale=3.0))
    calls = []
    general, fused = m.layer_general, FusedLayer.apply

    def count_general(*a):
        calls.append("general")
        return general(*a)

    def count_fused(*a):
        calls.append("fused")
        return fused(*a)

    m.layer_general = count_general
    monkeypatch.setattr(FusedLayer, "apply", count_fused)
    m(torch.rand(2, 10, 6)).sum().backward()
    assert calls == ["general", "fused"]          # the hidden unit, then the LI readout
    assert m.w[0].grad.abs().sum() > 0 and m.w_rec[0].grad.abs().sum() > 0
