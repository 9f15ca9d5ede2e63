"""The ``kv260`` device's driver (host/devices/kv260.py), without the board:

(a) its mmap transport over file-backed regions: a sysfs/dev tree of plain files in
    tmp_path (``FENN_DMA_KV260_ROOT``) stands for the UIO window and the u-dma-buf
    buffer, so ``open_device("kv260")`` finds, maps and writes them as on the board;
(b) the same transport over the simulated SoC: the native harness's host port
    (verify/native/harness.cpp, as verify/rtl_session.py uses it) as the register
    window and its AXI4 DRAM model as the buffer, on a compiled network with
    DRAM-streamed weights: records, readouts, instructions and cycles equal the
    ``iss`` and ``rtl`` devices'."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.arch import profile
from fenn_dma.compiler.abi import FirmwareSession
from fenn_dma.host import open_device
from fenn_dma.host.devices import DeviceError, DeviceUnavailable, LimitExceeded, RunError
from fenn_dma.host.devices import kv260
from fenn_dma.isa.causes import StopCause
from fenn_dma import hostmap as H

sys.path.insert(0, str(Path(__file__).parent))
import device_nets as nets  # noqa: E402

PHYS = 0x7000_0000                    # where the buffer lies (a CMA address on the board)
BUFFER = 1 << 20


def streamed(name: str, spec, record_memory: str = "auto"):
    """``name`` of device_nets with every connection's weights in DRAM, compiled for ``spec``
    (V records where ``record_memory`` says)."""
    from fenn_dma.compiler.codegen.layout import CompileOptions, MachineSizes
    from fenn_dma.compiler.pipeline import compile_model
    net = nets.NETWORKS[name]()
    for c in net.connections.values():
        c.placement = "dram"
    program, _ = compile_model(net, n_steps=nets.STEPS, options=CompileOptions(
        sizes=MachineSizes.from_spec(spec), record_memory=record_memory))
    assert program.images.get("dram")
    return program


@pytest.fixture(scope="module")
def board_spec():
    return profile("kv260").with_(dram_base=PHYS, dram_size=BUFFER)


@pytest.fixture(scope="module")
def program(board_spec):
    return streamed("feed_forward", board_spec)


# --- (a) the mmap transport over file-backed regions ---------------------------------------------

def _regs(spec, status: int = 0) -> dict[int, int]:
    """The registers a FeNN-DMA bitstream of ``spec`` answers with (a stopped core)."""
    features = (spec.full_m << H.FEATURE_FULL_M) | (spec.vector << H.FEATURE_VECTOR) | (spec.dma << H.FEATURE_DMA)
    return {H.MAGIC: H.MAGIC_VALUE, H.IMEM_SIZE: spec.imem_size, H.DMEM_SIZE: spec.dmem_size,
            H.VMEM_SIZE: spec.vmem_size, H.LLM_SIZE: spec.llm_size, H.FEATURES: features, H.STATUS: status}


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A fake board: /sys/class/uio with another device first, ours second; the u-dma-buf; /dev files."""
    spec = profile("kv260")
    window = kv260.window_bytes(spec)
    for n, name in ((0, "axi-pmon"), (1, kv260.UIO_NAME)):
        d = tmp_path / "sys/class/uio" / f"uio{n}"
        (d / "maps/map0").mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "maps/map0/size").write_text(f"0x{window:x}\n")
    (tmp_path / "dev").mkdir()
    uio = tmp_path / "dev/uio1"
    image = np.zeros(window // 4, np.uint32)
    for offset, value in _regs(spec).items():
        image[offset // 4] = value
    uio.write_bytes(image.tobytes())
    (tmp_path / "dev/uio0").write_bytes(bytes(4096))
    buf = tmp_path / "sys/class/u-dma-buf" / kv260.UDMABUF_NAME
    buf.mkdir(parents=True)
    (buf / "phys_addr").write_text(f"0x{PHYS:016x}\n")
    (buf / "size").write_text(f"{BUFFER}\n")
    (tmp_path / "dev" / kv260.UDMABUF_NAME).write_bytes(bytes(BUFFER))
    monkeypatch.setenv(kv260.ROOT_ENV, str(tmp_path))
    return tmp_path


def _words(path: Path, offset: int, nbytes: int) -> bytes:
    return path.read_bytes()[offset:offset + nbytes]


def test_open_device_maps_the_uio_window_and_buffer_found_by_name(board, program):
    """Images land at their host-map offsets of the UIO file found by name (uio1, not uio0),
    the DRAM image in the buffer at dram_base - phys_addr, cleaned for the device through sysfs."""
    with open_device("kv260", "kv260") as dev:
        assert dev.spec.dram_base == PHYS and dev.spec.dram_size == BUFFER
        dev.load(program)
        uio = board / "dev/uio1"
        for memory, base in kv260.WINDOWS.items():
            data = program.images.get(memory, b"")
            if data:
                assert _words(uio, base, len(data)) == data, memory
        control = int.from_bytes(_words(uio, H.CONTROL, 4), "little")
        assert control == 1 << H.CONTROL_CLEAR                  # the last command: clear before the images
        dram = program.images["dram"]
        offset = program.io["dram_base"] - PHYS
        assert _words(board / "dev" / kv260.UDMABUF_NAME, offset, len(dram)) == dram
        sysfs = board / "sys/class/u-dma-buf" / kv260.UDMABUF_NAME
        assert [(sysfs / a).read_text().strip() for a in ("sync_offset", "sync_size", "sync_direction",
                                                         "sync_for_device")] == [str(offset), str(len(dram)), "1", "1"]
    assert (board / "dev/uio0").read_bytes() == bytes(4096)     # the other UIO device untouched


def test_start_reads_the_stop_from_the_registers(board):
    """start(): ENTRY and CONTROL.start written; cause, pc and the 64-bit counters read back."""
    uio = board / "dev/uio1"
    image = bytearray(uio.read_bytes())
    ebreak = next(c for c in StopCause if str(c) == "ebreak")
    for offset, value in ((H.STATUS, 1 << H.STATUS_STOPPED | ebreak.code << H.STATUS_CAUSE_SHIFT),
                          (H.STOP_PC, 0x40), (H.CYCLES, 7), (H.CYCLES + 4, 1), (H.INSTRET, 5)):
        image[offset:offset + 4] = value.to_bytes(4, "little")
    uio.write_bytes(bytes(image))
    transport = kv260.open_transport(profile("kv260"))
    try:
        stop = transport.start(0x10, 1000)
    finally:
        transport.close()
    assert (stop.cause, stop.pc, stop.instructions, stop.cycles, stop.limit) == ("ebreak", 0x40, 5, 7 | 1 << 32, False)
    assert int.from_bytes(_words(uio, H.ENTRY, 4), "little") == 0x10
    assert int.from_bytes(_words(uio, H.CONTROL, 4), "little") == 1 << H.CONTROL_START


def test_absent_devices_say_what_was_looked_for(tmp_path, monkeypatch, board):
    monkeypatch.setenv(kv260.ROOT_ENV, str(tmp_path / "nothing"))
    with pytest.raises(DeviceUnavailable, match=r"no UIO device named 'fenn_dma' in .*nothing/sys/class/uio "
                                                r"\(UIO devices: none\).*xmutil loadapp"):
        open_device("kv260")
    monkeypatch.setenv(kv260.ROOT_ENV, str(board))
    (board / "sys/class/uio/uio1/name").write_text("something-else\n")
    with pytest.raises(DeviceUnavailable, match=r"UIO devices: uio0 \(axi-pmon\), uio1 \(something-else\)"):
        open_device("kv260")
    (board / "sys/class/uio/uio1/name").write_text(kv260.UIO_NAME + "\n")
    (board / "sys/class/u-dma-buf" / kv260.UDMABUF_NAME / "phys_addr").unlink()
    with pytest.raises(DeviceUnavailable, match=r"cannot read .*phys_addr \(the buffer's physical address\)"):
        open_device("kv260")
    import shutil
    shutil.rmtree(board / "sys/class/u-dma-buf")
    with pytest.raises(DeviceUnavailable, match=r"no u-dma-buf device 'udmabuf-fenn' .*modprobe u-dma-buf"):
        open_device("kv260")


def test_a_program_outside_the_buffer_or_for_another_bitstream_is_refused(board, program):
    other = streamed("feed_forward", profile("kv260"))                   # dram_base 0: not the buffer
    with open_device("kv260") as dev:
        with pytest.raises(DeviceUnavailable, match=r"DRAM image \(bytes 0x0\.\..*outside the DRAM buffer "
                                                    r"'udmabuf-fenn' \(1048576 bytes at physical 0x70000000\).*"
                                                    r"dram_base=0x70000000"):
            dev.load(other)
    (board / "sys/class/u-dma-buf" / kv260.UDMABUF_NAME / "size").write_text("4096\n")
    (board / "dev" / kv260.UDMABUF_NAME).write_bytes(bytes(4096))
    with open_device("kv260") as dev:                                    # a buffer too small for the image
        with pytest.raises(DeviceUnavailable, match=r"outside the DRAM buffer 'udmabuf-fenn' \(4096 bytes"):
            dev.load(program)
    with pytest.raises(DeviceError, match=r"the bitstream on this board is kv260 .*not the machine asked for, "
                                          r"sim-small .*imem_size: program 4096, machine 16384"):
        open_device("kv260", "sim-small")
    uio = board / "dev/uio1"
    image = bytearray(uio.read_bytes())
    image[H.MAGIC:H.MAGIC + 4] = bytes(4)
    uio.write_bytes(bytes(image))
    with pytest.raises(DeviceUnavailable, match=r"answers MAGIC 0x00000000, not FeNN-DMA's 0xfe110d3a"):
        open_device("kv260", "kv260")


def test_one_board_runs_one_device_at_a_time(board, program):
    x = nets.spikes(program, 2)
    with open_device("kv260", "kv260") as dev:
        with pytest.raises(DeviceUnavailable, match=r"dev/uio1 is in use by another kv260 device .*workers=1"):
            open_device("kv260", "kv260")
        dev.load(program)
        with pytest.raises(DeviceUnavailable, match="in use by another kv260 device"):
            dev.run_batch(x, workers=2)
    open_device("kv260", "kv260").close()                       # free again once closed


def test_board_machine_and_availability(board):
    assert kv260.why_unavailable() is None
    spec = kv260.board_machine(profile("kv260"))
    assert (spec.dram_base, spec.dram_size) == (PHYS, BUFFER)
    (board / "dev/uio1").unlink()
    assert "uio1 but" in kv260.why_unavailable() and f"{board}/dev/uio1 does not exist" in kv260.why_unavailable()


# --- (b) the same transport over the simulated SoC -----------------------------------------------

class HarnessWindow:
    """The native harness's AXI4-Lite host port as a register window (each access clocks the SoC,
    as on the board the SoC runs while the host polls)."""

    def __init__(self, rtl):
        self.read_words, self.write_words = rtl.host_read_words, rtl.host_write_words


class HarnessDram:
    """The harness's AXI4 DRAM model (the ISS's timing) as the buffer at ``phys_addr``: a write
    sets the model up with the buffer's bytes. It has no cache, so there is nothing to clean."""

    def __init__(self, rtl, phys_addr: int, size: int):
        self.rtl, self.phys_addr, self.size = rtl, phys_addr, size
        self.image = bytearray(size)

    def write(self, offset: int, data: bytes) -> None:
        self.image[offset:offset + len(data)] = data
        self.rtl.dram_setup(bytes(self.image), self.phys_addr)

    def read(self, offset: int, nbytes: int) -> bytes:
        return self.rtl.dram_image(offset + nbytes)[offset:]

    def sync_for_device(self, offset: int, size: int) -> None:
        assert 0 <= offset and offset + size <= self.size

    sync_for_cpu = sync_for_device


@pytest.fixture(scope="module")
def simulated(board_spec):
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(f"the simulated SoC needs the Verilator toolchain: {reason}")
    from fenn_dma.verify.rtl_session import RtlTransport
    rtl = RtlTransport(board_spec)
    transport = kv260.Kv260Transport(board_spec, HarnessWindow(rtl), HarnessDram(rtl, PHYS, BUFFER))
    yield transport
    rtl.close()


def _samples(session: FirmwareSession, x: dict) -> list:
    outs = []
    for b in range(next(iter(x.values())).shape[0]):
        session.reset()
        outs.append(session.run({k: v[b] for k, v in x.items()}))
    return outs


@pytest.mark.rtl
@pytest.mark.parametrize("name, records", [("feed_forward", "auto"), ("delays", "auto"), ("feed_forward", "dram")])
def test_the_driver_on_the_simulated_soc_equals_iss_and_rtl(simulated, board_spec, name, records):
    """DRAM-streamed weights staged in the buffer and streamed by the SoC's DMA: identical
    records, readouts, instructions and cycles on the kv260 driver, the rtl and the iss devices
    (with V records in DRAM too, read back from the buffer)."""
    program = streamed(name, board_spec, records)
    assert any(r["memory"] == "dram" for r in program.io["records"].values()) == (records == "dram")
    x = nets.spikes(program, 2, seed=3)
    iss = open_device("iss").load(program).run_batch(x)
    with open_device("rtl", "kv260") as dev:
        rtl = dev.load(program).run_batch(x)
    got = _samples(FirmwareSession(program, simulated, 10 ** 9), x)
    for ref in (iss, rtl):
        for k in ref.records:
            np.testing.assert_array_equal(np.stack([o.records[k] for o in got]), ref.records[k], err_msg=k)
        for k in ref.readouts:
            np.testing.assert_array_equal(np.stack([o.readouts[k] for o in got]), ref.readouts[k], err_msg=k)
        np.testing.assert_array_equal([o.instructions for o in got], ref.instructions)
        np.testing.assert_array_equal([o.cycles for o in got], ref.cycles)
    assert any(np.any(v) for v in iss.records.values())


@pytest.mark.rtl
def test_the_driver_halts_at_the_cycle_limit_and_reports_abnormal_stops(simulated, program):
    x = {k: v[0] for k, v in nets.spikes(program, 1).items()}
    with pytest.raises(LimitExceeded, match="ran past the limit of 500 cycles"):
        FirmwareSession(program, simulated, 500).run(x)
    imem = bytearray(program.images["imem"])
    imem[0:4] = bytes(4)                                   # an illegal word at the entry
    broken = replace(program, images=dict(program.images, imem=bytes(imem)))
    with pytest.raises(RunError, match=r"stopped with illegal_instruction at pc 0x00000000") as exc:
        FirmwareSession(broken, simulated, 10 ** 6).run(x)
    assert exc.value.cause == "illegal_instruction" and exc.value.pc == 0
    ok = FirmwareSession(program, simulated, 10 ** 9).run(x)        # a clean load after both
    assert ok.cycles > 0 and ok.calls == 1
