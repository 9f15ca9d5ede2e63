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
    X(dram_base) X(hartid)
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

static inline int16_t sat16(int64_t v)
{
    return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

static inline int16_t wrap16(int64_t v)
{
    return (int16_t)(uint16_t)(uint64_t)v;
}

static inline uint16_t rol16(uint16_t x, int k)
{
    return (uint16_t)((x << k) | (x >> (16 - k)));
}

static void rng_advance(uint16_t *s0, uint16_t *s1, uint16_t *out)
{
    for (int i = 0; i < LANES; i++) {
        uint16_t a = s0[i], b = s1[i];
        out[i] = (uint16_t)(rol16((uint16_t)(a + b), 9) + a);
        b ^= a;
        a = (uint16_t)(rol16(a, 13) ^ b ^ (uint16_t)(b << 5));
        b = rol16(b, 10);
        s0[i] = a;
        s1[i] = b;
    }
}

/* Per-lane rounding addends r of VMUL / VSRAI (docs/isa.md); k: the constants (CONST_LIST order). */
static void rounding(int rnd, int shift, const int64_t *k, uint16_t *s0, uint16_t *s1, int32_t *r)
{
    if (rnd == k[Q_ROUND_STOCHASTIC]) {
        uint16_t out[LANES];
        rng_advance(s0, s1, out);   /* once per instruction, also when shift = 0 */
        uint32_t m = (1u << shift) - 1;
        for (int i = 0; i < LANES; i++)
            r[i] = (int32_t)(out[i] & m);
    } else {
        int32_t c = (rnd == k[Q_ROUND_NEAREST] && shift > 0) ? (1 << (shift - 1)) : 0;
        for (int i = 0; i < LANES; i++)
            r[i] = c;
    }
}

/* ---- buffers ---- */

typedef struct {
    Py_buffer b[16];
    int n;
} bufset_t;

static void *getbuf(bufset_t *bs, PyObject *obj, const char *name, Py_ssize_t min_len, Py_ssize_t exact_len)
{
    Py_buffer *b = &bs->b[bs->n];
    if (PyObject_GetBuffer(obj, b, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Format(PyExc_TypeError, "_fastiss.run: %s must be a writable C-contiguous buffer", name);
        return NULL;
    }
    bs->n++;
    if ((exact_len >= 0 && b->len != exact_len) || b->len < min_len) {
        PyErr_Format(PyExc_ValueError, "_fastiss.run: %s has %zd bytes, expected %zd", name, b->len,
                     exact_len >= 0 ? exact_len : min_len);
        return NULL;
    }
    return b->buf;
}

static void release(bufset_t *bs)
{
    for (int i = 0; i < bs->n; i++)
        PyBuffer_Release(&bs->b[i]);
}

/* ---- the interpreter ---- */

static PyObject *fast_run(PyObject *self, PyObject *args)
{
    PyObject *o_code, *o_x, *o_v, *o_s0, *o_s1, *o_dmem, *o_vmem, *o_llm, *o_dram, *o_core, *o_dma,
        *o_err, *o_params, *o_misc, *o_csrs, *o_consts;
    long long limit;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOOOL", &o_code, &o_x, &o_v, &o_s0, &o_s1, &o_dmem, &o_vmem,
                          &o_llm, &o_dram, &o_core, &o_dma, &o_err, &o_params, &o_misc, &o_csrs, &o_consts,
                          &limit))
        return NULL;
    bufset_t bs = { .n = 0 };
    PyObject *result = NULL;
    const insn_t *code = getbuf(&bs, o_code, "code", 0, -1);
    if (!code) goto out;
    Py_ssize_t ncode = bs.b[bs.n - 1].len / (Py_ssize_t)sizeof(insn_t);
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
    const uint64_t *err = getbuf(&bs, o_err, "dram_error_regions", 0, -1);
    if (!err) goto out;
    Py_ssize_t nerr = bs.b[bs.n - 1].len / 16;
    const int64_t *params = getbuf(&bs, o_params, "params", 0, N_PARAMS * 8);
    if (!params) goto out;
    const int64_t *misc = getbuf(&bs, o_misc, "misc", 0, N_MISC * 8);
    if (!misc) goto out;
    const int64_t *csrnums = getbuf(&bs, o_csrs, "csrs", 0, N_CSRS * 8);
    if (!csrnums) goto out;
    const int64_t *consts = getbuf(&bs, o_consts, "consts", 0, N_CONSTS * 8);
    if (!consts) goto out;
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
                  .err = err, .nerr = nerr, .k = consts };
    csr_map_t csrmap = { .num = csrnums, .hartid = (uint64_t)misc[K_hartid] };
    const uint64_t p_branch = (uint64_t)params[P_taken_branch_penalty], p_jump = (uint64_t)params[P_jump_penalty],
                   p_lu = (uint64_t)params[P_load_use_stall], p_mul = (uint64_t)params[P_mul_extra],
                   p_div = (uint64_t)params[P_div_extra];

    uint64_t pc = core[C_pc], instret = core[C_instret], cycles = core[C_cycles], mcycle = core[C_mcycle],
             minstret = core[C_minstret], inh = core[C_mcountinhibit];
    uint32_t vload = (uint32_t)core[C_vload_dest], xload = (uint32_t)core[C_xload_dest];
    const uint64_t imem_bytes = (uint64_t)ncode * 4;
    long long executed = 0;
    int cause;
    uint64_t next_event = dma_next_event(&dma);

    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        if (cycles >= next_event) {
            dma_advance(&dma, cycles);
            next_event = dma_next_event(&dma);
        }
        if (limit >= 0 && executed >= limit) { cause = S_max_instructions; break; }
        if (pc & 3) { cause = S_misaligned_fetch; break; }
        if (pc >= imem_bytes) { cause = S_fetch_fault; break; }
        const insn_t *in = &code[pc >> 2];
        const int op = in->op;
        if (op == OP_illegal) { cause = S_illegal_instruction; break; }
        if (vload < NREGS && (in->vsrc >> vload) & 1) { cause = S_raw_hazard; break; }
        const int rd = in->rd, rs1 = in->rs1, rs2 = in->rs2;
        const int32_t imm = in->imm;
        uint64_t cost = 1;
        if (xload && (in->xsrc >> xload) & 1)
            cost += p_lu;
        uint32_t npc = (uint32_t)pc + 4;
        uint32_t new_vload = NREGS, new_xload = 0;
        const uint32_t a = x[rs1], b = x[rs2];
