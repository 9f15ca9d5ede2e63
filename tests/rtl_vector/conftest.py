"""Shared helpers of the vector-unit tests (Amaranth simulator)."""
import numpy as np
import pytest
from amaranth.sim import Simulator

CORNERS = [-32768, -32767, -16385, -16384, -257, -256, -2, -1, 0, 1, 2, 255, 256, 16383, 16384, 32766, 32767]


def run_testbench(dut, testbench, *, clocked: bool = False, vcd: str | None = None) -> None:
    sim = Simulator(dut)
    if clocked:
        sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


@pytest.fixture
def simulate():
    """``simulate(dut, testbench, clocked=False)``: run an async testbench."""
    return run_testbench


@pytest.fixture
def rng():
    return np.random.default_rng(20250611)


@pytest.fixture
def operand_pairs(rng):
    """Every pair of corner values plus random pairs, as two int16 arrays."""
    a, b = np.meshgrid(CORNERS, CORNERS)
    ra = rng.integers(-32768, 32768, 300)
    rb = rng.integers(-32768, 32768, 300)
    return (np.concatenate([a.ravel(), ra]).astype(np.int16), np.concatenate([b.ravel(), rb]).astype(np.int16))


# ---- the Verilated SoC with the vector unit (cocotb harness of sim/rtl_harness.py) ----

@pytest.fixture(scope="session")
def vector_soc():
    """The SoC with the vector unit, sized as VECTOR_TEST_CONFIG, Verilated once (cached on disk)."""
    from fenn_dma.sim.rtl_harness import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(reason)
    from fenn_dma.isa.table import M
    from fenn_dma.rtl.config import SocConfig
    from fenn_dma.rtl.vector.programs import VECTOR_TEST_CONFIG as C
    from fenn_dma.sim.rtl_harness import build
    return build(SocConfig(imem_size=C.imem_size, dmem_size=C.dmem_size, full_m=M in C.extensions,
                           vector=True, vmem_size=C.vmem_size, llm_size=C.llm_size))


def _iss_state(vp) -> dict:
    from fenn_dma.rtl.vector.reference import load_machine
    m = load_machine(vp)
    stop = m.run(max_instructions=200_000)
    return {"stop": stop.to_json(), "x": [int(r) for r in m.x], "v": m.v.tolist(),
            "vmem": m.vmem.tobytes().hex(), "llm": m.llm.tobytes().hex(), "dmem": m.dmem.tobytes().hex(),
            "instret": m.instret, "cycles": m.cycles, "mcycle": m.mcycle, "minstret": m.minstret}


FIELDS = ("stop", "x", "v", "vmem", "llm", "dmem", "instret", "cycles", "mcycle", "minstret")


def _difference(iss: dict, rtl: dict) -> str | None:
    for name in FIELDS:
        a, b = iss[name], rtl[name]
        if a == b:
            continue
        if name in ("x", "v"):
            at = next(i for i in range(32) if a[i] != b[i])
            return f"{name}{at}: ISS {a[at]}, RTL {b[at]}"
        if name in ("vmem", "llm", "dmem"):
            da, db = bytes.fromhex(a), bytes.fromhex(b)
            at = next(i for i in range(min(len(da), len(db))) if da[i] != db[i]) if len(da) == len(db) else -1
            return f"{name}[0x{at:x}]: ISS 0x{da[at]:02x}, RTL 0x{db[at]:02x}" if at >= 0 else f"{name} size"
        return f"{name}: ISS {a}, RTL {b}"
    return None


@pytest.fixture(scope="session")
def both_backends(vector_soc):
    """``both_backends(vector_programs)``: run each on the ISS and on the RTL (one
    simulator launch), assert identical final states (stop, x, v, VMEM, LLM, DMEM,
    counters, cycles); returns the (iss, rtl) state lists."""
    from fenn_dma.sim.rtl_harness import RtlJob, run_batch

    def check(programs):
        iss = [_iss_state(vp) for vp in programs]
        jobs = [RtlJob(imem=vp.program.images["imem"], dmem=vp.program.images.get("dmem", b""),
                       vmem=vp.program.images.get("vmem", b""), llm=vp.llm_image, entry=vp.program.entry,
                       max_cycles=1_000_000, read_dmem="backdoor", read_vector=True) for vp in programs]
        rtl = run_batch(vector_soc, jobs)
        failures = [f"seed {vp.seed} ({a['stop']['cause']}): {diff}" for vp, a, b in zip(programs, iss, rtl)
                    if (diff := _difference(a, b))]
        assert not failures, f"{len(failures)} of {len(programs)} differ:\n" + "\n".join(failures[:20])
        return iss, rtl
    return check
