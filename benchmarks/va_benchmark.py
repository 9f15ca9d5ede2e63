"""Vogels-Abbott benchmark beside FeNN-DMA (anchors/fenn_va_benchmark_perf.csv).

The network is examples/va_network.py: Brette et al. 2007 CUBA (80 % excitatory,
tau_m 20 ms, E_l -49 mV, threshold -50 mV, reset -60 mV, refractory 5 ms,
tau_e 5 ms / tau_i 10 ms as two currents onto every population, V initially
uniform in [-60, -50) mV, Brette's weights scaled by (4000 / N)(0.02 / p)),
1000 steps of 1 ms, for each (size, dense/sparse, VMEM/DRAM weights, p) row of
FeNN's CSV: weights are placed as the row says ("vmem" or "dram", the latter
streamed per spike by the MM2S DMA).

Printed per row: spikes per step (ours / FeNN's), neuron-update and
event-processing cycles per step, cycles per propagated spike, with ratios.
Activity differs between the two networks (see the rates), so the per-spike
and fitted per-synapse costs are the like-for-like figures:
- neuron update, cycles per neuron per step (FeNN ~1.1);
- dense propagation with DRAM weights, cycles per 32 synapses: least-squares
  fit of event cycles = a (spikes N / 32) + b spikes + c over the dense DRAM rows
  (FeNN ~5.8 published; the same fit on its CSV rows gives 5.5);
- sparse, cycles per 32 synapses: the same fit with p N synapses per spike, and
  per 32-lane ELL column actually processed (FeNN 7.2-7.7 published; its CSV
  fitted per padded row ("stride") gives 6.7).
Plus a kernel line: one long dense row (N targets) streamed per spike, cycles per
32 synapses, with the ISS's DMA model and with a pessimistic one.

Cycles are the ISS's predicted cycles (sim/cycle_model.py) with its default DMA
model (sim/dma.py over fenn_dma.dram, the one DRAM timing model the RTL harness
shares): a 128-bit AXI port, one 16-byte beat a cycle (2.8 GB/s at 175 MHz), and
the "ddr4" latency (300 ns, 53 cycles, first beat after the address); the kernel
line shows the "short" latency beside it.

    .venv/bin/python benchmarks/va_benchmark.py            # sizes 256-4096 (about 30 s)
    .venv/bin/python benchmarks/va_benchmark.py --full     # all 56 rows (long; GBs of RAM at 12800 dense)
    .venv/bin/python benchmarks/va_benchmark.py --sizes 4096 --steps 1000
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import time
from pathlib import Path

import numpy as np

from fenn_dma.compiler.codegen import CompileOptions, MachineSizes, compile_network
from fenn_dma.compiler.model import Dense, Exponential, LIF, Network, Sparse, SpikeInput
from fenn_dma.compiler.pipeline import compile_model
from fenn_dma.compiler.profile import profile_run
from fenn_dma.compiler.quantise import quantise
from fenn_dma.compiler.runtime import Runtime
from fenn_dma.sim import DmaModel, MachineConfig

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = ROOT.parent / "shared" / "anchors" / "fenn_va_benchmark_perf.csv"
FENN_FITTED = {"update": 1.1, "dense_dram": 5.8, "sparse": "7.2-7.7"}
DEFAULT_SIZES = (256, 1024, 2048, 4096)


def _va_module():
    spec = importlib.util.spec_from_file_location("fenn_examples_va_network", ROOT / "examples" / "va_network.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fenn_rows() -> list[dict]:
    with open(ANCHOR) as f:
        return list(csv.DictReader(f))


def row_key(r: dict) -> tuple[int, bool, bool, float]:
    return (int(r["Num excitatory neurons"]), r["Dense connectivity"] == "True",
            r["Using DRAM for weights"] == "True", float(r["Probability of connection"]))


def measure(va, n_exc: int, dense: bool, dram: bool, p: float, steps: int) -> dict:
    net = va.va_network(n_exc, dense, "dram" if dram else "vmem", p=p)
    t0 = time.perf_counter()
    program, q = compile_model(net, n_steps=steps)
    t_compile = time.perf_counter() - t0
    out = Runtime(program, engine="fast").run({}, steps)
    spikes = {k.split(".")[0]: v for k, v in out.records.items()}
    # neuron update and control are data independent: their cycles per step come from
    # a short traced run (reference ISS); the rest of the run is event processing
    n_prof = 2
    counts, _ = profile_run(program, {}, n_prof)
    upd = sum(c[1] for k, c in counts.items() if k.endswith("update")) / n_prof
    ctl = sum(c[1] for k, c in counts.items() if k == "control") / n_prof
    init = sum(c[1] for k, c in counts.items() if k == "init")
    event = (out.cycles - init) / steps - upd - ctl
    n = n_exc + n_exc // 4
    total_spikes = sum(int(s.sum()) for s in spikes.values())
    # ELL columns (32 lanes each) processed: per connection, spikes of each source row x its columns
    columns = 0
    if not dense:
        from fenn_dma.compiler.sparse_layout import ell_layout
        for c in q.connections.values():
            lay = ell_layout(c, q.populations[c.target])
            columns += int((spikes[c.source].sum(axis=0) * lay.counts).sum())
    return {"n": n, "spikes": total_spikes / steps, "update": upd, "event": event, "steps": steps,
            "event_total": event * steps, "spike_total": total_spikes, "columns": columns,
            "compile_s": t_compile, "p": p}


def lstsq(rows: list[tuple[float, float, float]]) -> float:
    """Slope a of y = a x + b s (+ c when there are 3 or more rows); rows of (x, s, y)."""
    A = np.array([[x, s, 1.0] for x, s, _ in rows]) if len(rows) >= 3 else np.array([[x, s] for x, s, _ in rows])
    y = np.array([r[2] for r in rows])
    return float(np.linalg.lstsq(A, y, rcond=None)[0][0]) if len(rows) >= 2 else float("nan")


def fenn_fits(rows: list[dict]) -> dict[str, float]:
    dd, sp, col = [], [], []
    for r in rows:
        ne, dense, dram, p = row_key(r)
        n = ne + ne // 4
        se, si = int(r["Num excitatory spikes"]), int(r["Num inhibitory spikes"])
        y = int(r["Num event processing cycles"])
        if dram and dense:
            dd.append(((se + si) * n / 32, se + si, y))
        elif dram:
            sp.append(((se + si) * p * n / 32, se + si, y))
            cols = (se * (int(r["EE stride"]) + int(r["EI stride"])) + si * (int(r["IE stride"]) + int(r["II stride"]))) / 32
            col.append((cols, se + si, y))
    return {"dense": lstsq(dd), "sparse": lstsq(sp), "sparse_col": lstsq(col)}


def delivered_steps(steps: int) -> int:
    """Steps of a kernel run whose input spikes are delivered: latency 1, so the last step's are not."""
    return steps - 1