#define WX(val) do { if (rd) x[rd] = (uint32_t)(val); } while (0)
#define TRAP(c) do { cause = (c); goto stop; } while (0)
#define BRANCH(cond) do { if (cond) { uint32_t t = (uint32_t)pc + (uint32_t)imm; \
            if (t & 3) { TRAP(S_misaligned_fetch); } \
            npc = t; cost += p_branch; } } while (0)
        switch (op) {
        case OP_lui: WX((uint32_t)imm << 12); break;
        case OP_auipc: WX((uint32_t)pc + ((uint32_t)imm << 12)); break;
        case OP_jal: {
            uint32_t t = (uint32_t)pc + (uint32_t)imm;
            if (t & 3)
                TRAP(S_misaligned_fetch);
            WX((uint32_t)pc + 4);
            npc = t;
            cost += p_jump;
            break;
        }
        case OP_jalr: {
            uint32_t t = (a + (uint32_t)imm) & ~1u;
            if (t & 3)
                TRAP(S_misaligned_fetch);
            WX((uint32_t)pc + 4);
            npc = t;
            cost += p_jump;
            break;
        }
        case OP_beq: BRANCH(a == b); break;
        case OP_bne: BRANCH(a != b); break;
        case OP_blt: BRANCH((int32_t)a < (int32_t)b); break;
        case OP_bge: BRANCH((int32_t)a >= (int32_t)b); break;
        case OP_bltu: BRANCH(a < b); break;
        case OP_bgeu: BRANCH(a >= b); break;
#define LOAD(size, type) { uint32_t ad = a + (uint32_t)imm; \
            if (ad & ((size) - 1)) TRAP(S_misaligned_load); \
            if ((uint64_t)ad + (size) > dmem_size) TRAP(S_load_fault); \
            type val; memcpy(&val, dmem + ad, size); WX((int64_t)val); new_xload = (uint32_t)rd; break; }
        case OP_lb: LOAD(1, int8_t)
        case OP_lh: LOAD(2, int16_t)
        case OP_lw: LOAD(4, uint32_t)
        case OP_lbu: LOAD(1, uint8_t)
        case OP_lhu: LOAD(2, uint16_t)
