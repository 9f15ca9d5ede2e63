/* The fast ISS engine: executes a predecoded instruction table on the
 * machine's numpy buffers (docs/iss.md).
 *
 * No encoding lives here. Python (sim/fast.py) decodes IMEM with the
 * instruction table and maps op names onto the OPS list exported below; the
 * state layout, stop causes, cycle-model parameters, CSR numbers and DMA
 * status bits are likewise matched or passed in by name. Semantics follow
 * sim/reference.py (the oracle) line by line; tests require identical state.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the fast ISS assumes a little-endian host (memories are little-endian byte arrays)"
#endif

#define LANES 32
#define NREGS 32
#define ROW_BYTES 64

/* ---- names shared with Python (each list is checked by name in fast.py) ---- */

#define OP_LIST(X) \
    X(lui) X(auipc) X(jal) X(jalr) X(beq) X(bne) X(blt) X(bge) X(bltu) X(bgeu) \
    X(lb) X(lh) X(lw) X(lbu) X(lhu) X(sb) X(sh) X(sw) \
    X(addi) X(slti) X(sltiu) X(xori) X(ori) X(andi) X(slli) X(srli) X(srai) \
    X(add) X(sub) X(sll) X(slt) X(sltu) X(xor) X(srl) X(sra) X(or) X(and) \
    X(fence) X(fence_i) X(ecall) X(ebreak) \
    X(csrrw) X(csrrs) X(csrrc) X(csrrwi) X(csrrsi) X(csrrci) \
    X(mul) X(mulh) X(mulhsu) X(mulhu) X(div) X(divu) X(rem) X(remu) \
    X(clz) X(ctz) X(cpop) X(sext_b) X(sext_h) \
    X(vadd) X(vsub) X(vand) X(vsll) X(vsra) X(vmul) X(vslli) X(vsrai) \
    X(vteq) X(vtne) X(vtlt) X(vtge) X(vsel) X(vlui) X(vfill) X(vextract) X(vrng) X(vandadd) \
    X(vloadv) X(vloadl) X(vloadr0) X(vloadr1) X(vstorev) X(vstorel) \
    X(illegal)

#define ENUM_OP(name) OP_##name,
enum { OP_LIST(ENUM_OP) N_OPS };
#define NAME_OP(name) #name,
static const char *const op_names[] = { OP_LIST(NAME_OP) };

#define CORE_LIST(X) X(pc) X(instret) X(cycles) X(mcycle) X(minstret) X(mcountinhibit) X(vload_dest) X(xload_dest)
#define ENUM_CORE(name) C_##name,
enum { CORE_LIST(ENUM_CORE) N_CORE };
static const char *const core_names[] = { CORE_LIST(NAME_OP) };

#define DMA_LIST(X) X(src) X(dst) X(count) X(status) X(busy) X(t_xfer) X(t_done) X(cur_src) X(cur_dst) X(cur_count) X(result) X(moved)
#define ENUM_DMA(name) D_##name,
enum { DMA_LIST(ENUM_DMA) N_DMA };
static const char *const dma_names[] = { DMA_LIST(NAME_OP) };

#define CAUSE_LIST(X) X(ecall) X(ebreak) X(misaligned_fetch) X(fetch_fault) X(illegal_instruction) \
    X(misaligned_load) X(load_fault) X(misaligned_store) X(store_fault) X(raw_hazard) X(max_instructions)
#define ENUM_CAUSE(name) S_##name,
enum { CAUSE_LIST(ENUM_CAUSE) N_CAUSES };
static const char *const cause_names[] = { CAUSE_LIST(NAME_OP) };

#define PARAM_LIST(X) X(pipeline_fill) X(taken_branch_penalty) X(jump_penalty) X(load_use_stall) X(mul_extra) X(div_extra)
#define ENUM_PARAM(name) P_##name,
enum { PARAM_LIST(ENUM_PARAM) N_PARAMS };
static const char *const param_names[] = { PARAM_LIST(NAME_OP) };

/* Machine constants that Python passes in, in this order. */
/* DmaModel.as_params() (sim/dma.py): per channel the offsets to "transferring", to done and to a
 * bus error's end, less the beats; the 0-byte transfer's offset; the beat width; the bursts' rule
 * (fenn_dma/dram.py MAX_BURST, BURST_BOUNDARY, OUTSTANDING). */
#define MISC_LIST(X) X(dma_mm2s_first) X(dma_mm2s_done) X(dma_mm2s_error) X(dma_s2mm_first) X(dma_s2mm_done) \
    X(dma_s2mm_error) X(dma_zero) X(dma_beat_bytes) X(dma_max_burst) X(dma_boundary) X(dma_outstanding) \
    X(dma_stall) X(dram_base) X(hartid)
#define ENUM_MISC(name) K_##name,
enum { MISC_LIST(ENUM_MISC) N_MISC };
static const char *const misc_names[] = { MISC_LIST(NAME_OP) };

/* CSR numbers (values from isa/csrs.py, passed in by Python in this order). */
#define CSR_LIST(X) X(mcountinhibit) X(mcycle) X(mcycleh) X(minstret) X(minstreth) X(mhartid) \
    X(mm2s_src_addr) X(mm2s_dst_addr) X(mm2s_count) X(mm2s_control) X(mm2s_status) \
    X(s2mm_src_addr) X(s2mm_dst_addr) X(s2mm_count) X(s2mm_control) X(s2mm_status)
#define ENUM_CSR(name) R_##name,
enum { CSR_LIST(ENUM_CSR) N_CSRS };
static const char *const csr_names[] = { CSR_LIST(NAME_OP) };

/* Constants of isa/csrs.py (DMA_*) and isa/table.py (ROUND_*), passed in by Python in this order. */
#define CONST_LIST(X) X(DMA_IDLE) X(DMA_STARTING) X(DMA_TRANSFERRING) X(DMA_INTERNAL_ERROR) \
    X(DMA_DECODE_ERROR) X(DMA_SLAVE_ERROR) X(DMA_DONE) X(DMA_MAX_COUNT) X(DMA_ALIGN) \
    X(ROUND_NEAREST) X(ROUND_STOCHASTIC)
#define ENUM_CONST(name) Q_##name,
enum { CONST_LIST(ENUM_CONST) N_CONSTS };
static const char *const const_names[] = { CONST_LIST(NAME_OP) };

static const char *const column_names[] = { "op", "rd", "rs1", "rs2", "imm", "xsrc", "vsrc", "flags" };

typedef struct {
    int32_t op, rd, rs1, rs2, imm;
    uint32_t xsrc, vsrc;   /* masks of scalar / vector registers read */
    int32_t flags;         /* sat | round << 1 */
} insn_t;

#define NEVER UINT64_MAX

/* ---- DMA (mirrors sim/dma.py) ---- */

typedef struct {
    uint64_t *st;                 /* [2][N_DMA] */
    uint8_t *vmem, *dram;
    uint64_t vmem_size, dram_size, dram_base, first[2], done[2], error[2], zero, beat, max_burst, boundary,
             outstanding;
    const uint64_t *err;          /* [nerr][2] */
    Py_ssize_t nerr;
    const int64_t *k;             /* constants, CONST_LIST order */
    /* The engine's cycle rules (sim/dma.py DmaChannels.timed_start, called as timing(ch, now)): under
     * back-pressure (stall != 0) for every start, else for a transfer answered with a bus error. It
     * sets the phase cycles in st itself (the same buffer). Called with the GIL taken; its first
     * exception is kept and raised when the run returns. */
    PyObject *timing;
    uint64_t stall;
    PyObject *exc_type, *exc_value, *exc_tb;
} dma_t;