def kernel_per32(n_target: int, dram: bool, dma: DmaModel, unroll: int = 8) -> float:
    """Cycles per 32 synapses of one dense row of ``n_target`` synapses per spike
    (VMEM accumulators), from the difference between runs with and without spikes."""
    net = Network(name="dense_kernel")
    i = net.population("in", 32, SpikeInput())
    h = net.population("h", n_target, LIF(tau_mem=20, threshold=30.0), formats={"V": "s7.8"})
    w = np.random.default_rng(0).normal(0, 0.001, (32, n_target))
    net.connect(i, h, Dense(w), Exponential(5), placement="dram" if dram else "vmem")
    vmem = 4 << 20                      # room for VMEM-resident weights of a long row
    compiled = compile_network(quantise(net), CompileOptions(resident_registers=0, unroll=unroll,
                                                             sizes=MachineSizes(vmem=vmem)))
    cfg = MachineConfig(vmem_size=vmem, dram_size=max(len(compiled.images.get("dram", b"")), 64), dma=dma)
    steps = 40
    cyc = []
    for k in (0, 8):                           # spikes per step
        x = np.zeros((steps, 32), bool)
        x[:, :k] = True
        cyc.append(Runtime(compiled, config=cfg).run({"in": x}).cycles)
    return (cyc[1] - cyc[0]) / (8 * delivered_steps(steps)) / (n_target / 32)


# The SoC the RTL figures run on (64 KiB VMEM: a 2560-neuron target population's state and
# two row buffers) and the kernel's size there.
RTL_MACHINE = MachineConfig(imem_size=8192, dmem_size=16384, vmem_size=65536, llm_size=256, dram_size=1 << 20)
RTL_TARGETS = 2560


def kernel_net(n_target: int, sparse: bool, dram: bool = True, p: float = 0.2) -> tuple[Network, float]:
    """32 inputs onto ``n_target`` LIF neurons: a dense row per spike, or a sparse one
    (connection probability ``p``); and the synapses per input spike."""
    net = Network(name="sparse_kernel" if sparse else "dense_kernel")
    i = net.population("in", 32, SpikeInput())
    h = net.population("h", n_target, LIF(tau_mem=20, threshold=30.0), formats={"V": "s7.8"})
    r = np.random.default_rng(0)
    if sparse:
        pre, post = np.nonzero(r.random((32, n_target)) < p)
        net.connect(i, h, Sparse(pre, post, r.normal(0, 0.001, pre.size)), Exponential(5),
                    placement="dram" if dram else "vmem")
        return net, pre.size / 32
    net.connect(i, h, Dense(r.normal(0, 0.001, (32, n_target))), Exponential(5),
                placement="dram" if dram else "vmem")
    return net, float(n_target)