#define STORE(size) { uint32_t ad = a + (uint32_t)imm; \
            if (ad & ((size) - 1)) TRAP(S_misaligned_store); \
            if ((uint64_t)ad + (size) > dmem_size) TRAP(S_store_fault); \
            memcpy(dmem + ad, &b, size); break; }
        case OP_sb: STORE(1)
        case OP_sh: STORE(2)
        case OP_sw: STORE(4)
        case OP_addi: WX(a + (uint32_t)imm); break;
        case OP_slti: WX((int32_t)a < imm); break;
        case OP_sltiu: WX(a < (uint32_t)imm); break;
        case OP_xori: WX(a ^ (uint32_t)imm); break;
        case OP_ori: WX(a | (uint32_t)imm); break;
        case OP_andi: WX(a & (uint32_t)imm); break;
        case OP_slli: WX(a << imm); break;
        case OP_srli: WX(a >> imm); break;
        case OP_srai: WX((uint32_t)((int32_t)a >> imm)); break;
        case OP_add: WX(a + b); break;
        case OP_sub: WX(a - b); break;
        case OP_sll: WX(a << (b & 31)); break;
        case OP_slt: WX((int32_t)a < (int32_t)b); break;
        case OP_sltu: WX(a < b); break;
        case OP_xor: WX(a ^ b); break;
        case OP_srl: WX(a >> (b & 31)); break;
        case OP_sra: WX((uint32_t)((int32_t)a >> (b & 31))); break;
        case OP_or: WX(a | b); break;
        case OP_and: WX(a & b); break;
        case OP_fence: case OP_fence_i: break;
        case OP_ecall: TRAP(S_ecall);
        case OP_ebreak: TRAP(S_ebreak);
        case OP_csrrw: case OP_csrrs: case OP_csrrc: case OP_csrrwi: case OP_csrrsi: case OP_csrrci: {
            int idx = csr_index(&csrmap, imm), ch = 0, reg = dma_csr(idx, &ch);
            /* The DMA sees the access in the cycle the instruction executes: after its load-use
             * stall (cost is 1 + that stall here), as sim/reference.py's _csr. */
            const uint64_t t_csr = cycles + cost - 1;
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
            const uint32_t operand = imm_form ? (uint32_t)rs1 : a;
            const int kind = (op == OP_csrrw || op == OP_csrrwi) ? 0 : (op == OP_csrrs || op == OP_csrrsi) ? 1 : 2;
            if (kind == 0 || rs1 != 0) {
                uint32_t nv = kind == 0 ? operand : kind == 1 ? (old | operand) : (old & ~operand);
                if (idx == R_mcountinhibit) {
                    inh = nv & 5u;
                } else if (reg >= 0) {
                    dma_write(&dma, ch, reg, nv, t_csr);
                    next_event = dma_next_event(&dma);
                }
            }
            WX(old);
            break;
        }
        case OP_mul: WX(a * b); cost += p_mul; break;
        case OP_mulh: WX((uint32_t)(((int64_t)(int32_t)a * (int64_t)(int32_t)b) >> 32)); cost += p_mul; break;
        case OP_mulhsu: WX((uint32_t)(((int64_t)(int32_t)a * (int64_t)(uint64_t)b) >> 32)); cost += p_mul; break;
        case OP_mulhu: WX((uint32_t)(((uint64_t)a * (uint64_t)b) >> 32)); cost += p_mul; break;
        case OP_div:
            WX(b == 0 ? 0xFFFFFFFFu : (a == 0x80000000u && b == 0xFFFFFFFFu) ? a
               : (uint32_t)((int32_t)a / (int32_t)b));
            cost += p_div; break;
        case OP_rem:
            WX(b == 0 ? a : (a == 0x80000000u && b == 0xFFFFFFFFu) ? 0u : (uint32_t)((int32_t)a % (int32_t)b));
            cost += p_div; break;
        case OP_divu: WX(b == 0 ? 0xFFFFFFFFu : a / b); cost += p_div; break;
        case OP_remu: WX(b == 0 ? a : a % b); cost += p_div; break;
        case OP_clz: WX(a ? (uint32_t)__builtin_clz(a) : 32u); break;
        case OP_ctz: WX(a ? (uint32_t)__builtin_ctz(a) : 32u); break;
        case OP_cpop: WX((uint32_t)__builtin_popcount(a)); break;
        case OP_sext_b: WX((uint32_t)(int32_t)(int8_t)(uint8_t)a); break;
        case OP_sext_h: WX((uint32_t)(int32_t)(int16_t)(uint16_t)a); break;

        /* ---- vector ---- */