static uint64_t dma_next_event(const dma_t *d)
{
    uint64_t t = NEVER;
    for (int ch = 0; ch < 2; ch++) {
        const uint64_t *s = d->st + ch * N_DMA;
        if (s[D_busy] && s[D_t_done] < t)
            t = s[D_t_done];
    }
    return t;
}

static void dma_complete(dma_t *d, int ch)
{
    uint64_t *s = d->st + ch * N_DMA;
    if (s[D_result] == (uint64_t)d->k[Q_DMA_DONE]) {
        uint64_t src = s[D_cur_src], dst = s[D_cur_dst], n = s[D_cur_count];
        if (ch == 0)
            memmove(d->vmem + dst, d->dram + (src - d->dram_base), n);
        else
            memmove(d->dram + (dst - d->dram_base), d->vmem + src, n);
        s[D_moved] += n;
    }
    s[D_status] = (uint64_t)d->k[Q_DMA_IDLE] | s[D_result];
    s[D_busy] = 0;
}

static void dma_advance(dma_t *d, uint64_t now)
{
    for (;;) {
        int pick = -1;
        for (int ch = 0; ch < 2; ch++) {
            const uint64_t *s = d->st + ch * N_DMA;
            if (s[D_busy] && s[D_t_done] <= now &&
                (pick < 0 || s[D_t_done] < d->st[pick * N_DMA + D_t_done]))
                pick = ch;
        }
        if (pick < 0)
            return;
        dma_complete(d, pick);
    }
}

/* reg: 0 src, 1 dst, 2 count, 3 control, 4 status */
static uint32_t dma_read(const dma_t *d, int ch, int reg, uint64_t now)
{
    const uint64_t *s = d->st + ch * N_DMA;
    switch (reg) {
    case 0: return (uint32_t)s[D_src];
    case 1: return (uint32_t)s[D_dst];
    case 2: return (uint32_t)s[D_count];
    case 3: return 0;
    default:
        if (s[D_busy])
            return (uint32_t)(now < s[D_t_xfer] ? d->k[Q_DMA_STARTING] : d->k[Q_DMA_TRANSFERRING]);
        return (uint32_t)s[D_status];
    }
}

/* The DRAM model's answer to [addr, addr + bytes): done, decode error or slave error. */
static uint64_t dma_bus_result(const dma_t *d, uint64_t addr, uint64_t bytes)
{
    if (addr < d->dram_base || addr + bytes > d->dram_base + d->dram_size)
        return (uint64_t)d->k[Q_DMA_DECODE_ERROR];
    for (Py_ssize_t i = 0; i < d->nerr; i++)
        if (addr < d->err[2 * i + 1] && d->err[2 * i] < addr + bytes)
            return (uint64_t)d->k[Q_DMA_SLAVE_ERROR];
    return (uint64_t)d->k[Q_DMA_DONE];
}

/* Beats a failing transfer still moves (fenn_dma/dram.py DramTiming.error_beats): its bursts
 * (at most max_burst beats, none across a boundary) up to outstanding - 1 after the first failing one. */
static uint64_t dma_error_beats(const dma_t *d, uint64_t addr, uint64_t count, uint64_t *result)
{
    uint64_t left = (count + d->beat - 1) / d->beat, moved = 0, k = 0, fail = UINT64_MAX;
    while (left) {
        uint64_t n = left < d->max_burst ? left : d->max_burst;
        uint64_t to_page = (d->boundary - addr % d->boundary) / d->beat;
        if (to_page < n)
            n = to_page;
        const uint64_t r = fail == UINT64_MAX ? dma_bus_result(d, addr, n * d->beat) : 0;
        if (fail == UINT64_MAX && r != (uint64_t)d->k[Q_DMA_DONE]) {
            fail = k;
            *result = r;          /* the first failing burst's answer is the transfer's */
        }
        if (fail != UINT64_MAX && k >= fail + d->outstanding)
            break;
        moved += n;
        addr += n * d->beat;
        left -= n;
        k++;
    }
    return moved;
}

static void dma_write(dma_t *d, int ch, int reg, uint32_t value, uint64_t now)
{
    uint64_t *s = d->st + ch * N_DMA;
    if (reg == 4)
        return;
    if (reg < 3) {
        s[reg == 0 ? D_src : reg == 1 ? D_dst : D_count] = value;
        return;
    }
    if (!(value & 1) || s[D_busy])
        return;
    uint64_t src = s[D_src], dst = s[D_dst], count = s[D_count];
    uint64_t dram_addr = ch == 0 ? src : dst, vmem_addr = ch == 0 ? dst : src;
    uint64_t align = (uint64_t)d->k[Q_DMA_ALIGN];
    if (src % align || dst % align || count % align || count >= (uint64_t)d->k[Q_DMA_MAX_COUNT]
        || vmem_addr + count > d->vmem_size) {
        s[D_status] = (uint64_t)(d->k[Q_DMA_IDLE] | d->k[Q_DMA_INTERNAL_ERROR]);
        return;
    }
    s[D_cur_src] = src;
    s[D_cur_dst] = dst;
    s[D_cur_count] = count;
    uint64_t result = count ? dma_bus_result(d, dram_addr, count) : (uint64_t)d->k[Q_DMA_DONE];
    if (count == 0) {
        s[D_t_xfer] = s[D_t_done] = now + d->zero;
    } else {
        s[D_t_xfer] = now + d->first[ch];
        s[D_t_done] = now + (result == (uint64_t)d->k[Q_DMA_DONE]
                             ? d->done[ch] + (count + d->beat - 1) / d->beat
                             : d->error[ch] + dma_error_beats(d, dram_addr, count, &result));
    }
    s[D_result] = result;
    s[D_busy] = 1;
    if (count && d->timing && (d->stall || result != (uint64_t)d->k[Q_DMA_DONE])) {
        PyGILState_STATE g = PyGILState_Ensure();
        PyObject *r = PyObject_CallFunction(d->timing, "iK", ch, (unsigned long long)now);
        if (r)
            Py_DECREF(r);
        else if (!d->exc_type)
            PyErr_Fetch(&d->exc_type, &d->exc_value, &d->exc_tb);
        else
            PyErr_Clear();
        PyGILState_Release(g);
    }
}

/* ---- CSRs ---- */

typedef struct {
    const int64_t *num;   /* CSR numbers, CSR_LIST order */
    uint64_t hartid;
} csr_map_t;

static int csr_index(const csr_map_t *c, int32_t num)
{
    for (int i = 0; i < N_CSRS; i++)
        if (c->num[i] == num)
            return i;
    return -1;
}

/* DMA CSR index -> channel and register (0 src, 1 dst, 2 count, 3 control, 4 status). */
static int dma_csr(int idx, int *ch)
{
    if (idx >= R_mm2s_src_addr && idx <= R_mm2s_status) { *ch = 0; return idx - R_mm2s_src_addr; }
    if (idx >= R_s2mm_src_addr && idx <= R_s2mm_status) { *ch = 1; return idx - R_s2mm_src_addr; }
    return -1;
}

/* ---- lanes (mirror sim/lanes.py) ---- */

