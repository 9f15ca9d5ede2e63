"""The scalar core's decoder against the table's own decoder (isa/codec.py).

The decoder looks at only the bits that tell specs apart (rtl/decoder.py, ``term_mask``), so
its outputs must equal the codec's on every legal word, and ``illegal`` must be exact on every
word, legal or not."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from fenn_dma.isa import fields as F
from fenn_dma.isa.codec import encode, try_decode
from fenn_dma.isa.table import SPECS
from fenn_dma.rtl.decoder import Decoder, core_extensions, scalar_ops


def _words(rng, extensions):
    """Each spec of the build with random operands; random words in the specs' opcodes (mostly
    illegal); legal words with one fixed bit flipped."""
    specs = [s for s in SPECS if s.ext in extensions]
    words = []
    for spec in specs:
        for _ in range(3):
            words.append(spec.match | int(rng.integers(1 << 32)) & ~spec.mask)     # random operand bits
    opcodes = sorted({s.opcode for s in specs})
    words += [(int(rng.integers(1 << 25)) << 7) | opcodes[int(rng.integers(len(opcodes)))] for _ in range(200)]
    for w, spec in zip(list(words), [s for s in specs for _ in range(3)]):
        fixed = [b for b in range(32) if spec.mask >> b & 1]
        words.append(w ^ (1 << fixed[int(rng.integers(len(fixed)))]))
    return words + [0, 0xFFFFFFFF, encode("add", rd=1, rs1=2, rs2=3), encode("lw", rd=1, rs1=2, imm=-4)]


@pytest.mark.parametrize("full_m, vector", [(False, False), (True, True)])
def test_decoder_matches_codec(full_m, vector):
    extensions = core_extensions(full_m, vector)
    words = _words(np.random.default_rng(20261201), extensions)
    dut = Decoder(extensions)
    out = []

    async def bench(ctx):
        for w in words:
            ctx.set(dut.d_word, w)
            d = ctx.get(dut.d_decoded)
            out.append((d.illegal, {op: getattr(d.op, op) for op in scalar_ops(extensions)}, d.vector,
                        d.vector_writes_rd, d.reads_rs1, d.reads_rs2, d.writes_rd, d.imm_b,
                        d.rd, d.rs1, d.rs2, d.imm))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    legal = 0
    for w, (illegal, ops, vec, vec_rd, rs1_used, rs2_used, rd_used, imm_b, rd, rs1, rs2, imm) in zip(words, out):
        ins = try_decode(w, extensions)
        where = f"0x{w:08x}"
        if ins is None:
            assert illegal, f"{where} decoded as legal"
            continue
        legal += 1
        spec = ins.spec
        where += f" ({spec.mnemonic})"
        assert not illegal, f"{where} decoded as illegal"
        assert [op for op, on in ops.items() if on] == ([] if spec.is_vector else [spec.op]), where
        scalar = {o.slot for o in spec.operands if o.kind == F.XREG}
        imm_field = next((o.field for o in spec.operands if o.slot == "imm"), None)
        assert (vec, vec_rd) == (spec.is_vector, spec.is_vector and "rd" in scalar), where
        assert (rs1_used, rs2_used, rd_used) == ("rs1" in scalar, "rs2" in scalar,
                                                 not spec.is_vector and "rd" in scalar), where
        assert imm_b == (imm_field is not None and "rs2" not in scalar), where
        assert (rd, rs1, rs2) == (w >> 7 & 31, w >> 15 & 31, w >> 20 & 31), where
        if imm_field is not None:
            assert imm == imm_field.extract(w), f"{where}: imm {imm} != {imm_field.extract(w)}"
    assert legal > 100
