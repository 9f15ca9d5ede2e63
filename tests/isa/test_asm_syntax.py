"""The assembler language: labels, sections, directives, expressions, pseudo-instructions."""
from __future__ import annotations

import pytest

from fenn_dma.isa.assembler import assemble
from fenn_dma.isa.codec import encode

NOP = encode("addi", rd=0, rs1=0, imm=0)


def words(src: str) -> list[int]:
    return assemble(src).words


def one(src: str) -> int:
    (w,) = words(src)
    return w


# ---- well-known encodings (from the RISC-V spec / GNU objdump output) -----------------------------

@pytest.mark.parametrize("src, word", [
    ("addi a0, zero, 10", 0x00A00513),
    ("lui a1, 0x12345", 0x123455B7),
    ("jalr zero, 0(ra)", 0x00008067),
    ("ret", 0x00008067),
    ("nop", 0x00000013),
    ("ecall", 0x00000073),
    ("ebreak", 0x00100073),
    ("fence", 0x0FF0000F),
    ("fence.i", 0x0000100F),
    ("sw a0, -4(sp)", 0xFEA12E23),
    ("lw a0, -4(sp)", 0xFFC12503),
    ("mul a0, a1, a2", 0x02C58533),
    ("csrrs t0, mcycle, zero", 0xB00022F3),
    ("clz a0, a1", 0x60059513),
    ("sext.h a0, a1", 0x60559513),
])
def test_known_encodings(src, word):
    assert one(src) == word


# ---- li: the same size decisions as GNU as ----------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (0, [("addi", dict(rd=10, rs1=0, imm=0))]),
    (2047, [("addi", dict(rd=10, rs1=0, imm=2047))]),
    (-2048, [("addi", dict(rd=10, rs1=0, imm=-2048))]),
    (2048, [("lui", dict(rd=10, imm=1)), ("addi", dict(rd=10, rs1=10, imm=-2048))]),
    (0x1000, [("lui", dict(rd=10, imm=1))]),
    (-4096, [("lui", dict(rd=10, imm=0xFFFFF))]),
    (0x12345678, [("lui", dict(rd=10, imm=0x12345)), ("addi", dict(rd=10, rs1=10, imm=0x678))]),
    (0x12345800, [("lui", dict(rd=10, imm=0x12346)), ("addi", dict(rd=10, rs1=10, imm=-2048))]),
    (0xFFFFFFFF, [("addi", dict(rd=10, rs1=0, imm=-1))]),
    (0x80000000, [("lui", dict(rd=10, imm=0x80000))]),
    (-2147483648, [("lui", dict(rd=10, imm=0x80000))]),
    (0x7FFFFFFF, [("lui", dict(rd=10, imm=0x80000)), ("addi", dict(rd=10, rs1=10, imm=-1))]),
])
def test_li(value, expected):
    assert words(f"li a0, {value}") == [encode(m, **ops) for m, ops in expected]


def test_li_with_labels_and_later_symbols_always_takes_two_instructions():
    src = """
        li a0, N          # N is defined later: lui+addi even though it is small
        li a1, here       # an address: lui+addi
        li a2, M          # M is known already: addi alone
    here:
        .equ N, 3
    """
    ws = assemble(".equ M, 4\n" + src).words
    assert ws == [encode("lui", rd=10, imm=0), encode("addi", rd=10, rs1=10, imm=3),
                  encode("lui", rd=11, imm=0), encode("addi", rd=11, rs1=11, imm=20),
                  encode("addi", rd=12, rs1=0, imm=4)]


# ---- other pseudo-instructions ----------------------------------------------------------------------

