"""Training speed and peak memory: our BPTT and EventProp beside snnTorch / Norse (same machine, same run).

    .venv/bin/python benchmarks/train_speed.py                 # every case, every installed peer, memory vs T
    .venv/bin/python benchmarks/train_speed.py --quick         # smoke test: T / 20, 1 repeat, no n = 4096, no
                                                               # torch.compile peer, no memory sweep (--memory also:
                                                               # the sweep at 2 T), two workers at a time
    .venv/bin/python benchmarks/train_speed.py --cases on512 --repeats 5 --memory no
    .venv/bin/python benchmarks/train_speed.py --memory only   # peak memory vs T (BPTT, EventProp)
    .venv/bin/python benchmarks/train_speed.py --memory only --memory-spikes fixed   # same input spikes at every T
    .venv/bin/python benchmarks/train_speed.py --yinyang       # the old Yin-Yang per-epoch comparison

Peers: ``pip install -e '.[peers]'`` (snnTorch 1.0, Norse 1.1, SpikingJelly 0.0.0.0.14); an absent peer
is skipped with the reason. Every (case, framework) runs in its own subprocess,
one thread, and times forward + backward + Adam step: the median over
``--repeats`` steps after one warm-up step (which also compiles for
torch.compile). Peak memory is the subprocess's ``ru_maxrss`` (peak RSS; torch
allocates outside tracemalloc and has no allocator statistics on the CPU):
``peak`` is the whole process, ``step`` what the steps added to the high-water
mark reached after building the model and inputs. Every figure is also printed
as a ratio to ours (BPTT and EventProp).

EventProp's spike buffers are sized by a pilot forward pass (1-entry buffers,
whose overflow reports the busiest neuron's count) to 1.5 x that count + 2 (at most
T), as a user sizes ``--max-spikes``; that buffer, not T, is what its memory grows with.

Cases (input: Bernoulli spikes, p = 0.05, fixed seed):

* ``on512`` / ``on4096``, the Open Neuromorphic protocol: one Linear n -> n +
  LIF layer, batch 16, T = 500, loss = sum of the output spikes.
* ``rec``: 700 -> 256 recurrent LIF -> 20 leaky readout, batch 32, T = 1000,
  cross-entropy on the mean readout voltage, random labels.

Frameworks: ours (``fenn_dma.host.snn``: the projection of all steps in one
GEMM, then the fused LIF layer); EventProp (``fenn_dma.host.eventprop``: the
same LIF network, exact gradients; on the ON protocol the loss is the spike
count, injected into the jumps, plus a 1-neuron LI readout it needs); snnTorch (``nn.Linear`` + ``snn.Synaptic`` /
``snn.RSynaptic`` stepped in a Python loop, its standard usage; Synaptic: the
same current-based LIF as ours); Norse (``nn.Linear`` + ``LIFCell`` /
``LIFRecurrentCell`` + ``LICell`` stepped in a loop); Norse with the cells
wrapped in ``torch.compile`` (skipped with the reason if it fails here); SpikingJelly
(``LIFNode``, backend ``torch``: a voltage-only LIF, no synaptic current; the ON protocol in its
multi-step mode, the recurrent case stepped).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "on512": dict(kind="on", n=512, batch=16, T=500),
    "on4096": dict(kind="on", n=4096, batch=16, T=500),
    "rec": dict(kind="rec", n_in=700, hidden=256, n_out=20, batch=32, T=1000),
}
FRAMEWORKS = ("ours", "eventprop", "snntorch", "norse", "norse-compiled", "spikingjelly")
TAU_MEM, TAU_SYN, DT, SLOPE = 20.0, 5.0, 1.0, 10.0
MEM_TS = (250, 500, 1000, 2000)   # the memory-vs-T sweep
RATE = 0.05                       # input spike probability per step and channel
QUICK_T = 20                      # --quick divides every T by this
QUICK_MEM_TS = 2                  # --quick: the memory sweep's first Ts only
QUICK_WORKERS = 2                 # --quick: workers run at once (its figures are a smoke test, not a comparison)
QUICK_SKIP = ("norse-compiled",)  # --quick: torch.compile's compilation alone takes longer than the smoke test
BUFFER_MARGIN = 1.5               # EventProp's spike buffers: the pilot's busiest neuron x this


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0       # KiB on Linux


# ---------------------------------------------------------------------------------- the frameworks
def _ours(case, torch):
    from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig
    if case["kind"] == "on":
        n = case["n"]
        m = SNN(NetConfig(n, 1, [HiddenConfig(n, tau_mem=TAU_MEM, tau_syn=TAU_SYN)], surrogate_slope=SLOPE))
        return [m.w[0]], lambda x: m.layer(0, x).sum(), False
    m = SNN(NetConfig(case["n_in"], case["n_out"], [HiddenConfig(case["hidden"], recurrent=True)],
                      surrogate_slope=SLOPE))
    return list(m.parameters()), m, False


def _sized_eventprop(make, x, torch):
    """An EventPropSNN whose spike buffers hold the busiest neuron's spikes on ``x`` plus
    ``BUFFER_MARGIN`` (the steps change the weights), at most T: a pilot forward with 1-entry
    buffers counts them. The buffer, not T, is what EventProp's memory grows with."""
    from fenn_dma.host.eventprop import SpikeBufferOverflow, forward_events
    pilot = make(1)
    try:
        with torch.no_grad():
            forward_events(pilot.spec, x, pilot.params())
        worst = 1
    except SpikeBufferOverflow as exc:
        worst = exc.worst
    size = min(x.shape[1], math.ceil(worst * BUFFER_MARGIN) + 2)
    return make(size), size