static inline int16_t sat16(int32_t v)
{
    return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

static inline int16_t wrap16(int32_t v)
{
    return (int16_t)(uint16_t)(uint32_t)v;
}

/* ---- 32-lane rows ----
 * One function per lane operation, on whole rows (32 int16). With SSE2 (every x86-64) they use its
 * 16-bit instructions: a row is four 128-bit vectors, each read before its own lanes are written,
 * so rd may alias a source. Elsewhere, or built with -DFENN_ISS_GENERIC (tests/sim/
 * test_iss_generic_build.py runs that build against the reference), plain loops do the same. Products
 * and rounding sums are exact in int32 (|a * b| <= 2^30, an addend < 2^15 for shifts <= 15). */

/* Inlined into the handlers, where saturation, rounding and the test are constants. */
#define ROWFN static inline __attribute__((always_inline))

#if defined(__SSE2__) && !defined(FENN_ISS_GENERIC)
#define FENN_ISS_SSE2 1
#include <emmintrin.h>
#define VLD(p, j) _mm_loadu_si128((const __m128i *)(const void *)(p) + (j))
#define VST(p, j, x) _mm_storeu_si128((__m128i *)(void *)(p) + (j), (x))

static inline __m128i rol16v(__m128i x, int k)
{
    return _mm_or_si128(_mm_slli_epi16(x, k), _mm_srli_epi16(x, 16 - k));
}

/* One Xoroshiro32++ step of the 8 lanes of vector j; returns their outputs. */
ROWFN __m128i rng_step(uint16_t *s0, uint16_t *s1, int j)
{
    __m128i a = VLD(s0, j), b = VLD(s1, j);
    const __m128i out = _mm_add_epi16(rol16v(_mm_add_epi16(a, b), 9), a);
    b = _mm_xor_si128(b, a);
    a = _mm_xor_si128(_mm_xor_si128(rol16v(a, 13), b), _mm_slli_epi16(b, 5));
    b = rol16v(b, 10);
    VST(s0, j, a);
    VST(s1, j, b);
    return out;
}

/* The int32 lanes lo/hi back to int16: saturated, or wrapped (the low 16 bits). */
ROWFN __m128i pack32(__m128i lo, __m128i hi, int sat)
{
    if (!sat) {
        lo = _mm_srai_epi32(_mm_slli_epi32(lo, 16), 16);
        hi = _mm_srai_epi32(_mm_slli_epi32(hi, 16), 16);
    }
    return _mm_packs_epi32(lo, hi);
}

ROWFN void row_add(int16_t *r, const int16_t *p, const int16_t *q, int sat)
{
    for (int j = 0; j < 4; j++)
        VST(r, j, sat ? _mm_adds_epi16(VLD(p, j), VLD(q, j)) : _mm_add_epi16(VLD(p, j), VLD(q, j)));
}

ROWFN void row_sub(int16_t *r, const int16_t *p, const int16_t *q, int sat)
{
    for (int j = 0; j < 4; j++)
        VST(r, j, sat ? _mm_subs_epi16(VLD(p, j), VLD(q, j)) : _mm_sub_epi16(VLD(p, j), VLD(q, j)));
}

ROWFN void row_and(int16_t *r, const int16_t *p, const int16_t *q)
{
    for (int j = 0; j < 4; j++)
        VST(r, j, _mm_and_si128(VLD(p, j), VLD(q, j)));
}

/* (p * q + rounding) >> shift; stochastic: the addend is each lane's RNG output & (2^shift - 1)
 * (the RNG advances once, also when shift = 0), else the constant rc. */
ROWFN void row_mul(int16_t *r, const int16_t *p, const int16_t *q, int shift, int32_t rc, int stoch,
                           int sat, uint16_t *s0, uint16_t *s1)
{
    const __m128i sh = _mm_cvtsi32_si128(shift), zero = _mm_setzero_si128();
    const __m128i m = _mm_set1_epi16((short)((1u << shift) - 1));
    for (int j = 0; j < 4; j++) {
        const __m128i a = VLD(p, j), b = VLD(q, j);
        __m128i rlo = _mm_set1_epi32(rc), rhi = rlo;
        if (stoch) {
            const __m128i rr = _mm_and_si128(rng_step(s0, s1, j), m);
            rlo = _mm_unpacklo_epi16(rr, zero);
            rhi = _mm_unpackhi_epi16(rr, zero);
        }
        const __m128i lo = _mm_mullo_epi16(a, b), hi = _mm_mulhi_epi16(a, b);
        VST(r, j, pack32(_mm_sra_epi32(_mm_add_epi32(_mm_unpacklo_epi16(lo, hi), rlo), sh),
                         _mm_sra_epi32(_mm_add_epi32(_mm_unpackhi_epi16(lo, hi), rhi), sh), sat));
    }
}

/* wrap16((p + rounding) >> shift), the rounding as row_mul's. */
ROWFN void row_srai(int16_t *r, const int16_t *p, int shift, int32_t rc, int stoch, uint16_t *s0,
                            uint16_t *s1)
{
    const __m128i sh = _mm_cvtsi32_si128(shift), zero = _mm_setzero_si128();
    const __m128i m = _mm_set1_epi16((short)((1u << shift) - 1));
    for (int j = 0; j < 4; j++) {
        const __m128i a = VLD(p, j);
        __m128i rlo = _mm_set1_epi32(rc), rhi = rlo;
        if (stoch) {
            const __m128i rr = _mm_and_si128(rng_step(s0, s1, j), m);
            rlo = _mm_unpacklo_epi16(rr, zero);
            rhi = _mm_unpackhi_epi16(rr, zero);
        }
        const __m128i alo = _mm_srai_epi32(_mm_unpacklo_epi16(a, a), 16), ahi = _mm_srai_epi32(_mm_unpackhi_epi16(a, a), 16);
        VST(r, j, pack32(_mm_sra_epi32(_mm_add_epi32(alo, rlo), sh), _mm_sra_epi32(_mm_add_epi32(ahi, rhi), sh), 0));
    }
}

ROWFN void row_slli(int16_t *r, const int16_t *p, int shift)
{
    const __m128i sh = _mm_cvtsi32_si128(shift);
    for (int j = 0; j < 4; j++)
        VST(r, j, _mm_sll_epi16(VLD(p, j), sh));
}

/* Bit i: lane i of p == q (eq) or p < q (!eq). */
ROWFN uint32_t row_test(const int16_t *p, const int16_t *q, int eq)
{
    __m128i c[4];
    for (int j = 0; j < 4; j++)
        c[j] = eq ? _mm_cmpeq_epi16(VLD(p, j), VLD(q, j)) : _mm_cmplt_epi16(VLD(p, j), VLD(q, j));
    return (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(c[0], c[1]))
           | (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(c[2], c[3])) << 16;
}

/* r = q in the lanes whose bit of mask is set. */
ROWFN void row_sel(int16_t *r, const int16_t *q, uint32_t mask)
{
    const __m128i bit = _mm_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128);
    for (int j = 0; j < 4; j++) {
        const __m128i sel = _mm_cmpeq_epi16(_mm_and_si128(_mm_set1_epi16((short)((mask >> (8 * j)) & 0xFF)), bit), bit);
        VST(r, j, _mm_or_si128(_mm_and_si128(sel, VLD(q, j)), _mm_andnot_si128(sel, VLD(r, j))));
    }
}

ROWFN void row_fill(int16_t *r, int16_t value)
{
    const __m128i x = _mm_set1_epi16(value);
    for (int j = 0; j < 4; j++)
        VST(r, j, x);
}

/* (uint16)(p & m) + add, wrapped */
ROWFN void row_andadd(int16_t *r, const int16_t *p, uint16_t m, uint16_t add)
{
    const __m128i vm = _mm_set1_epi16((short)m), va = _mm_set1_epi16((short)add);
    for (int j = 0; j < 4; j++)
        VST(r, j, _mm_add_epi16(_mm_and_si128(VLD(p, j), vm), va));
}

ROWFN void row_rng(int16_t *r, uint16_t *s0, uint16_t *s1)
{
    for (int j = 0; j < 4; j++)
        VST(r, j, _mm_srli_epi16(rng_step(s0, s1, j), 1));
}

#else  /* generic C */

static inline uint16_t rol16(uint16_t x, int k)
{
    return (uint16_t)((x << k) | (x >> (16 - k)));
}

static inline uint16_t rng_lane(uint16_t *s0, uint16_t *s1, int i)
{
    uint16_t a = s0[i], b = s1[i];
    const uint16_t out = (uint16_t)(rol16((uint16_t)(a + b), 9) + a);
    b ^= a;
    a = (uint16_t)(rol16(a, 13) ^ b ^ (uint16_t)(b << 5));
    b = rol16(b, 10);
    s0[i] = a;
    s1[i] = b;
    return out;
}

