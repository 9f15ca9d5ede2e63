"""Directed programs, one per scalar instruction of the table, on corner
operands; each result is stored to DMEM, and the final state must equal the
ISS's. The list of instructions comes from isa/table.py, so a new scalar
instruction without a program here fails the coverage test."""
from fenn_dma.isa import csrs
from fenn_dma.isa import fields as F
from fenn_dma.isa.codec import encode
from fenn_dma.isa.program import Program
from fenn_dma.isa.table import SPECS
from fenn_dma.isa.asm_forms import li_words as _li

CORNERS = (0, 1, -1, 7, -0x80000000, 0x7FFFFFFF, 0x12345678, -0x1234)
IMMS = (0, 1, -1, 2047, -2048, 0x555)
PATTERN = bytes((0x80 + 37 * i) & 0xFF for i in range(256))   # DMEM image with sign bits set and clear


def _store_result(words, slot, reg=3):
    words.append(encode("sw", rs1=0, rs2=reg, imm=512 + 4 * slot))


def _program(spec) -> list[int]:
    w: list[int] = []
    kinds = tuple(o.kind for o in spec.operands)
    names = tuple(o.name for o in spec.operands)
    slot = 0
    if spec.op in ("lb", "lh", "lw", "lbu", "lhu"):
        size = {"lb": 1, "lbu": 1, "lh": 2, "lhu": 2, "lw": 4}[spec.op]
        w += _li(1, 64)
        for off in range(-64, 64, size * 3):
            w.append(encode(spec.mnemonic, rd=3, rs1=1, imm=off))
            _store_result(w, slot)
            slot += 1
    elif spec.op in ("sb", "sh", "sw"):
        size = {"sb": 1, "sh": 2, "sw": 4}[spec.op]
        w += _li(1, 700)
        for i, value in enumerate(CORNERS):
            w += _li(2, value)
            w.append(encode(spec.mnemonic, rs1=1, rs2=2, imm=size * 5 * i - 100))
    elif spec.op in ("beq", "bne", "blt", "bge", "bltu", "bgeu"):
        for a in CORNERS[:6]:
            for b in CORNERS[:6]:
                w += _li(1, a) + _li(2, b) + _li(3, 0)
                w.append(encode(spec.mnemonic, rs1=1, rs2=2, imm=8))
                w.append(encode("addi", rd=3, rs1=3, imm=1))      # skipped when taken
                w.append(encode("addi", rd=3, rs1=3, imm=16))
                _store_result(w, slot)
                slot += 1
        w.append(encode(spec.mnemonic, rs1=0, rs2=0, imm=-4 if spec.op in ("bne", "blt", "bltu") else 8))
        w.append(encode("addi", rd=5, rs1=0, imm=5))
    elif spec.op == "jal":
        w += [encode("jal", rd=1, imm=8), encode("addi", rd=2, rs1=0, imm=1), encode("jal", rd=0, imm=4),
              encode("jal", rd=3, imm=-4 * 0 + 4)]
    elif spec.op == "jalr":
        w += [encode("auipc", rd=1, imm=0), encode("jalr", rd=2, rs1=1, imm=13),   # bit 0 ignored
              encode("addi", rd=3, rs1=0, imm=1), encode("jalr", rd=1, rs1=1, imm=20),
              encode("addi", rd=4, rs1=0, imm=1), encode("jalr", rd=5, rs1=1, imm=26)]  # misaligned target
    elif spec.op in ("ecall", "ebreak", "fence", "fence_i"):
        ops = {"pred": 3, "succ": 12} if "pred" in names else {}
        w += [encode("addi", rd=1, rs1=0, imm=9), encode(spec.mnemonic, **ops), encode("addi", rd=2, rs1=0, imm=4)]
    elif spec.ext == "Zicsr":
        imm_form = "zimm" in names
        for number in (csrs.MCOUNTINHIBIT, csrs.MCYCLE, csrs.MINSTRET, csrs.MCYCLEH, csrs.MINSTRETH,
                       csrs.MHARTID, 0x7C0):
            for value in (0, 5, 0x1F, 2):
                src = {"zimm": value} if imm_form else {"rs1": 2}
                w += _li(2, value)
                w.append(encode(spec.mnemonic, rd=3, csr=number, **src))
                _store_result(w, slot)
                w.append(encode("csrrs", rd=3, csr=number, rs1=0))
                _store_result(w, slot + 1)
                slot += 2
    elif kinds == (F.XREG, F.XREG, F.XREG):
        for a in CORNERS:
            for b in CORNERS:
                w += _li(1, a) + _li(2, b)
                w.append(encode(spec.mnemonic, rd=3, rs1=1, rs2=2))
                _store_result(w, slot)
                slot += 1
        w.append(encode(spec.mnemonic, rd=4, rs1=3, rs2=3))   # back-to-back dependency
    elif kinds == (F.XREG, F.XREG, F.IMM) and names[2] == "imm":
        values = range(0, 32, 3) if spec.op in ("slli", "srli", "srai") else IMMS
        for a in CORNERS:
            for imm in values:
                w += _li(1, a)
                w.append(encode(spec.mnemonic, rd=3, rs1=1, imm=imm))
                _store_result(w, slot)
                slot += 1
    elif kinds == (F.XREG, F.XREG):
        for a in CORNERS + (0x00F00000, 0x80, 0x8000, 0xFF00FF00):
            w += _li(1, a)
            w.append(encode(spec.mnemonic, rd=3, rs1=1))
            _store_result(w, slot)
            slot += 1
    elif spec.op in ("lui", "auipc"):
        for imm in (0, 1, 0x80000, 0xFFFFF, 0x12345):
            w.append(encode(spec.mnemonic, rd=3, imm=imm))
            _store_result(w, slot)
            slot += 1
    else:
        raise AssertionError(f"no directed program for {spec.mnemonic}")
    w.append(encode("ecall"))
    return w


def _scalar_specs(machine_config):
    return [s for s in SPECS if not s.is_vector and s.ext in machine_config.extensions]


def test_every_scalar_instruction_has_a_directed_program(machine_config):
    for spec in _scalar_specs(machine_config):
        words = _program(spec)
        assert any((word & spec.mask) == spec.match for word in words), spec.mnemonic


def test_directed_programs_match_iss(differential, machine_config):
    specs = _scalar_specs(machine_config)
    programs = [Program.from_words(_program(s), dmem=PATTERN) for s in specs]
    iss, _ = differential(programs, [s.mnemonic for s in specs])
    stops = {s.mnemonic: st["stop"]["cause"] for s, st in zip(specs, iss)}
    assert stops["ebreak"] == "ebreak" and stops["jalr"] == "misaligned_fetch" and stops["add"] == "ecall"