#define VLOOP(expr) { const int16_t *p = v[rs1], *q = v[rs2]; int16_t *r = v[rd]; int16_t tmp[LANES]; \
            if (in->flags & 1) { for (int i = 0; i < LANES; i++) { int64_t e = (expr); tmp[i] = sat16(e); } } \
            else { for (int i = 0; i < LANES; i++) { int64_t e = (expr); tmp[i] = wrap16(e); } } \
            memcpy(r, tmp, sizeof tmp); break; }
        case OP_vadd: VLOOP((int32_t)p[i] + q[i])
        case OP_vsub: VLOOP((int32_t)p[i] - q[i])
        case OP_vand: VLOOP(p[i] & q[i])
        case OP_vsll: VLOOP((int64_t)p[i] * ((int64_t)1 << (q[i] & 31)))
        case OP_vsra: VLOOP((int32_t)p[i] >> (q[i] & 31))
        case OP_vmul: {
            int32_t rr[LANES];
            rounding((in->flags >> 1) & 3, imm, consts, s0, s1, rr);
            VLOOP(((int32_t)p[i] * q[i] + rr[i]) >> imm)
        }
        case OP_vslli: {
            int16_t *r = v[rd]; const int16_t *p = v[rs1];
            for (int i = 0; i < LANES; i++) r[i] = wrap16((int32_t)p[i] << imm);
            break;
        }
        case OP_vsrai: {
            int32_t rr[LANES];
            rounding((in->flags >> 1) & 3, imm, consts, s0, s1, rr);
            int16_t *r = v[rd]; const int16_t *p = v[rs1];
            for (int i = 0; i < LANES; i++) r[i] = wrap16(((int32_t)p[i] + rr[i]) >> imm);
            break;
        }