#define GROW(expr) do { int16_t tmp_[LANES]; for (int i = 0; i < LANES; i++) tmp_[i] = (expr); \
                        memcpy(r, tmp_, sizeof tmp_); } while (0)

ROWFN void row_add(int16_t *r, const int16_t *p, const int16_t *q, int sat)
{
    GROW(sat ? sat16((int32_t)p[i] + q[i]) : wrap16((int32_t)p[i] + q[i]));
}

ROWFN void row_sub(int16_t *r, const int16_t *p, const int16_t *q, int sat)
{
    GROW(sat ? sat16((int32_t)p[i] - q[i]) : wrap16((int32_t)p[i] - q[i]));
}

ROWFN void row_and(int16_t *r, const int16_t *p, const int16_t *q)
{
    GROW((int16_t)(p[i] & q[i]));
}

ROWFN void row_mul(int16_t *r, const int16_t *p, const int16_t *q, int shift, int32_t rc, int stoch,
                           int sat, uint16_t *s0, uint16_t *s1)
{
    const uint16_t m = (uint16_t)((1u << shift) - 1);
    int16_t tmp[LANES];
    for (int i = 0; i < LANES; i++) {
        const int32_t e = ((int32_t)p[i] * q[i] + (stoch ? (int32_t)(rng_lane(s0, s1, i) & m) : rc)) >> shift;
        tmp[i] = sat ? sat16(e) : wrap16(e);
    }
    memcpy(r, tmp, sizeof tmp);
}

ROWFN void row_srai(int16_t *r, const int16_t *p, int shift, int32_t rc, int stoch, uint16_t *s0,
                            uint16_t *s1)
{
    const uint16_t m = (uint16_t)((1u << shift) - 1);
    GROW(wrap16(((int32_t)p[i] + (stoch ? (int32_t)(rng_lane(s0, s1, i) & m) : rc)) >> shift));
}

ROWFN void row_slli(int16_t *r, const int16_t *p, int shift)
{
    GROW(wrap16((int32_t)((uint32_t)(int32_t)p[i] << shift)));
}

ROWFN uint32_t row_test(const int16_t *p, const int16_t *q, int eq)
{
    uint32_t mask = 0;
    for (int i = 0; i < LANES; i++)
        mask |= (uint32_t)(eq ? p[i] == q[i] : p[i] < q[i]) << i;
    return mask;
}

ROWFN void row_sel(int16_t *r, const int16_t *q, uint32_t mask)
{
    GROW((mask >> i) & 1 ? q[i] : r[i]);
}

ROWFN void row_fill(int16_t *r, int16_t value)
{
    for (int i = 0; i < LANES; i++)
        r[i] = value;
}

ROWFN void row_andadd(int16_t *r, const int16_t *p, uint16_t m, uint16_t add)
{
    GROW((int16_t)(uint16_t)(((uint16_t)p[i] & m) + add));
}

ROWFN void row_rng(int16_t *r, uint16_t *s0, uint16_t *s1)
{
    GROW((int16_t)(rng_lane(s0, s1, i) >> 1));
}

#endif

/* Per-lane shift amounts (rare in kernels): plain loops on every host. rs1 * 2^amount: wrapped, the
 * bits shifted out are lost; saturated, an amount >= 16 saturates a nonzero lane. */
ROWFN void row_sll(int16_t *r, const int16_t *p, const int16_t *q, int sat)
{
    int16_t tmp[LANES];
    for (int i = 0; i < LANES; i++) {
        const int amt = q[i] & 31;
        tmp[i] = !sat ? wrap16((int32_t)((uint32_t)(int32_t)p[i] << amt))
                 : amt >= 16 ? (int16_t)(p[i] > 0 ? 32767 : p[i] < 0 ? -32768 : 0)
                 : sat16((int32_t)p[i] * (1 << amt));
    }
    memcpy(r, tmp, sizeof tmp);
}

ROWFN void row_sra(int16_t *r, const int16_t *p, const int16_t *q)
{
    int16_t tmp[LANES];
    for (int i = 0; i < LANES; i++)
        tmp[i] = (int16_t)((int32_t)p[i] >> (q[i] & 31));
    memcpy(r, tmp, sizeof tmp);
}

/* ---- buffers ---- */

typedef struct {
    Py_buffer b[16];
    int n;
} bufset_t;