@pytest.mark.parametrize("pseudo, real", [
    ("mv a0, a1", "addi a0, a1, 0"),
    ("not a0, a1", "xori a0, a1, -1"),
    ("neg a0, a1", "sub a0, zero, a1"),
    ("seqz a0, a1", "sltiu a0, a1, 1"),
    ("snez a0, a1", "sltu a0, zero, a1"),
    ("sltz a0, a1", "slt a0, a1, zero"),
    ("sgtz a0, a1", "slt a0, zero, a1"),
    ("jr t0", "jalr zero, 0(t0)"),
    ("jalr t0", "jalr ra, 0(t0)"),
    ("jalr a0, t0, 8", "jalr a0, 8(t0)"),
    ("j .+8", "jal zero, .+8"),
    ("jal .-4", "jal ra, .-4"),
    ("beqz a0, .+8", "beq a0, zero, .+8"),
    ("bnez a0, .+8", "bne a0, zero, .+8"),
    ("blez a0, .+8", "bge zero, a0, .+8"),
    ("bgez a0, .+8", "bge a0, zero, .+8"),
    ("bltz a0, .+8", "blt a0, zero, .+8"),
    ("bgtz a0, .+8", "blt zero, a0, .+8"),
    ("bgt a0, a1, .+8", "blt a1, a0, .+8"),
    ("ble a0, a1, .+8", "bge a1, a0, .+8"),
    ("bgtu a0, a1, .+8", "bltu a1, a0, .+8"),
    ("bleu a0, a1, .+8", "bgeu a1, a0, .+8"),
    ("csrr a0, mhartid", "csrrs a0, 0xf14, zero"),
    ("csrw mm2s_count, a0", "csrrw zero, 0xbc2, a0"),
    ("csrs mcountinhibit, a0", "csrrs zero, 0x320, a0"),
    ("csrc mcountinhibit, a0", "csrrc zero, 0x320, a0"),
    ("csrwi MM2S_CONTROL, 1", "csrrwi zero, 0xbc3, 1"),
    ("csrsi mcountinhibit, 5", "csrrsi zero, 0x320, 5"),
    ("csrci mcountinhibit, 5", "csrrci zero, 0x320, 5"),
    ("rdcycle a0", "csrrs a0, mcycle, zero"),
    ("rdinstret a0", "csrrs a0, minstret, zero"),
    ("fence", "fence iorw, iorw"),
    ("fence rw, w", "fence 3, 1"),
])
def test_pseudo_instructions(pseudo, real):
    assert words(pseudo) == words(real)


def test_la_and_call_are_pc_relative_pairs():
    src = """
        nop
        la a0, data_sym      # at 4
        call func            # at 12
        tail func            # at 20
    func:
        ret
        .data
        .zero 0x900
    data_sym: .word 1
    """
    ws = words(src)
    delta = 0x900 - 4  # the auipc's pc is 4
    hi, lo = (delta + 0x800) >> 12, ((delta & 0xFFF) ^ 0x800) - 0x800
    assert ws[1:3] == [encode("auipc", rd=10, imm=hi), encode("addi", rd=10, rs1=10, imm=lo)]
    assert ws[3:5] == [encode("auipc", rd=1, imm=0), encode("jalr", rd=1, rs1=1, imm=28 - 12)]
    assert ws[5:7] == [encode("auipc", rd=6, imm=0), encode("jalr", rd=0, rs1=6, imm=28 - 20)]


def test_hi_lo_with_carry():
    ws = words(".equ X, 0x12345FFF\nlui a0, %hi(X)\naddi a0, a0, %lo(X)")
    assert ws == [encode("lui", rd=10, imm=0x12346), encode("addi", rd=10, rs1=10, imm=-1)]
    assert ((0x12346 << 12) - 1) & 0xFFFFFFFF == 0x12345FFF


def test_pcrel_hi_lo():
    ws = words("nop\n1: auipc a0, %pcrel_hi(target)\naddi a0, a0, %pcrel_lo(1b)\n.zero 0x1000\ntarget: nop")
    delta = 12 + 0x1000 - 4
    assert ws[1:3] == [encode("auipc", rd=10, imm=(delta + 0x800) >> 12),
                       encode("addi", rd=10, rs1=10, imm=((delta & 0xFFF) ^ 0x800) - 0x800)]


# ---- labels -----------------------------------------------------------------------------------------

def test_labels_and_branches():
    ws = words("start: beq a0, a1, end\nloop: addi a0, a0, 1\n j loop\nend: ecall")
    assert ws[0] == encode("beq", rs1=10, rs2=11, imm=12)
    assert ws[2] == encode("jal", rd=0, imm=-4)


def test_numeric_local_labels():
    src = """
    1:  nop            # 0
        j 1f           # 4 -> 12
        j 1b           # 8 -> 0
    1:  j 1b           # 12 -> 12 (itself)
        j 2f           # 16 -> 20
    2:  j 1b           # 20 -> 12
    """
    ws = words(src)
    assert ws[1:] == [encode("jal", rd=0, imm=8), encode("jal", rd=0, imm=-8), encode("jal", rd=0, imm=0),
                      encode("jal", rd=0, imm=4), encode("jal", rd=0, imm=-8)]


def test_several_labels_and_statements_on_a_line():
    p = assemble("a: b: nop; nop ; c: ecall")
    assert p.words == [NOP, NOP, encode("ecall")]
    assert (p.symbol("a"), p.symbol("b"), p.symbol("c")) == (0, 0, 8)


# ---- sections, data directives, symbols, source map -------------------------------------------------