def _eventprop(case, torch, x):
    """EventProp (fenn_dma.host.eventprop): on the ON protocol one LIF layer n -> n with the
    loss = its spike count (injected into the jumps, as spike-count regularisation is) and a
    1-neuron LI readout (EventPropFunction needs one; O(n) per step)."""
    from fenn_dma.host.eventprop import EventPropSNN
    if case["kind"] == "on":
        n = case["n"]

        def make(ms):
            return EventPropSNN(n, [n], 1, tau_mem=TAU_MEM, tau_syn=TAU_SYN, dt=DT, max_spikes=ms)
        m, worst = _sized_eventprop(make, x, torch)

        def fwd(x_):
            scores, counts = m(x_)
            return counts[0].sum() + scores.sum()
        return [p for p in m.parameters() if p.requires_grad], fwd, worst

    def make(ms):
        return EventPropSNN(case["n_in"], [case["hidden"]], case["n_out"], tau_mem=TAU_MEM, tau_syn=TAU_SYN,
                            dt=DT, recurrent=True, readout="sum", max_spikes=ms)
    m, worst = _sized_eventprop(make, x, torch)
    return [p for p in m.parameters() if p.requires_grad], lambda x_: m(x_)[0], worst


def _snntorch(case, torch):
    import snntorch as snn
    from snntorch import surrogate
    import math
    alpha, beta = math.exp(-DT / TAU_SYN), math.exp(-DT / TAU_MEM)
    grad = surrogate.fast_sigmoid(slope=SLOPE)
    if case["kind"] == "on":
        n = case["n"]
        fc = torch.nn.Linear(n, n, bias=False)
        lif = snn.Synaptic(alpha=alpha, beta=beta, spike_grad=grad, reset_mechanism="zero")

        def fwd(x):                      # x (T, B, n)
            syn, mem = lif.reset_mem()
            out = []
            for t in range(x.shape[0]):
                spk, syn, mem = lif(fc(x[t]), syn, mem)
                out.append(spk)
            return torch.stack(out).sum()
        return list(fc.parameters()), fwd, True
    fc1 = torch.nn.Linear(case["n_in"], case["hidden"], bias=False)
    rlif = snn.RSynaptic(alpha=alpha, beta=beta, linear_features=case["hidden"], spike_grad=grad,
                         reset_mechanism="zero")
    fc2 = torch.nn.Linear(case["hidden"], case["n_out"], bias=False)
    ro = snn.Synaptic(alpha=alpha, beta=beta, threshold=1e9, reset_mechanism="none")

    def fwd(x):
        spk, syn1, mem1 = rlif.reset_mem()
        syn2, mem2 = ro.reset_mem()
        acc = 0
        for t in range(x.shape[0]):
            spk, syn1, mem1 = rlif(fc1(x[t]), spk, syn1, mem1)
            _, syn2, mem2 = ro(fc2(spk), syn2, mem2)
            acc = acc + mem2
        return acc / x.shape[0]
    return list(fc1.parameters()) + list(rlif.parameters()) + list(fc2.parameters()), fwd, True