static void *getbuf_flags(bufset_t *bs, PyObject *obj, const char *name, Py_ssize_t min_len, Py_ssize_t exact_len,
                          int writable)
{
    Py_buffer *b = &bs->b[bs->n];
    if (PyObject_GetBuffer(obj, b, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Format(PyExc_TypeError, "_fastiss: %s must be a %sC-contiguous buffer", name,
                     writable ? "writable " : "");
        return NULL;
    }
    bs->n++;
    if ((exact_len >= 0 && b->len != exact_len) || b->len < min_len) {
        PyErr_Format(PyExc_ValueError, "_fastiss: %s has %zd bytes, expected %zd", name, b->len,
                     exact_len >= 0 ? exact_len : min_len);
        return NULL;
    }
    return b->buf;
}

static void *getbuf(bufset_t *bs, PyObject *obj, const char *name, Py_ssize_t min_len, Py_ssize_t exact_len)
{
    return getbuf_flags(bs, obj, name, min_len, exact_len, 1);
}

static void release(bufset_t *bs)
{
    for (int i = 0; i < bs->n; i++)
        PyBuffer_Release(&bs->b[i]);
}

/* ---- translation: the predecoded table into threaded code, once per program ----
 *
 * Each IMEM word becomes a tinsn_t with a handler index specialised on the op's flags (saturation,
 * rounding), the registers it leaves as "previous load" (for the next instruction's load-use rule
 * and stall), and the straight-line run it starts: `end` is the last word that executes after it
 * without a check between (a branch or jump, or the word before one that needs the checks: a CSR
 * access, ecall, ebreak, an illegal word, the end of IMEM, or a read of a register loaded by a
 * VLOADV/VLOADL just before). Inside a run nothing dynamic changes the cycle model but the first
 * word's load-use stall and the final branch's penalty, so a run's cost is the difference of the
 * prefix sums `cpre` (static costs assuming fall-through), corrected at its first word. */

/* Specialised handlers beyond the op list (the op's own id serves its plain form). */
#define XH_LIST(X) X(vadd_s) X(vsub_s) X(vsll_s) X(vmul_s) X(vmul_x) X(vmul_sx) X(vsrai_x)
#define ENUM_XH(name) H_##name,
enum { H_base_ = N_OPS - 1, XH_LIST(ENUM_XH) N_HANDLERS };

#define MAGIC 0x46454e4e5444ull   /* "FENNTD": a translated program, not some other buffer */

typedef struct {
    uint64_t magic, ncode;
    int64_t params[N_PARAMS];     /* the cycle model it was translated for */
} theader_t;

typedef struct {
    uint16_t h, op;               /* handler (specialised op), op (OP_LIST) */
    uint8_t rd, rs1, rs2, flags;
    int32_t imm;
    int32_t aux;                  /* constant rounding addend of vmul/vsrai */
    uint32_t xsrc, vsrc;          /* masks of scalar / vector registers read */
    int32_t end;                  /* last word of the run starting here; -1: always one at a time */
    uint64_t cpre;                /* sum of the static costs of the words before this one */
    uint32_t lucost;              /* static load-use stall included in cpre for this word */
    uint8_t vafter, xafter;       /* vload_dest / xload_dest after this instruction */
    uint8_t pad[2];
} tinsn_t;

static int op_is_branch(int op)
{
    return op == OP_beq || op == OP_bne || op == OP_blt || op == OP_bge || op == OP_bltu || op == OP_bgeu;
}

static int op_one_at_a_time(int op)
{
    return op == OP_csrrw || op == OP_csrrs || op == OP_csrrc || op == OP_csrrwi || op == OP_csrrsi ||
           op == OP_csrrci || op == OP_ecall || op == OP_ebreak || op == OP_illegal;
}

static PyObject *fast_translate(PyObject *self, PyObject *args)
{
    PyObject *o_code, *o_params, *o_consts;
    if (!PyArg_ParseTuple(args, "OOO", &o_code, &o_params, &o_consts))
        return NULL;
    bufset_t bs = { .n = 0 };
    PyObject *result = NULL;
    const insn_t *code = getbuf_flags(&bs, o_code, "code", 0, -1, 0);
    if (!code) goto out;
    const Py_ssize_t ncode = bs.b[bs.n - 1].len / (Py_ssize_t)sizeof(insn_t);
    if (bs.b[bs.n - 1].len % (Py_ssize_t)sizeof(insn_t) || ncode == 0 || ncode > (1 << 28)) {
        PyErr_SetString(PyExc_ValueError, "_fastiss.translate: code must hold 1 to 2^28 rows of 8 int32");
        goto out;
    }
    const int64_t *params = getbuf_flags(&bs, o_params, "params", 0, N_PARAMS * 8, 0);
    if (!params) goto out;
    const int64_t *consts = getbuf_flags(&bs, o_consts, "consts", 0, N_CONSTS * 8, 0);
    if (!consts) goto out;
    for (int i = 0; i < N_PARAMS; i++)
        if (params[i] < 0 || params[i] > (1 << 20)) {
            PyErr_Format(PyExc_ValueError, "_fastiss.translate: cycle parameter %s out of range", param_names[i]);
            goto out;
        }
    const Py_ssize_t nbytes = (Py_ssize_t)sizeof(theader_t) + (ncode + 1) * (Py_ssize_t)sizeof(tinsn_t);
    result = PyBytes_FromStringAndSize(NULL, nbytes);
    if (!result) goto out;
    char *base = PyBytes_AS_STRING(result);
    memset(base, 0, (size_t)nbytes);
    theader_t *hd = (theader_t *)base;
    hd->magic = MAGIC;
    hd->ncode = (uint64_t)ncode;
    memcpy(hd->params, params, sizeof hd->params);
    tinsn_t *tc = (tinsn_t *)(base + sizeof(theader_t));
    uint64_t cpre = 0;
    for (Py_ssize_t k = 0; k < ncode; k++) {
        const insn_t *in = &code[k];
        tinsn_t *t = &tc[k];
        int op = in->op;
        if (op < 0 || op >= N_OPS || in->rd < 0 || in->rd > 31 || in->rs1 < 0 || in->rs1 > 31 || in->rs2 < 0 ||
            in->rs2 > 31)
            op = OP_illegal;   /* not a row fast.py writes: refuse to execute it */
        const int sat = in->flags & 1, rnd = (in->flags >> 1) & 3;
        int h = op;
        int32_t aux = 0;
        switch (op) {
        case OP_vadd: if (sat) h = H_vadd_s; break;
        case OP_vsub: if (sat) h = H_vsub_s; break;
        case OP_vsll: if (sat) h = H_vsll_s; break;
        case OP_vmul:
        case OP_vsrai:
            if (in->imm < 0 || in->imm > 15) { op = h = OP_illegal; break; }
            if (rnd == consts[Q_ROUND_STOCHASTIC])
                h = op == OP_vsrai ? H_vsrai_x : sat ? H_vmul_sx : H_vmul_x;
            else {
                aux = (rnd == consts[Q_ROUND_NEAREST] && in->imm > 0) ? (1 << (in->imm - 1)) : 0;
                if (op == OP_vmul && sat) h = H_vmul_s;
            }
            break;
        case OP_vslli: case OP_vandadd:
            if (in->imm < 0 || in->imm > 15) op = h = OP_illegal;
            break;
        case OP_vextract:
            if (in->imm < 0 || in->imm >= LANES) op = h = OP_illegal;
            break;
        case OP_slli: case OP_srli: case OP_srai:
            if (in->imm < 0 || in->imm > 31) op = h = OP_illegal;
            break;
        default: break;
        }
        t->h = (uint16_t)h;
        t->op = (uint16_t)op;
        t->rd = (uint8_t)in->rd;
        t->rs1 = (uint8_t)in->rs1;
        t->rs2 = (uint8_t)in->rs2;
        t->flags = (uint8_t)in->flags;
        t->imm = in->imm;
        t->aux = aux;
        t->xsrc = in->xsrc & ~1u;
        t->vsrc = in->vsrc;
        t->vafter = (op == OP_vloadv || op == OP_vloadl) ? (uint8_t)in->rd : NREGS;
        t->xafter = (op == OP_lb || op == OP_lh || op == OP_lw || op == OP_lbu || op == OP_lhu) ? (uint8_t)in->rd : 0;
        const uint8_t prev_x = k ? tc[k - 1].xafter : 0;
        t->lucost = (prev_x && (t->xsrc >> prev_x) & 1) ? (uint32_t)params[P_load_use_stall] : 0;
        uint64_t c = 1 + t->lucost;
        if (op == OP_jal || op == OP_jalr) c += (uint64_t)params[P_jump_penalty];
        if (op == OP_mul || op == OP_mulh || op == OP_mulhsu || op == OP_mulhu) c += (uint64_t)params[P_mul_extra];
        if (op == OP_div || op == OP_divu || op == OP_rem || op == OP_remu) c += (uint64_t)params[P_div_extra];
        t->cpre = cpre;
        cpre += c;
    }
    tc[ncode].cpre = cpre;
    tc[ncode].op = tc[ncode].h = OP_illegal;
    tc[ncode].end = -1;
    for (Py_ssize_t k = ncode - 1; k >= 0; k--) {
        tinsn_t *t = &tc[k];
        const int op = t->op;
        if (op_one_at_a_time(op))
            t->end = -1;
        else if (op_is_branch(op) || op == OP_jal || op == OP_jalr || k + 1 == ncode || tc[k + 1].end < 0 ||
                 (t->vafter < NREGS && (tc[k + 1].vsrc >> t->vafter) & 1))
            t->end = (int32_t)k;
        else
            t->end = tc[k + 1].end;
    }
out:
    release(&bs);
    return result;
}

/* ---- the interpreter ---- */

static PyObject *fast_run(PyObject *self, PyObject *args)
{
    PyObject *o_code, *o_x, *o_v, *o_s0, *o_s1, *o_dmem, *o_vmem, *o_llm, *o_dram, *o_core, *o_dma,
        *o_err, *o_params, *o_misc, *o_csrs, *o_consts, *o_timing = Py_None;
    long long limit;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOOOL|O", &o_code, &o_x, &o_v, &o_s0, &o_s1, &o_dmem, &o_vmem,
                          &o_llm, &o_dram, &o_core, &o_dma, &o_err, &o_params, &o_misc, &o_csrs, &o_consts,
                          &limit, &o_timing))
        return NULL;
    if (o_timing != Py_None && !PyCallable_Check(o_timing)) {
        PyErr_SetString(PyExc_TypeError, "_fastiss.run: timing must be callable or None");
        return NULL;
    }
    bufset_t bs = { .n = 0 };
    PyObject *result = NULL;
    const char *tbase = getbuf_flags(&bs, o_code, "code", (Py_ssize_t)sizeof(theader_t), -1, 0);
    if (!tbase) goto out;
    const theader_t *hd = (const theader_t *)tbase;
    if (hd->magic != MAGIC || (Py_ssize_t)(sizeof(theader_t) + (hd->ncode + 1) * sizeof(tinsn_t)) != bs.b[bs.n - 1].len) {
        PyErr_SetString(PyExc_ValueError, "_fastiss.run: code is not a program from _fastiss.translate");
        goto out;
    }
    const tinsn_t *const tc = (const tinsn_t *)(tbase + sizeof(theader_t));
    const Py_ssize_t ncode = (Py_ssize_t)hd->ncode;
    uint32_t *x = getbuf(&bs, o_x, "x", 0, NREGS * 4);
    if (!x) goto out;
    int16_t (*v)[LANES] = getbuf(&bs, o_v, "v", 0, NREGS * LANES * 2);
    if (!v) goto out;
    uint16_t *s0 = getbuf(&bs, o_s0, "s0", 0, LANES * 2);
    if (!s0) goto out;
    uint16_t *s1 = getbuf(&bs, o_s1, "s1", 0, LANES * 2);
    if (!s1) goto out;
    uint8_t *dmem = getbuf(&bs, o_dmem, "dmem", 0, -1);
    if (!dmem) goto out;
    uint64_t dmem_size = (uint64_t)bs.b[bs.n - 1].len;
    uint8_t *vmem = getbuf(&bs, o_vmem, "vmem", 0, -1);
    if (!vmem) goto out;
    uint64_t vmem_size = (uint64_t)bs.b[bs.n - 1].len;
    uint8_t *llm = getbuf(&bs, o_llm, "llm", LANES, -1);
    if (!llm) goto out;
    int64_t llm_size = (int64_t)(bs.b[bs.n - 1].len / LANES);
    uint8_t *dram = getbuf(&bs, o_dram, "dram", 0, -1);
    if (!dram) goto out;
    uint64_t dram_size = (uint64_t)bs.b[bs.n - 1].len;
    uint64_t *core = getbuf(&bs, o_core, "core", 0, N_CORE * 8);
    if (!core) goto out;
    uint64_t *dmast = getbuf(&bs, o_dma, "dma", 0, 2 * N_DMA * 8);
    if (!dmast) goto out;
    const uint64_t *err = getbuf_flags(&bs, o_err, "dram_error_regions", 0, -1, 0);
    if (!err) goto out;
    Py_ssize_t nerr = bs.b[bs.n - 1].len / 16;
    const int64_t *params = getbuf_flags(&bs, o_params, "params", 0, N_PARAMS * 8, 0);
    if (!params) goto out;
    const int64_t *misc = getbuf_flags(&bs, o_misc, "misc", 0, N_MISC * 8, 0);
    if (!misc) goto out;
    const int64_t *csrnums = getbuf_flags(&bs, o_csrs, "csrs", 0, N_CSRS * 8, 0);
    if (!csrnums) goto out;
    const int64_t *consts = getbuf_flags(&bs, o_consts, "consts", 0, N_CONSTS * 8, 0);
    if (!consts) goto out;
    if (memcmp(hd->params, params, sizeof hd->params) != 0) {
        PyErr_SetString(PyExc_ValueError, "_fastiss.run: code was translated for other cycle-model parameters");
        goto out;
    }
    if (misc[K_dma_beat_bytes] < 1 || misc[K_dma_max_burst] < 1 || misc[K_dma_boundary] < misc[K_dma_beat_bytes]) {
        PyErr_SetString(PyExc_ValueError, "_fastiss.run: dma_beat_bytes, dma_max_burst and dma_boundary must be >= 1");
        goto out;
    }

    dma_t dma = { .st = dmast, .vmem = vmem, .dram = dram, .vmem_size = vmem_size, .dram_size = dram_size,
                  .dram_base = (uint64_t)misc[K_dram_base],
                  .first = { (uint64_t)misc[K_dma_mm2s_first], (uint64_t)misc[K_dma_s2mm_first] },
                  .done = { (uint64_t)misc[K_dma_mm2s_done], (uint64_t)misc[K_dma_s2mm_done] },
                  .error = { (uint64_t)misc[K_dma_mm2s_error], (uint64_t)misc[K_dma_s2mm_error] },
                  .zero = (uint64_t)misc[K_dma_zero], .beat = (uint64_t)misc[K_dma_beat_bytes],
                  .max_burst = (uint64_t)misc[K_dma_max_burst], .boundary = (uint64_t)misc[K_dma_boundary],
                  .outstanding = (uint64_t)misc[K_dma_outstanding],
                  .err = err, .nerr = nerr, .k = consts,
                  .timing = o_timing == Py_None ? NULL : o_timing, .stall = (uint64_t)misc[K_dma_stall],
                  .exc_type = NULL, .exc_value = NULL, .exc_tb = NULL };
    csr_map_t csrmap = { .num = csrnums, .hartid = (uint64_t)misc[K_hartid] };
    const uint64_t p_branch = (uint64_t)params[P_taken_branch_penalty], p_lu = (uint64_t)params[P_load_use_stall];

    uint64_t pc = core[C_pc], instret = core[C_instret], cycles = core[C_cycles], mcycle = core[C_mcycle],
             minstret = core[C_minstret], inh = core[C_mcountinhibit];
    uint32_t vload = (uint32_t)core[C_vload_dest], xload = (uint32_t)core[C_xload_dest];
    const uint64_t imem_bytes = (uint64_t)ncode * 4;
    long long executed = 0;
    int cause;
    uint64_t next_event = dma_next_event(&dma);

    /* Handlers, indexed by tinsn_t.h. */