def test_sections_go_to_their_memories():
    src = """
        .globl _start
    _start:
        nop
        .data
    d0: .word 0x11223344, d1
    d1: .half 0x5566, -1
        .byte 7, 'A', '\\n'
        .rodata
    r0: .string "ab"
        .asciz "c"
        .ascii "de"
        .section .vmem, "aw", @progbits
        .align 6
    v0: .half 1, 2
        .bss
    b0: .zero 3
        .text
        ecall
    """
    p = assemble(src)
    assert p.words == [NOP, encode("ecall")]
    dmem = p.images["dmem"]
    assert dmem[0:4] == (0x11223344).to_bytes(4, "little")
    assert dmem[4:8] == (8).to_bytes(4, "little")          # address of d1
    assert dmem[8:12] == bytes([0x66, 0x55, 0xFF, 0xFF])
    assert dmem[12:15] == bytes([7, ord("A"), 10])
    # .rodata follows .data in DMEM (order of first appearance), then .bss.
    assert p.symbols["r0"].value == 15 and p.symbols["r0"].section == ".rodata"
    assert dmem[15:22] == b"ab\0c\0de"
    assert p.symbols["b0"].value == 22 and dmem[22:25] == bytes(3)
    assert p.images["vmem"] == bytes([1, 0, 2, 0])
    assert p.symbols["v0"].value == 0 and p.symbols["v0"].section == ".vmem"
    assert p.symbols["_start"].is_global and not p.symbols["d0"].is_global
    assert p.entry == 0


def test_entry_is_start_symbol():
    assert assemble("nop\n_start: ecall").entry == 4


def test_section_prefixes_and_order():
    p = assemble(".section .text.init\nnop\n.section .rodata.str1.1\n.byte 1\n.section .vmem.weights\n.byte 2")
    assert p.words == [NOP]
    assert p.images["dmem"] == b"\x01" and p.images["vmem"] == b"\x02"


def test_align_space_and_fill():
    p = assemble(".data\n.byte 1\n.align 2\n.byte 2\n.balign 8, 0xee\n.byte 3\n.p2align 1\n.space 3, 9\n.skip 1")
    assert p.images["dmem"] == bytes([1, 0, 0, 0, 2, 0xEE, 0xEE, 0xEE, 3, 0, 9, 9, 9, 0])


def test_align_in_code_pads_with_nops():
    p = assemble("nop\n.align 4\necall")
    assert p.words == [NOP, NOP, NOP, NOP, encode("ecall")]


def test_section_base_is_aligned_to_its_largest_alignment():
    p = assemble(".data\n.byte 1\n.section .rodata\n.align 3\nx: .byte 2")
    assert p.symbols["x"].value == 8


def test_equ_set_assignment_and_expressions():
    src = """
        .equ A, 6
        .set B, A * 2 + 1        # 13
        C = (B << 4) | 0x3       # 211
        D = -B % 4 + ~0          # gas: % truncates like C: -13 % 4 = -1; ~0 = -1 -> -2
        E = 7 / -2               # -3
        F = 1 + 2 | 4            # gas precedence: | binds tighter than +: 1 + (2 | 4) = 7
        G = 0b101 + 017 + 'a'    # 5 + 15 + 97
        H = end - start          # a constant from two labels
    start: .word A, B, C, D, E, F, G, H
    end:
    """
    p = assemble(src)
    vals = [int.from_bytes(p.text[i:i + 4], "little", signed=True) for i in range(0, 32, 4)]
    assert vals == [6, 13, 211, -2, -3, 7, 117, 32]
    assert p.symbols["H"].section is None and p.symbols["H"].value == 32


def test_space_with_label_difference_known_while_reading():
    p = assemble(".data\na: .word 1, 2\nb:\n.space b - a\nc: .byte 5")
    assert p.symbols["c"].value == 16


def test_case_insensitive_mnemonics_registers_and_csrs():
    assert words("ADDI A0, ZERO, 1\nCSRR T0, MCYCLE") == words("addi a0, zero, 1\ncsrr t0, mcycle")


def test_comments_everywhere():
    src = "# full line\n  nop // c++ style\n /* block\n over lines */ ecall # end\n .byte '#'  # hash char\n"
    p = assemble(src)
    assert p.text == NOP.to_bytes(4, "little") + encode("ecall").to_bytes(4, "little") + b"#"


def test_source_map_covers_every_instruction():
    p = assemble("nop\n\n  li a0, 0x12345678  # two words\n la a1, x\nx: ecall", "k.s")
    assert {a: (loc.file, loc.line) for a, loc in p.source_map.items()} == {
        0: ("k.s", 1), 4: ("k.s", 3), 8: ("k.s", 3), 12: ("k.s", 4), 16: ("k.s", 4), 20: ("k.s", 5)}
    assert p.source_map[4].text == "li a0, 0x12345678  # two words"


def test_end_stops_reading():
    assert words("nop\n.end\nthis is not assembled") == [NOP]


def test_ignored_directives():
    assert words('.file "x.c"\n.option norvc\n.type f, @function\nf: nop\n.size f, .-f') == [NOP]


def test_branch_to_absolute_address():
    # A number as a target is an absolute address, as in GNU as.
    assert words(".zero 16\nj 0x4")[4] == encode("jal", rd=0, imm=-12)