def kernel_per32_rtl(soc, n_target: int, sparse: bool, latency: str, steps: int = 20,
                     spikes: tuple[int, int] = (0, 8)) -> tuple[float, bool]:
    """Cycles per 32 synapses of the kernel measured on the RTL (the Runtime's windows as
    native-harness jobs, verify/runner.py), and whether the ISS predicted the same cycles:
    the difference between runs with ``spikes`` inputs spiking every step (from 0: the
    pass's own start and end included; between two non-zero counts: the cost of one more
    row in a running pass)."""
    from fenn_dma.verify.runner import run_windows_on_rtl, windows_of_run
    cfg = RTL_MACHINE.with_(dma=DmaModel.preset(latency))
    net, synapses = kernel_net(n_target, sparse)
    compiled = compile_network(quantise(net), CompileOptions(resident_registers=0, unroll=8,
                                                             sizes=MachineSizes.from_config(cfg)))
    rtl_cycles, same = [], True
    for k in spikes:                           # spikes per step
        x = np.zeros((steps, 32), bool)
        x[:, :k] = True
        _, out, windows = windows_of_run(compiled, cfg, {"in": x})
        states = run_windows_on_rtl(windows, cfg, soc)
        cycles = sum(s["cycles"] for s in states)     # the Runtime counts each start's pipeline fill too
        same &= cycles == out.cycles
        rtl_cycles.append(cycles)
    return (rtl_cycles[1] - rtl_cycles[0]) / ((spikes[1] - spikes[0]) * delivered_steps(steps)) / (synapses / 32), same


GOALS = {"dense": 4.5, "sparse": 6.0}    # issue #10: cycles per 32 synapses, DRAM weights, on the RTL


def kernel_columns_per32(n_target: int) -> float:
    """ELL columns of the sparse kernel's rows per 32 synapses: a row has as many columns as
    its fullest lane (compiler/sparse_layout.py), the floor of its cost in vector steps."""
    from fenn_dma.compiler.sparse_layout import ell_layout
    net, synapses = kernel_net(n_target, True)
    q = quantise(net)
    (c,) = q.connections.values()
    return float(ell_layout(c, q.populations[c.target]).counts.mean()) / (synapses / 32)