#define LBL(name) [OP_##name] = &&L_##name,
#define XLBL(name) [H_##name] = &&L_##name,
    static const void *const labels[N_HANDLERS] = { OP_LIST(LBL) XH_LIST(XLBL) };

    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        if (cycles >= next_event) {
            dma_advance(&dma, cycles);
            next_event = dma_next_event(&dma);
        }
        if (limit >= 0 && executed >= limit) { cause = S_max_instructions; break; }
        if (pc & 3) { cause = S_misaligned_fetch; break; }
        if (pc >= imem_bytes) { cause = S_fetch_fault; break; }
        const tinsn_t *const first = &tc[pc >> 2];
        if (first->op == OP_illegal) { cause = S_illegal_instruction; break; }
        if (vload < NREGS && (first->vsrc >> vload) & 1) { cause = S_raw_hazard; break; }
        /* cost of the run so far = cpre difference - the first word's static stall + its dynamic one */
        const uint64_t entry = (xload && (first->xsrc >> xload) & 1) ? p_lu : 0;
        const uint64_t base = first->cpre + first->lucost - entry;
        const tinsn_t *last = first;
        if (first->end >= 0) {
            const tinsn_t *e = &tc[first->end];
            const long long n = e - first + 1;
            if ((limit < 0 || executed + n <= limit) && cycles + (e[1].cpre - base) <= next_event)
                last = e;   /* no DMA completion and no limit inside: run it without checks */
        }
        const tinsn_t *ip = first;
        uint32_t npc;
        uint64_t extra = 0;   /* a taken branch's penalty */
#define NEXT do { if (ip == last) { npc = (uint32_t)((ip - tc + 1) * 4); goto done; } \
                  ip++; goto *labels[ip->h]; } while (0)
#define PCOF(p) ((uint32_t)(((p) - tc) * 4))
#define TRAP(c) do { cause = (c); goto trap; } while (0)
#define RD ip->rd
#define WX(val) do { uint32_t wx_ = (uint32_t)(val); if (RD) x[RD] = wx_; } while (0)
#define A x[ip->rs1]
#define B x[ip->rs2]
#define IMM ip->imm
        goto *labels[ip->h];

    /* ---- scalar ---- */
    L_lui: WX((uint32_t)IMM << 12); NEXT;
    L_auipc: WX(PCOF(ip) + ((uint32_t)IMM << 12)); NEXT;
    L_jal: {
        const uint32_t t = PCOF(ip) + (uint32_t)IMM;
        if (t & 3) TRAP(S_misaligned_fetch);
        WX(PCOF(ip) + 4);
        npc = t;
        goto done;
    }
    L_jalr: {
        const uint32_t t = (A + (uint32_t)IMM) & ~1u;
        if (t & 3) TRAP(S_misaligned_fetch);
        WX(PCOF(ip) + 4);
        npc = t;
        goto done;
    }
