"""lauscher's Heidelberg cochlea model (the model that made SHD: RMS normaliser, Hanning
window, basilar membrane, Meddis hair cells, bushy cells), computed with numpy over all
channels at once instead of lauscher's per-channel Python loops.

Why: lauscher 1.0.1 runs the hair cell and the bushy cell as Python loops over every
sample of every channel (the bushy cell over 40 converging fibres each), and evaluates the
basilar membrane's channel-independent terms once per channel; a 0.4 s word at 700
channels took about 230 s on one core. Here the same arithmetic runs per sample over a
block of channels (numpy elementwise float64, in lauscher's order of operations) and the
membrane's transfer function for all channels in one broadcast, so the result is
lauscher's, spike for spike (``tests/host/test_synth_shd.py`` compares the two).
The model's parameters are read from lauscher's own classes, and the membrane's transfer
function is lauscher's ``BasilarMembrane._v`` (a single formula, evaluated here on a grid).
The bushy cells' fibre spikes are drawn, as in lauscher, channel after channel from a
Mersenne-Twister ``RandomState`` (what ``np.random.seed`` seeds in lauscher's use).
"""
from __future__ import annotations

import numpy as np

BLOCK = 64            # channels per block of the bushy-cell stage (its draws: BLOCK x samples x 40 floats)


def basilar_membrane(samples: np.ndarray, sample_rate: int, channels: int) -> tuple[np.ndarray, int]:
    """The membrane velocity ``(channels, n // 2 + 1)`` at ``sample_rate // 2`` (lauscher's
    ``BasilarMembrane``): the stimulus spectrum times each channel's transfer function."""
    from lauscher.transformations import BasilarMembrane

    bm = BasilarMembrane(channels=channels)
    nsamples = samples.size // 2 + 1
    rate = sample_rate // 2
    omega = 2 * np.pi * np.linspace(1, rate, nsamples)
    stim = np.fft.fft(samples)[:nsamples]
    out = np.empty((channels, nsamples))
    for c0 in range(0, channels, BLOCK):
        c = bm.ch[c0:c0 + BLOCK, None]
        out[c0:c0 + BLOCK] = np.real(np.fft.ifft(bm._v(omega[None, :], c) * stim, axis=1))
    return out, rate


def hair_cells(bm: np.ndarray, fs: int) -> np.ndarray:
    """Meddis' transmitter-pool hair cell (lauscher's ``HairCell._meddis``), all channels per sample."""
    from lauscher.transformations import HairCell

    p = HairCell()
    ymdt, xdt, ydt = p.y * p.m / float(fs), p.x / float(fs), p.y / float(fs)
    rdt, gdt, hdt = p.r / float(fs), p.g / float(fs), p.h / float(fs)
    lplusrdt = (p.l + p.r) / float(fs)
    kt0 = p.g * p.a / (p.a + p.b)
    c0 = p.m * p.y * kt0 / (p.l * kt0 + p.y * (p.l + p.r))
    n_ch = bm.shape[0]
    q = np.full(n_ch, c0 * (p.l + p.r) / kt0)
    c = np.full(n_ch, c0)
    w = np.full(n_ch, c0 * p.r / p.x)
    out = np.empty_like(bm)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(bm.shape[1]):
            s = bm[:, j] + p.a
            kt = np.where(s > 0, gdt * s / (s + p.b), 0.0)
            replenish = np.where(q < p.m, ymdt - ydt * q, 0.0)
            eject = kt * q
            reuptakeandloss = lplusrdt * c
            reuptake = rdt * c
            reprocess = xdt * w
            q = np.maximum(q + replenish - eject + reprocess, 0)
            c = np.maximum(c + eject - reuptakeandloss, 0)
            w = np.maximum(w + reuptake - reprocess, 0)
            out[:, j] = c * hdt
    return out


def bushy_cells(prob: np.ndarray, fs: int, rng: np.random.RandomState) -> np.ndarray:
    """Spikes ``(channels, samples)`` bool of lauscher's ``BushyCell``: per channel 40 fibres
    firing with the hair cell's probability (refractory), into one LIF neuron."""
    from lauscher.transformations import BushyCell

    p = BushyCell()
    n_ch, n = prob.shape
    K = p.n_convergence
    refrac = p.tau_refrac * fs
    dt = 1 / float(fs)
    out = np.zeros((n_ch, n), bool)
    for c0 in range(0, n_ch, BLOCK):
        blk = prob[c0:c0 + BLOCK]
        fib = np.stack([rng.rand(n, K) < ch[:, None] for ch in blk], axis=1)     # (n, block, K)
        last = np.full(fib.shape[1:], -refrac)
        for j in range(n):                     # lauscher's BushyCell._correct: refractory fibres
            s = fib[j] & ~(j - last < refrac)
            fib[j] = s
            last = np.where(s, j, last)
        out[c0:c0 + BLOCK] = _lif(fib, p, dt, refrac).T
    return out


def _lif(fib: np.ndarray, p, dt: float, n_refrac: float) -> np.ndarray:
    """lauscher's ``BushyCell._lif`` for a block of channels: ``fib (n, block, K)`` -> spikes ``(n, block)``."""
    n, B, K = fib.shape
    e_m, e_s = np.exp(-dt / p.tau_mem), np.exp(-dt / p.tau_syn)
    vm = np.zeros(B)
    counter = np.zeros(B)
    isyn = np.zeros((B, K))
    spikes = np.zeros((n, B), bool)
    for step in range(n):
        if step > 0:
            ok = counter <= 0
            below = vm < 1.0
            fire = ok & ~below
            spikes[step - 1] = fire
            counter = np.where(fire, n_refrac, counter)
            vm = np.where(ok & below, vm * e_m, 0.0)
            isyn = isyn * e_s
        else:
            vm = np.zeros(B)
        isyn = isyn + fib[step]
        vm = np.where(counter <= 0, vm + np.sum(isyn, axis=1) * p.weight * dt, vm)
        vm = np.minimum(vm, 1.0)
        counter = counter - 1
    return spikes


def wave_to_spikes(wave: np.ndarray, sample_rate: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """lauscher's ``Wave2Spike(channels)`` of ``wave``: (times s float64, channels int64), in
    lauscher's order (by time, then channel); the fibres drawn from ``RandomState(seed)``."""
    from lauscher.transformations import HanningWindow, RmsNormalizer

    x = np.asarray(wave, dtype=np.double).copy()
    x *= RmsNormalizer(0.3).level / np.sqrt(np.mean(x ** 2))
    half = x.size // 2
    ramp = HanningWindow()._window(half * 2)[:half]
    x[:half] = ramp * x[:half]
    x[-half:] = ramp[::-1] * x[-half:]
    bm, rate = basilar_membrane(x, sample_rate, channels)
    spikes = bushy_cells(hair_cells(bm, rate), rate, np.random.RandomState(seed))
    t, ch = np.nonzero(spikes.T)
    return t / rate, ch