def _norse(case, torch, compiled=False):
    import norse.torch as nt
    wrap = torch.compile if compiled else (lambda f: f)
    if case["kind"] == "on":
        n = case["n"]
        fc = torch.nn.Linear(n, n, bias=False)
        cell = wrap(nt.LIFCell())

        def fwd(x):
            s, out = None, []
            for t in range(x.shape[0]):
                z, s = cell(fc(x[t]), s)
                out.append(z)
            return torch.stack(out).sum()
        return list(fc.parameters()), fwd, True
    rcell_mod = nt.LIFRecurrentCell(case["n_in"], case["hidden"])
    rcell, fc2 = wrap(rcell_mod), torch.nn.Linear(case["hidden"], case["n_out"], bias=False)
    li = wrap(nt.LICell())

    def fwd(x):
        s1 = s2 = None
        acc = 0
        for t in range(x.shape[0]):
            z, s1 = rcell(x[t], s1)
            v, s2 = li(fc2(z), s2)
            acc = acc + v
        return acc / x.shape[0]
    return list(rcell_mod.parameters()) + list(fc2.parameters()), fwd, True


def _spikingjelly(case, torch):
    """SpikingJelly's LIFNode, backend "torch" (its CUDA/CuPy backends do not run on the CPU): a
    voltage-only LIF (no synaptic current; tau in steps, hard reset to 0). ON protocol in its
    multi-step mode (the projection of all steps in one GEMM, the node looping over T); the
    recurrent case stepped in single-step mode, the readout a LIFNode that never fires."""
    from spikingjelly.activation_based import functional, neuron, surrogate
    tau = TAU_MEM / DT
    sg = surrogate.Sigmoid(alpha=4.0)
    if case["kind"] == "on":
        n = case["n"]
        fc = torch.nn.Linear(n, n, bias=False)
        lif = neuron.LIFNode(tau=tau, decay_input=False, surrogate_function=sg, step_mode="m", backend="torch")

        def fwd(x):                      # x (T, B, n)
            functional.reset_net(lif)
            T, B = x.shape[:2]
            return lif(fc(x.reshape(T * B, n)).reshape(T, B, n)).sum()
        return list(fc.parameters()), fwd, True
    fc1 = torch.nn.Linear(case["n_in"], case["hidden"], bias=False)
    rec = torch.nn.Linear(case["hidden"], case["hidden"], bias=False)
    fc2 = torch.nn.Linear(case["hidden"], case["n_out"], bias=False)
    lif = neuron.LIFNode(tau=tau, decay_input=False, surrogate_function=sg, backend="torch")
    ro = neuron.LIFNode(tau=tau, decay_input=False, v_threshold=1e9, surrogate_function=sg, backend="torch")

    def fwd(x):
        functional.reset_net(lif)
        functional.reset_net(ro)
        spk = torch.zeros(x.shape[1], case["hidden"])
        acc = 0
        for t in range(x.shape[0]):
            spk = lif(fc1(x[t]) + rec(spk))
            ro(fc2(spk))
            acc = acc + ro.v
        return acc / x.shape[0]
    return list(fc1.parameters()) + list(rec.parameters()) + list(fc2.parameters()), fwd, True