def rtl_figures() -> None:
    from fenn_dma.verify.runner import build_soc, soc_config
    t0 = time.perf_counter()
    soc = build_soc(soc_config(RTL_MACHINE, vector=True, dma=True))
    print(f"\nmeasured on the RTL (native harness, DMA SoC, {RTL_TARGETS} targets; SoC built/loaded in "
          f"{time.perf_counter() - t0:.0f} s): cycles per 32 synapses, DRAM weights")
    print("  0 -> 8 inputs spiking per step (the figure against the goals); in brackets the ratio to the")
    print("  goal and, 8 -> 24, one more row in a running pass")
    print(f"  {'latency':<8} {'dense':>6} {'(goal <= 4.5, FeNN-DMA 5.8)':<28} {'sparse':>6} "
          f"{'(goal <= 6.0, FeNN-DMA 7.2-7.7)':<32} ISS")
    for latency in ("short", "ddr4"):
        figs, same = {}, True
        for kind in ("dense", "sparse"):
            first, s0 = kernel_per32_rtl(soc, RTL_TARGETS, kind == "sparse", latency)
            more, s1 = kernel_per32_rtl(soc, RTL_TARGETS, kind == "sparse", latency, spikes=(8, 24))
            figs[kind] = f"({first / GOALS[kind]:.2f} of goal; 8 -> 24: {more:.2f})"
            figs[kind + " value"] = first
            same &= s0 and s1
        print(f"  {latency:<8} {figs['dense value']:6.2f} {figs['dense']:<28} {figs['sparse value']:6.2f} "
              f"{figs['sparse']:<32} {'same cycles' if same else 'DIFFERENT'}")
    cols = kernel_columns_per32(RTL_TARGETS)
    print(f"  sparse rows: {cols:.2f} ELL columns per 32 synapses (a row is as long as its fullest lane), "
          f"so at least {6 * cols:.2f} cycles per 32 synapses at 6 vector instructions a column")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="excitatory sizes (default 256 1024 2048 4096)")
    ap.add_argument("--full", action="store_true", help="every row of FeNN's CSV")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rtl-only", action="store_true", help="only the figures measured on the RTL")
    ap.add_argument("--no-rtl", action="store_true", help="leave out the figures measured on the RTL")
    args = ap.parse_args()
    if args.rtl_only:
        rtl_figures()
        return 0
    rows = fenn_rows()
    sizes = None if args.full else set(args.sizes or DEFAULT_SIZES)
    chosen = [r for r in rows if sizes is None or row_key(r)[0] in sizes]
    va = _va_module()
    print(f"Vogels-Abbott CUBA, {args.steps} steps; DRAM {DmaModel().dram.describe()} (ISS default)")
    hdr = (f"{'N_exc':>6} {'conn':<6} {'weights':<7} {'p':>4} | {'spk/step':>8} {'FeNN':>6} | {'upd cyc/step':>12} "
           f"{'FeNN':>7} {'ratio':>5} | {'evt cyc/step':>12} {'FeNN':>8} {'ratio':>5} | {'cyc/spike':>9} {'FeNN':>7} "
           f"{'ratio':>5} | {'s':>5}")
    print(hdr)
    ours: list[tuple[dict, dict]] = []
    for r in chosen:
        n_exc, dense, dram, p = row_key(r)
        t0 = time.perf_counter()
        m = measure(va, n_exc, dense, dram, p, args.steps)
        ours.append((r, m))
        f_spk = (int(r["Num excitatory spikes"]) + int(r["Num inhibitory spikes"])) / 1000
        f_upd = int(r["Num neuron update cycles"]) / 1000
        f_evt = int(r["Num event processing cycles"]) / 1000
        per_spike = m["event"] / m["spikes"] if m["spikes"] else float("nan")
        print(f"{n_exc:6d} {'dense' if dense else 'sparse':<6} {'DRAM' if dram else 'VMEM':<7} {p:4.2f} | "
              f"{m['spikes']:8.1f} {f_spk:6.1f} | {m['update']:12.0f} {f_upd:7.0f} {m['update'] / f_upd:5.2f} | "
              f"{m['event']:12.0f} {f_evt:8.0f} {m['event'] / f_evt:5.2f} | {per_spike:9.1f} {f_evt / f_spk:7.1f} "
              f"{per_spike / (f_evt / f_spk):5.2f} | {time.perf_counter() - t0:5.1f}", flush=True)
    # fitted costs
    upd = [m["update"] / m["n"] for _, m in ours]
    f_upd = [int(r["Num neuron update cycles"]) / 1000 / (row_key(r)[0] * 5 // 4) for r, _ in ours]
    dd = [(m["spike_total"] * m["n"] / 32, m["spike_total"], m["event_total"]) for r, m in ours
          if row_key(r)[1] and row_key(r)[2]]
    sp = [(m["spike_total"] * m["p"] * m["n"] / 32, m["spike_total"], m["event_total"]) for r, m in ours
          if not row_key(r)[1] and row_key(r)[2]]
    col = [(m["columns"], m["spike_total"], m["event_total"]) for r, m in ours if not row_key(r)[1] and row_key(r)[2]]
    ff_same = fenn_fits([r for r, _ in ours])
    ff_all = fenn_fits(rows)
    print("\nfitted costs                            ours   FeNN (same rows) FeNN (all rows) FeNN published")
    print(f"  neuron update, cyc/neuron/step      {np.mean(upd):6.2f}   {np.mean(f_upd):8.2f}         "
          f"{'':8}        ~{FENN_FITTED['update']}")
    print(f"  dense DRAM, cyc per 32 synapses     {lstsq(dd):6.2f}   {ff_same['dense']:8.2f}         "
          f"{ff_all['dense']:8.2f}        ~{FENN_FITTED['dense_dram']}")
    print(f"  sparse DRAM, cyc per 32 synapses    {lstsq(sp):6.2f}   {ff_same['sparse']:8.2f}         "
          f"{ff_all['sparse']:8.2f}        {FENN_FITTED['sparse']}")
    print(f"  sparse DRAM, cyc per ELL column     {lstsq(col):6.2f}   {ff_same['sparse_col']:8.2f}         "
          f"{ff_all['sparse_col']:8.2f}        (FeNN: per 32 of its row stride)")
    print("\ndense kernel, one row per spike, VMEM accumulators: cycles per 32 synapses (ideal 4)")
    for n_t in (2560, 16000):
        vm = kernel_per32(n_t, False, DmaModel())
        short = kernel_per32(n_t, True, DmaModel.preset("short"))
        ddr4 = kernel_per32(n_t, True, DmaModel.preset("ddr4"))
        print(f"  {n_t:6d} targets: VMEM weights {vm:5.2f}, DRAM (short latency) {short:5.2f}, "
              f"DRAM (ddr4 latency) {ddr4:5.2f}")
    rates = [(row_key(r)[0], m["spikes"] / m["n"] * 1000, (int(r["Num excitatory spikes"])
              + int(r["Num inhibitory spikes"])) / (row_key(r)[0] * 5 // 4)) for r, m in ours]
    print("\nmean rates (Hz), ours vs FeNN: " + ", ".join(f"{n}: {a:.1f} vs {b:.1f}" for n, a, b in rates[::2]))
    if not args.no_rtl:
        rtl_figures()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