#define VTST(cmp) { uint32_t mask = 0; const int16_t *p = v[rs1], *q = v[rs2]; \
            for (int i = 0; i < LANES; i++) { mask |= (uint32_t)(p[i] cmp q[i]) << i; } \
            WX(mask); break; }
        case OP_vteq: VTST(==)
        case OP_vtne: VTST(!=)
        case OP_vtlt: VTST(<)
        case OP_vtge: VTST(>=)
        case OP_vsel: {
            int16_t *r = v[rd]; const int16_t *q = v[rs2];
            for (int i = 0; i < LANES; i++) if ((a >> i) & 1) r[i] = q[i];
            break;
        }
        case OP_vlui: { int16_t val = (int16_t)(uint16_t)imm; int16_t *r = v[rd];
            for (int i = 0; i < LANES; i++) r[i] = val;
            break; }
        case OP_vfill: { int16_t val = (int16_t)(uint16_t)(((a >> 16) & 0x8000u) | (a & 0x7FFFu)); int16_t *r = v[rd];
            for (int i = 0; i < LANES; i++) r[i] = val;
            break; }
        case OP_vextract: WX((uint32_t)(int32_t)v[rs1][imm]); break;
        case OP_vrng: { uint16_t out[LANES]; rng_advance(s0, s1, out); int16_t *r = v[rd];
            for (int i = 0; i < LANES; i++) r[i] = (int16_t)(out[i] >> 1);
            break; }
        case OP_vandadd: { int16_t *r = v[rd]; const int16_t *p = v[rs1];
            const uint32_t m = (1u << imm) - 1, add = b & 0xFFFFu;
            for (int i = 0; i < LANES; i++) r[i] = wrap16((int64_t)(((uint32_t)(uint16_t)p[i] & m) + add));
            break; }
#define ROW(store) uint32_t ad = a + (uint32_t)imm; \
            if (ad & (ROW_BYTES - 1)) TRAP(store ? S_misaligned_store : S_misaligned_load); \
            if ((uint64_t)ad + ROW_BYTES > vmem_size) TRAP(store ? S_store_fault : S_load_fault);
        case OP_vloadv: { ROW(0) memcpy(v[rd], vmem + ad, ROW_BYTES); new_vload = (uint32_t)rd; break; }
        case OP_vloadr0: { ROW(0) memcpy(s0, vmem + ad, ROW_BYTES); break; }
        case OP_vloadr1: { ROW(0) memcpy(s1, vmem + ad, ROW_BYTES); break; }
        case OP_vstorev: { ROW(1) memcpy(vmem + ad, v[rs2], ROW_BYTES); break; }
#define LLM_LANES(store) int64_t ads[LANES]; const int16_t *base = v[rs1]; \
            for (int i = 0; i < LANES; i++) { \
                if (base[i] < 0) { ads[i] = -1; continue; } \
                int64_t ad = (int64_t)base[i] + imm; \
                if (ad & 1) TRAP(store ? S_misaligned_store : S_misaligned_load); \
                if (ad < 0 || ad + 2 > llm_size) TRAP(store ? S_store_fault : S_load_fault); \
                ads[i] = ad; }
        case OP_vloadl: { LLM_LANES(0)
            int16_t *r = v[rd];
            for (int i = 0; i < LANES; i++)
                if (ads[i] >= 0) { uint16_t h; memcpy(&h, llm + i * llm_size + ads[i], 2); r[i] = (int16_t)h; }
            new_vload = (uint32_t)rd;
            break; }
        case OP_vstorel: { LLM_LANES(1)
            const int16_t *q = v[rs2];
            for (int i = 0; i < LANES; i++)
                if (ads[i] >= 0) memcpy(llm + i * llm_size + ads[i], &q[i], 2);
            break; }
        default:
            cause = S_illegal_instruction;
            goto stop;
        }
        cycles += cost;
        instret++;
        if (!(inh & 1)) mcycle += cost;
        if (!(inh & 4)) minstret++;
        pc = npc;
        vload = new_vload;
        xload = new_xload;
        executed++;
    }
stop:
    Py_END_ALLOW_THREADS

    core[C_pc] = pc;
    core[C_instret] = instret;
    core[C_cycles] = cycles;
    core[C_mcycle] = mcycle;
    core[C_minstret] = minstret;
    core[C_mcountinhibit] = inh;
    core[C_vload_dest] = vload;
    core[C_xload_dest] = xload;
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
    {"run", fast_run, METH_VARARGS,
     "run(code, x, v, s0, s1, dmem, vmem, llm, dram, core, dma, dram_error_regions, params, misc, csrs, "
     "consts, limit) -> (cause index, pc)"},
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