def worker(case_name: str, fw: str, T: int | None, repeats: int, rate: float = RATE) -> dict:
    """One (case, framework) in this process; returns seconds per step and memory."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
    case = dict(CASES[case_name])
    if T:
        case["T"] = T
    gen = torch.Generator().manual_seed(0)
    n_in = case["n"] if case["kind"] == "on" else case["n_in"]
    x = (torch.rand(case["batch"], case["T"], n_in, generator=gen) < rate).float()
    y = torch.randint(0, case.get("n_out", 1), (case["batch"],), generator=gen)
    extra = {}
    try:
        if fw == "ours":
            params, fwd, time_major = _ours(case, torch)
        elif fw == "eventprop":
            params, fwd, worst = _eventprop(case, torch, x)
            time_major, extra["max_spikes"] = False, worst
        elif fw == "snntorch":
            params, fwd, time_major = _snntorch(case, torch)
        elif fw == "spikingjelly":
            params, fwd, time_major = _spikingjelly(case, torch)
        else:
            params, fwd, time_major = _norse(case, torch, compiled=fw == "norse-compiled")
    except ImportError as exc:
        return {"skip": f"not installed ({exc.name}): pip install -e '.[peers]'"}
    if time_major:
        x = x.transpose(0, 1).contiguous()
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        out = fwd(x)
        loss = out if out.dim() == 0 else F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    base = _maxrss_mib()
    times, cpu = [], []
    try:
        for k in range(repeats + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            step()
            if k:                        # the first step warms up (and compiles)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
    except Exception as exc:             # noqa: BLE001 - e.g. torch.compile without a working toolchain
        return {"skip": f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}
    peak = _maxrss_mib()
    return {"s": statistics.median(times), "cpu_s": statistics.median(cpu), "peak_mib": peak, "step_mib": peak - base, **extra}


def _version(fw: str) -> str:
    try:
        if fw == "snntorch":
            import snntorch
            return f"snnTorch {snntorch.__version__}"
        if fw.startswith("norse"):
            from importlib.metadata import version
            return f"Norse {version('norse')}" + (" + torch.compile" if fw == "norse-compiled" else "")
        if fw == "spikingjelly":
            from importlib.metadata import version
            return f"SpikingJelly {version('spikingjelly')} (torch)"
    except ImportError:
        pass
    return {"ours": "ours BPTT (fenn_dma.host.snn)", "eventprop": "ours EventProp (host.eventprop)"}.get(fw, fw)


def _run_case(case_name, fw, T, repeats, timeout, rate=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", case_name, fw, "--repeats", str(repeats)]
    if rate is not None:
        cmd += ["--rate", repr(rate)]
    if T:
        cmd += ["--T", str(T)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skip": f"over the {timeout} s limit"}
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode or not lines:
        tail = (r.stderr.strip().splitlines() or ["?"])[-1]
        return {"skip": f"worker failed (rc {r.returncode}): {tail[:160]}"}
    return json.loads(lines[-1])


def _describe(case) -> str:
    if case["kind"] == "on":
        return f"Linear {case['n']}->{case['n']} + LIF, batch {case['batch']}, T = {case['T']}"
    return f"{case['n_in']}-{case['hidden']}(recurrent)-{case['n_out']}, batch {case['batch']}, T = {case['T']}"


def _ratio(a, b) -> str:
    return f"{a / b:7.2f}x" if a and b else ""


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def speed(a) -> int:
    import torch
    load0 = _load()
    print(f"Training step (forward + backward + Adam), 1 thread each, median of {a.repeats} steps after "
          f"1 warm-up; torch {torch.__version__}; memory: the worker process's peak RSS (ru_maxrss)")
    for case_name in a.cases:
        case = dict(CASES[case_name])
        T = a.T or (max(case["T"] // QUICK_T, 10) if a.quick else None)
        if T:
            case["T"] = T
        print(f"\n{case_name}: {_describe(case)}")
        print(f"  {'framework':34s} {'s/step':>8s} {'cpu s':>8s} {'/BPTT':>8s} {'/EvProp':>8s} {'peak MiB':>9s} "
              f"{'step MiB':>9s} {'/BPTT':>8s} {'/EvProp':>8s}")
        if a.quick:                      # a smoke test: the workers two at a time (their start-up is most of it)
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(QUICK_WORKERS) as pool:
                res = dict(zip(a.frameworks, pool.map(
                    lambda fw: _run_case(case_name, fw, T, a.repeats, a.timeout), a.frameworks)))
        else:
            res = {fw: _run_case(case_name, fw, T, a.repeats, a.timeout) for fw in a.frameworks}
        bp, ep = res.get("ours", {}), res.get("eventprop", {})
        for fw, r in res.items():
            if "skip" in r:
                print(f"  {_version(fw):34s} skipped: {r['skip']}")
                continue
            print(f"  {_version(fw):34s} {r['s']:8.3f} {r['cpu_s']:8.3f} {_ratio(r['cpu_s'], bp.get('cpu_s')):>8s} "
                  f"{_ratio(r['cpu_s'], ep.get('cpu_s')):>8s} {r['peak_mib']:9.0f} {r['step_mib']:9.0f} "
                  f"{_ratio(r['step_mib'], bp.get('step_mib')):>8s} {_ratio(r['step_mib'], ep.get('step_mib')):>8s}")
        if "max_spikes" in ep:
            print(f"  (EventProp's spike buffers: {ep['max_spikes']} entries per neuron: 1.5 x the busiest neuron's count + 2, at most T)")
    print(f"\nload average before / after: {load0} / {_load()}")
    print("cpu s: the step's CPU time (process_time), which a machine shared with other jobs inflates less than "
          "s/step (wall). /BPTT, /EvProp: this framework's CPU time or memory over ours (> 1: ours is faster / "
          "smaller by that factor). "
          "step MiB: what the training steps added to the peak after building the model and the input.")
    return 0


def memory_vs_T(a) -> int:
    """Peak memory of BPTT and EventProp on one case as T grows (input rate fixed)."""
    load0 = _load()
    Ts = [max(T // QUICK_T, 10) for T in MEM_TS[:QUICK_MEM_TS]] if a.quick else MEM_TS
    case = dict(CASES[a.memory_case])
    fixed = a.memory_spikes == "fixed"
    how = (f"input rate {RATE} x {Ts[0]} / T (the same number of input spikes at every T)" if fixed
           else f"input rate {RATE}")
    print(f"\nPeak memory vs T: {_describe(dict(case, T='T'))}, {how}, 1 step after 1 warm-up")
    print(f"  {'T':>6s} {'BPTT step MiB':>14s} {'BPTT s':>8s} {'EvProp step MiB':>16s} {'EvProp s':>9s} "
          f"{'buffer/neuron':>14s}")
    for T in Ts:
        rate = RATE * Ts[0] / T if fixed else None
        bp = _run_case(a.memory_case, "ours", T, 1, a.timeout, rate)
        ep = _run_case(a.memory_case, "eventprop", T, 1, a.timeout, rate)
        cells = []
        for r in (bp, ep):
            cells.append(("skipped", r["skip"][:40]) if "skip" in r else (f"{r['step_mib']:.0f}", f"{r['s']:.2f}"))
        print(f"  {T:6d} {cells[0][0]:>14s} {cells[0][1]:>8s} {cells[1][0]:>16s} {cells[1][1]:>9s} "
              f"{ep.get('max_spikes', ''):>14}")
    print("  buffer/neuron: EventProp's spike-buffer entries per neuron (from the busiest neuron's spikes); "
          "EventProp keeps those, BPTT every state at every step")
    print(f"  load average before / after: {load0} / {_load()}")
    return 0


# ---------------------------------------------------------------------------------- the old comparison
def yinyang(a) -> int:
    """Training time per epoch on Yin-Yang (5-N-3, T = 40, batch 64) here and in snnTorch."""
    import torch
    import torch.nn.functional as F
    from fenn_dma.host.datasets import load_yinyang
    from fenn_dma.host.snn import SNN, HiddenConfig, NetConfig
    torch.set_num_threads(1)

    def epoch(model_fn, params, loader):
        opt = torch.optim.Adam(params, lr=1e-3)
        t0 = time.perf_counter()
        for x, y in loader:
            loss = F.cross_entropy(model_fn(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    b = load_yinyang(40, sizes={"train": a.samples, "val": 10, "test": 10})
    loader = torch.utils.data.DataLoader(b.splits["train"].dataset(), batch_size=64, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    ours = SNN(NetConfig(5, 3, [HiddenConfig(100)], delay_mode="none"))
    t_ours = min(epoch(ours, ours.parameters(), loader) for _ in range(a.repeats))
    print(f"Yin-Yang 5-100-3, T = 40, {a.samples} samples: ours {t_ours:.2f} s/epoch")
    try:
        import snntorch as snn
        from snntorch import surrogate
    except ImportError:
        print("snnTorch is not installed: skipping the comparison (pip install -e '.[peers]')")
        return 0
    p = ours.neurons[0]
    fc1, fc2 = torch.nn.Linear(5, 100, bias=False), torch.nn.Linear(100, 3, bias=False)
    lif = snn.Synaptic(alpha=p.alpha, beta=p.beta, spike_grad=surrogate.fast_sigmoid(slope=10),
                       reset_mechanism="zero")
    ro = snn.Synaptic(alpha=p.alpha, beta=p.beta, threshold=1e9, reset_mechanism="none")

    def snntorch_forward(x):
        syn1, mem1 = lif.reset_mem()
        syn2, mem2 = ro.reset_mem()
        acc = 0
        for t in range(x.shape[1]):
            spk1, syn1, mem1 = lif(fc1(x[:, t]), syn1, mem1)
            _, syn2, mem2 = ro(fc2(spk1), syn2, mem2)
            acc = acc + mem2
        return acc / x.shape[1]

    t_snn = min(epoch(snntorch_forward, list(fc1.parameters()) + list(fc2.parameters()), loader)
                for _ in range(a.repeats))
    print(f"snnTorch {snn.__version__} (Synaptic, python step loop): {t_snn:.2f} s/epoch; "
          f"speed-up (snnTorch time / ours): {t_snn / t_ours:.2f}x")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=lambda s: s.split(","), default=list(CASES),
                    help=f"comma-separated, of: {', '.join(CASES)}")
    ap.add_argument("--frameworks", type=lambda s: s.split(","), default=list(FRAMEWORKS),
                    help=f"comma-separated, of: {', '.join(FRAMEWORKS)}")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--T", type=int, default=None, help="override every case's T")
    ap.add_argument("--quick", action="store_true",
                    help=f"T / {QUICK_T}, no n = 4096, no {', '.join(QUICK_SKIP)}, 1 repeat, the memory sweep "
                         f"only with --memory, at {QUICK_MEM_TS} T (a smoke test)")
    ap.add_argument("--memory", choices=("also", "only", "no"), default="also",
                    help="the peak-memory-vs-T sweep (BPTT and EventProp, T = 250 ... 2000)")
    ap.add_argument("--memory-case", choices=list(CASES), default="on512", help="the sweep's case")
    ap.add_argument("--memory-spikes", choices=("rate", "fixed"), default="rate",
                    help="the sweep's input: a fixed rate (spikes grow with T) or a fixed number of spikes")
    ap.add_argument("--rate", type=float, default=RATE, help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per (case, framework)")
    ap.add_argument("--yinyang", action="store_true", help="the Yin-Yang per-epoch comparison instead")
    ap.add_argument("--samples", type=int, default=5000, help="Yin-Yang training samples")
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "FRAMEWORK"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a.worker[0], a.worker[1], a.T, a.repeats, a.rate)))
        return 0
    if a.yinyang:
        return yinyang(a)
    bad = [c for c in a.cases if c not in CASES] + [f for f in a.frameworks if f not in FRAMEWORKS]
    if bad:
        ap.error(f"unknown case / framework: {', '.join(bad)}")
    if a.quick:
        a.repeats = 1 if a.repeats == 3 else a.repeats
        if "--cases" not in (argv or sys.argv):
            a.cases = [c for c in a.cases if c != "on4096"]
        if "--frameworks" not in (argv or sys.argv):
            a.frameworks = [f for f in a.frameworks if f not in QUICK_SKIP]
        if "--memory" not in (argv or sys.argv):
            a.memory = "no"          # each worker is a process that imports torch: most of the smoke test's time
    rc = 0 if a.memory == "only" else speed(a)
    return rc or (memory_vs_T(a) if a.memory != "no" else 0)


if __name__ == "__main__":
    raise SystemExit(main())
