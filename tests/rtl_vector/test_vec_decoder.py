"""VectorDecoder against the table's own decoder (isa/codec.py)."""

from fenn_dma.isa.codec import encode, try_decode
from fenn_dma.isa.table import SPECS, VLOAD, VLUI, VMOV, VSEL, VSOP, VSOP_IMM, VSPC, VSTORE, VTST
from fenn_dma.rtl.vector.decoder import VectorDecoder, vector_op

VECTOR_OPCODES = [VSOP, VLUI, VTST, VSEL, VLOAD, VSTORE, VMOV, VSPC, VSOP_IMM]


def _words(rng):
    """Encodings of every vector spec with random operands, plus random words
    in the vector opcodes (mostly illegal) and a few scalar words."""
    words = []
    for spec in SPECS:
        if not spec.is_vector:
            continue
        for _ in range(6):
            ops = {o.name: int(rng.integers(o.min, o.max + 1)) for o in spec.operands}
            words.append(encode(spec, **ops))
    for _ in range(400):
        words.append((int(rng.integers(1 << 25)) << 7) | VECTOR_OPCODES[int(rng.integers(len(VECTOR_OPCODES)))])
    # near misses: legal words with one bit flipped
    for w in list(words[:120]):
        words.append(w ^ (1 << int(rng.integers(7, 32))))
    words += [encode("add", rd=1, rs1=2, rs2=3), encode("lw", rd=1, rs1=2, imm=4), 0, 0xFFFFFFFF]
    return words


def test_decoder_matches_codec(simulate, rng):
    words = _words(rng)
    dut = VectorDecoder()
    results = []

    async def bench(ctx):
        for w in words:
            ctx.set(dut.word, w)
            c = ctx.get(dut.ctrl)
            results.append((ctx.get(dut.legal), c.op, c.sat, c.round, c.rd, c.rs1, c.rs2, c.imm,
                            ctx.get(dut.reads_x_rs1), ctx.get(dut.reads_x_rs2), ctx.get(dut.writes_x_rd),
                            c.mul_b_one))

    simulate(dut, bench)
    legal_count = 0
    for w, (legal, op, sat, rnd, rd, rs1, rs2, imm, xr1, xr2, xwd, b_one) in zip(words, results):
        ins = try_decode(w)
        if ins is None or not ins.spec.is_vector:
            assert not legal, f"0x{w:08x} decoded as legal"
            assert not b_one, f"0x{w:08x} (not a vector instruction) has mul_b_one"
            continue
        assert b_one == (ins.spec.op == "vsrai"), f"0x{w:08x} ({ins.spec.mnemonic}): mul_b_one {b_one}"
        legal_count += 1
        spec = ins.spec
        assert legal, f"0x{w:08x} ({spec.mnemonic}) not legal"
        assert op == vector_op(spec.op) and sat == spec.sat and rnd == spec.round, spec.mnemonic
        for slot, value in (("rd", rd), ("rs1", rs1), ("rs2", rs2), ("imm", imm)):
            if any(o.slot == slot for o in spec.operands):
                assert value == getattr(ins, slot), f"{spec.mnemonic} {slot}: {value} != {getattr(ins, slot)}"
        assert (xr1, xr2, xwd) == ("rs1" in spec.scalar_sources(), "rs2" in spec.scalar_sources(),
                                   spec.scalar_dest() == "rd"), spec.mnemonic
    assert legal_count > 200