#define BRANCH(cond) do { \
        if (cond) { \
            const uint32_t t = PCOF(ip) + (uint32_t)IMM; \
            if (t & 3) { TRAP(S_misaligned_fetch); } \
            npc = t; \
            extra = p_branch; \
        } else { \
            npc = PCOF(ip) + 4; \
        } \
        goto done; } while (0)
    L_beq: BRANCH(A == B);
    L_bne: BRANCH(A != B);
    L_blt: BRANCH((int32_t)A < (int32_t)B);
    L_bge: BRANCH((int32_t)A >= (int32_t)B);
    L_bltu: BRANCH(A < B);
    L_bgeu: BRANCH(A >= B);
#define LOAD(size, type) { const uint32_t ad = A + (uint32_t)IMM; \
        if (ad & ((size) - 1)) TRAP(S_misaligned_load); \
        if ((uint64_t)ad + (size) > dmem_size) TRAP(S_load_fault); \
        type val; memcpy(&val, dmem + ad, size); WX((int32_t)val); NEXT; }
    L_lb: LOAD(1, int8_t)
    L_lh: LOAD(2, int16_t)
    L_lw: LOAD(4, uint32_t)
    L_lbu: LOAD(1, uint8_t)
    L_lhu: LOAD(2, uint16_t)
#define STORE(size) { const uint32_t ad = A + (uint32_t)IMM, b = B; \
        if (ad & ((size) - 1)) TRAP(S_misaligned_store); \
        if ((uint64_t)ad + (size) > dmem_size) TRAP(S_store_fault); \
        memcpy(dmem + ad, &b, size); NEXT; }
    L_sb: STORE(1)
    L_sh: STORE(2)
    L_sw: STORE(4)
    L_addi: WX(A + (uint32_t)IMM); NEXT;
    L_slti: WX((int32_t)A < IMM); NEXT;
    L_sltiu: WX(A < (uint32_t)IMM); NEXT;
    L_xori: WX(A ^ (uint32_t)IMM); NEXT;
    L_ori: WX(A | (uint32_t)IMM); NEXT;
    L_andi: WX(A & (uint32_t)IMM); NEXT;
    L_slli: WX(A << IMM); NEXT;
    L_srli: WX(A >> IMM); NEXT;
    L_srai: WX((uint32_t)((int32_t)A >> IMM)); NEXT;
    L_add: WX(A + B); NEXT;
    L_sub: WX(A - B); NEXT;
    L_sll: WX(A << (B & 31)); NEXT;
    L_slt: WX((int32_t)A < (int32_t)B); NEXT;
    L_sltu: WX(A < B); NEXT;
    L_xor: WX(A ^ B); NEXT;
    L_srl: WX(A >> (B & 31)); NEXT;
    L_sra: WX((uint32_t)((int32_t)A >> (B & 31))); NEXT;
    L_or: WX(A | B); NEXT;
    L_and: WX(A & B); NEXT;
    L_fence: L_fence_i: NEXT;
    L_ecall: TRAP(S_ecall);
    L_ebreak: TRAP(S_ebreak);
    L_illegal: TRAP(S_illegal_instruction);
    L_csrrw: L_csrrs: L_csrrc: L_csrrwi: L_csrrsi: L_csrrci: {
        /* Always run one at a time (end = -1), so cycles is this instruction's start. */
        const int op = ip->op, rs1 = ip->rs1;
        int idx = csr_index(&csrmap, IMM), ch = 0, reg = dma_csr(idx, &ch);
        /* The DMA sees the access in the cycle the instruction executes: after its load-use
         * stall, as sim/reference.py's _csr. */
        const uint64_t t_csr = cycles + entry;
        if (reg >= 0 && t_csr >= next_event) {
            dma_advance(&dma, t_csr);
            next_event = dma_next_event(&dma);
        }
        uint32_t old = 0;
        switch (idx) {
        case R_mcountinhibit: old = (uint32_t)inh; break;
        case R_mcycle: old = (uint32_t)mcycle; break;
        case R_mcycleh: old = (uint32_t)(mcycle >> 32); break;
        case R_minstret: old = (uint32_t)minstret; break;
        case R_minstreth: old = (uint32_t)(minstret >> 32); break;
        case R_mhartid: old = (uint32_t)csrmap.hartid; break;
        default: if (reg >= 0) old = dma_read(&dma, ch, reg, t_csr); break;
        }
        const int imm_form = op == OP_csrrwi || op == OP_csrrsi || op == OP_csrrci;
        const uint32_t operand = imm_form ? (uint32_t)rs1 : A;
        const int kind = (op == OP_csrrw || op == OP_csrrwi) ? 0 : (op == OP_csrrs || op == OP_csrrsi) ? 1 : 2;
        if (kind == 0 || rs1 != 0) {
            const uint32_t nv = kind == 0 ? operand : kind == 1 ? (old | operand) : (old & ~operand);
            if (idx == R_mcountinhibit) {
                inh = nv & 5u;
            } else if (reg >= 0) {
                dma_write(&dma, ch, reg, nv, t_csr);
                next_event = dma_next_event(&dma);
            }
        }
        WX(old);
        NEXT;
    }
    L_mul: WX(A * B); NEXT;
    L_mulh: WX((uint32_t)(((int64_t)(int32_t)A * (int64_t)(int32_t)B) >> 32)); NEXT;
    L_mulhsu: WX((uint32_t)(((int64_t)(int32_t)A * (int64_t)(uint64_t)B) >> 32)); NEXT;
    L_mulhu: WX((uint32_t)(((uint64_t)A * (uint64_t)B) >> 32)); NEXT;
    L_div: { const uint32_t a = A, b = B;
        WX(b == 0 ? 0xFFFFFFFFu : (a == 0x80000000u && b == 0xFFFFFFFFu) ? a : (uint32_t)((int32_t)a / (int32_t)b));
        NEXT; }
    L_rem: { const uint32_t a = A, b = B;
        WX(b == 0 ? a : (a == 0x80000000u && b == 0xFFFFFFFFu) ? 0u : (uint32_t)((int32_t)a % (int32_t)b));
        NEXT; }
    L_divu: { const uint32_t a = A, b = B; WX(b == 0 ? 0xFFFFFFFFu : a / b); NEXT; }
    L_remu: { const uint32_t a = A, b = B; WX(b == 0 ? a : a % b); NEXT; }
    L_clz: { const uint32_t a = A; WX(a ? (uint32_t)__builtin_clz(a) : 32u); NEXT; }
    L_ctz: { const uint32_t a = A; WX(a ? (uint32_t)__builtin_ctz(a) : 32u); NEXT; }
    L_cpop: WX((uint32_t)__builtin_popcount(A)); NEXT;
    L_sext_b: WX((uint32_t)(int32_t)(int8_t)(uint8_t)A); NEXT;
    L_sext_h: WX((uint32_t)(int32_t)(int16_t)(uint16_t)A); NEXT;

    /* ---- vector ---- */
