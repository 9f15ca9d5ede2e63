"""The clock each machine profile runs at, for time per sample: the boards'
clocks (``boards/kv260/project.py`` TARGET_MHZ, the ULX3S oscillator of
``boards/ecp5.py``; tests/host/test_devices.py checks they agree). The
simulation profiles are the KV260's vector machine at smaller sizes and take
its clock; the scalar ones the ECP5's."""
from __future__ import annotations

KV260_MHZ = 175.0
ECP5_MHZ = 25.0
CLOCK_MHZ: dict[str, float] = {
    "kv260": KV260_MHZ, "ecp5": ECP5_MHZ, "ulx3s": ECP5_MHZ,
    "sim-small": KV260_MHZ, "test-iss": KV260_MHZ, "test-vector": KV260_MHZ, "test-random": KV260_MHZ,
    "sim-small-scalar": ECP5_MHZ, "test-rtl": ECP5_MHZ,
}


def clock_mhz(spec) -> float:
    """The clock of ``spec``'s profile (a ``-custom`` variant takes its profile's); a
    vector machine of another name runs at the KV260's clock, a scalar one at the ECP5's."""
    name = spec.name.removesuffix("-custom")
    return CLOCK_MHZ.get(name, KV260_MHZ if spec.vector else ECP5_MHZ)
