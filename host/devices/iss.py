"""The ``iss`` device's transport: a fresh ISS machine per program (``compiler.runtime``'s
IssTransport), its DRAM model sized to the program's DRAM image."""
from __future__ import annotations

from fenn_dma.compiler.runtime import IssTransport, iss_config

ENGINES = ("fast", "reference", "auto")


def open_transport(spec, program, engine: str = "fast", dram=None) -> IssTransport:
    """``dram``: the DRAM's timing (a ``fenn_dma.dram.DramTiming``: latency, back-pressure;
    default the machine's, the ddr4 preset without back-pressure)."""
    from .errors import DeviceError
    if engine not in ENGINES:
        raise DeviceError(f"iss: unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    config = iss_config(spec, program)
    if dram is not None:
        from fenn_dma.sim.dma import DmaModel
        config = config.with_(dma=DmaModel(dram_timing(dram, "iss")))
    return IssTransport(config, engine, int(program.io.get("dram_base", 0)))


def dram_timing(dram, device: str):
    """``dram`` checked: a DramTiming (its fields are checked where it is made)."""
    from fenn_dma.dram import DramTiming

    from .errors import DeviceError
    if not isinstance(dram, DramTiming):
        raise DeviceError(f"{device}: dram = {dram!r}: must be a fenn_dma.dram.DramTiming "
                          "(e.g. DramTiming.preset('ddr4').with_stall(64))")
    return dram