#define VR(name) v[ip->name]
    L_vadd: row_add(VR(rd), VR(rs1), VR(rs2), 0); NEXT;
    L_vadd_s: row_add(VR(rd), VR(rs1), VR(rs2), 1); NEXT;
    L_vsub: row_sub(VR(rd), VR(rs1), VR(rs2), 0); NEXT;
    L_vsub_s: row_sub(VR(rd), VR(rs1), VR(rs2), 1); NEXT;
    L_vand: row_and(VR(rd), VR(rs1), VR(rs2)); NEXT;
    L_vsll: row_sll(VR(rd), VR(rs1), VR(rs2), 0); NEXT;
    L_vsll_s: row_sll(VR(rd), VR(rs1), VR(rs2), 1); NEXT;
    L_vsra: row_sra(VR(rd), VR(rs1), VR(rs2)); NEXT;
    L_vmul: row_mul(VR(rd), VR(rs1), VR(rs2), IMM, ip->aux, 0, 0, s0, s1); NEXT;
    L_vmul_s: row_mul(VR(rd), VR(rs1), VR(rs2), IMM, ip->aux, 0, 1, s0, s1); NEXT;
    L_vmul_x: row_mul(VR(rd), VR(rs1), VR(rs2), IMM, 0, 1, 0, s0, s1); NEXT;
    L_vmul_sx: row_mul(VR(rd), VR(rs1), VR(rs2), IMM, 0, 1, 1, s0, s1); NEXT;
    L_vslli: row_slli(VR(rd), VR(rs1), IMM); NEXT;
    L_vsrai: row_srai(VR(rd), VR(rs1), IMM, ip->aux, 0, s0, s1); NEXT;
    L_vsrai_x: row_srai(VR(rd), VR(rs1), IMM, 0, 1, s0, s1); NEXT;
    L_vteq: WX(row_test(VR(rs1), VR(rs2), 1)); NEXT;
    L_vtne: WX(~row_test(VR(rs1), VR(rs2), 1)); NEXT;
    L_vtlt: WX(row_test(VR(rs1), VR(rs2), 0)); NEXT;
    L_vtge: WX(~row_test(VR(rs1), VR(rs2), 0)); NEXT;
    L_vsel: row_sel(VR(rd), VR(rs2), A); NEXT;
    L_vlui: row_fill(VR(rd), (int16_t)(uint16_t)IMM); NEXT;
    L_vfill: { const uint32_t a = A; row_fill(VR(rd), (int16_t)(uint16_t)(((a >> 16) & 0x8000u) | (a & 0x7FFFu))); NEXT; }
    L_vextract: WX((uint32_t)(int32_t)v[ip->rs1][IMM]); NEXT;
    L_vrng: row_rng(VR(rd), s0, s1); NEXT;
    L_vandadd: row_andadd(VR(rd), VR(rs1), (uint16_t)((1u << IMM) - 1), (uint16_t)B); NEXT;
#define ROW(store) const uint32_t ad = A + (uint32_t)IMM; \
        if (ad & (ROW_BYTES - 1)) TRAP(store ? S_misaligned_store : S_misaligned_load); \
        if ((uint64_t)ad + ROW_BYTES > vmem_size) TRAP(store ? S_store_fault : S_load_fault);
    L_vloadv: { ROW(0) memcpy(v[RD], vmem + ad, ROW_BYTES); NEXT; }
    L_vloadr0: { ROW(0) memcpy(s0, vmem + ad, ROW_BYTES); NEXT; }
    L_vloadr1: { ROW(0) memcpy(s1, vmem + ad, ROW_BYTES); NEXT; }
    L_vstorev: { ROW(1) memcpy(vmem + ad, v[ip->rs2], ROW_BYTES); NEXT; }
#define LLM_LANES(store) int64_t ads[LANES]; const int16_t *abase = v[ip->rs1]; \
        for (int i = 0; i < LANES; i++) { \
            if (abase[i] < 0) { ads[i] = -1; continue; } \
            const int64_t ad = (int64_t)abase[i] + IMM; \
            if (ad & 1) TRAP(store ? S_misaligned_store : S_misaligned_load); \
            if (ad < 0 || ad + 2 > llm_size) TRAP(store ? S_store_fault : S_load_fault); \
            ads[i] = ad; }
    L_vloadl: { LLM_LANES(0)
        int16_t *r = v[RD];
        for (int i = 0; i < LANES; i++)
            if (ads[i] >= 0) { uint16_t h; memcpy(&h, llm + i * llm_size + ads[i], 2); r[i] = (int16_t)h; }
        NEXT; }
    L_vstorel: { LLM_LANES(1)
        const int16_t *q = v[ip->rs2];
        for (int i = 0; i < LANES; i++)
            if (ads[i] >= 0) memcpy(llm + i * llm_size + ads[i], &q[i], 2);
        NEXT; }

    done: {
        /* first..ip retired: ip is the run's last word (or a branch or jump, which ends one) */
        const long long n = ip - first + 1;
        const uint64_t cost = ip[1].cpre - base + extra;
        executed += n;
        instret += (uint64_t)n;
        cycles += cost;
        if (!(inh & 1)) mcycle += cost;   /* mcountinhibit as it stands after the instruction */
        if (!(inh & 4)) minstret += (uint64_t)n;
        pc = npc;
        vload = ip->vafter;
        xload = ip->xafter;
        continue;
    }
    trap: {
        /* first..ip-1 retired; ip leaves all state as before it */
        const long long n = ip - first;
        if (n) {
            const uint64_t cost = ip->cpre - base;
            executed += n;
            instret += (uint64_t)n;
            cycles += cost;
            if (!(inh & 1)) mcycle += cost;
            if (!(inh & 4)) minstret += (uint64_t)n;
            vload = ip[-1].vafter;
            xload = ip[-1].xafter;
        }
        pc = PCOF(ip);
        break;
    }
    }
    Py_END_ALLOW_THREADS

    core[C_pc] = pc;
    core[C_instret] = instret;
    core[C_cycles] = cycles;
    core[C_mcycle] = mcycle;
    core[C_minstret] = minstret;
    core[C_mcountinhibit] = inh;
    core[C_vload_dest] = vload;
    core[C_xload_dest] = xload;
    if (dma.exc_type) {
        PyErr_Restore(dma.exc_type, dma.exc_value, dma.exc_tb);
        goto out;
    }
    result = Py_BuildValue("(iK)", cause, (unsigned long long)pc);
out:
    release(&bs);
    return result;
}


static PyObject *names_tuple(const char *const *names, int n)
{
    PyObject *t = PyTuple_New(n);
    if (!t)
        return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        if (!s) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

static PyMethodDef methods[] = {
    {"translate", fast_translate, METH_VARARGS,
     "translate(table, params, consts) -> bytes: the predecoded table (rows of COLUMNS, int32) as threaded "
     "code for the cycle-model parameters params (CYCLE_PARAMS order, int64)"},
    {"run", fast_run, METH_VARARGS,
     "run(code, x, v, s0, s1, dmem, vmem, llm, dram, core, dma, dram_error_regions, params, misc, csrs, "
     "consts, limit[, timing]) -> (cause index, pc); code from translate; timing(ch, now): the DMA's "
     "cycle rules for a start under back-pressure or with a bus error (sim/dma.py DmaChannels.timed_start)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastiss", "Fast FeNN-DMA ISS engine (see fenn_dma.sim.fast).", -1, methods,
};

PyMODINIT_FUNC PyInit__fastiss(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    struct { const char *attr; const char *const *names; int n; } lists[] = {
        {"OPS", op_names, N_OPS}, {"CORE_FIELDS", core_names, N_CORE}, {"DMA_FIELDS", dma_names, N_DMA},
        {"STOP_CAUSES", cause_names, N_CAUSES}, {"CYCLE_PARAMS", param_names, N_PARAMS},
        {"MISC", misc_names, N_MISC}, {"CSRS", csr_names, N_CSRS}, {"CONSTS", const_names, N_CONSTS},
        {"COLUMNS", column_names, 8},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        PyObject *t = names_tuple(lists[i].names, lists[i].n);
        if (!t || PyModule_AddObject(m, lists[i].attr, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
