// Native run loop for the Verilated SoC (verify/rtl_native.py builds and loads it).
//
// The C++ side owns the clock and is the host: a handshake-correct AXI4-Lite
// master on the top's host__* ports (one transaction at a time, like
// cocotbext-axi's AxiLiteMaster in verify/rtl_harness_tb.py). A job is run
// whole in C++: CONTROL.clear, the memory images and x registers over the host
// port, ENTRY, CONTROL.start, clock until `stopped` or the cycle limit (then
// CONTROL.halt), and the final state read back through the host windows.
// Python is called back never; it calls fenn_native_job once per job.
//
// The C ABI (extern "C" below) is loaded with ctypes. Everything the model
// needs from outside comes through the ports: the only public signals are the
// vector register file rows and the lanes' RNG state (verify/native/public.vlt,
// vector SoC only), which the host map has no window for.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "Vfenn_soc.h"
#include "verilated.h"
#ifdef FENN_NATIVE_VECTOR
#include "Vfenn_soc___024root.h"
#endif
#ifdef FENN_NATIVE_TRACE
#include "verilated_vcd_c.h"
#endif

namespace {

// The control registers of rtl/hostmap.py (the window bases come from Python).
constexpr uint32_t CONTROL = 0x00, STATUS = 0x04, STOP_PC = 0x08, ENTRY = 0x0C, CYCLES = 0x10,
                   INSTRET = 0x18, MCYCLE = 0x20, MINSTRET = 0x28, IMEM_SIZE = 0x30, DMEM_SIZE = 0x34,
                   MAGIC = 0x38, FEATURES = 0x3C, VMEM_SIZE = 0x40, LLM_SIZE = 0x44, XREG_BASE = 0x80;
constexpr uint32_t CONTROL_START = 0, CONTROL_HALT = 1, CONTROL_CLEAR = 2;
constexpr uint32_t STATUS_CLEARING = 2;
constexpr uint32_t MAGIC_VALUE = 0xFE110D3A;

// Extra cycles before the halt write that ends a run at its cycle limit, so that a halted run
// stops on the same cycle as with the cocotb harness (its ClockCycles(max_cycles) starts one
// edge later than this loop; measured, and checked by tests/rtl/test_rtl_native.py).
constexpr uint64_t HALT_LAG = 1;

struct Harness {
    std::unique_ptr<VerilatedContext> context;
    std::unique_ptr<Vfenn_soc> top;
#ifdef FENN_NATIVE_TRACE
    std::unique_ptr<VerilatedVcdC> trace;
#endif
    uint64_t time = 0;        // trace time: 5 units a half cycle, a clock period is 10
    uint64_t cycles = 0;      // rising edges since the model was built
    uint32_t imem_base, dmem_base, vmem_base, llm_base;
    uint32_t imem_size = 0, dmem_size = 0, vmem_size = 0, llm_size = 0, features = 0;
    std::string error;

    void dump() {
#ifdef FENN_NATIVE_TRACE
        if (trace) trace->dump(time);
#endif
    }
    // Low phase: inputs set since the last edge settle, combinational outputs can be sampled.
    void low() {
        top->clk = 0;
        top->eval();
        dump();
        time += 5;
    }
    void high() {
        top->clk = 1;
        top->eval();
        dump();
        time += 5;
        ++cycles;
    }
    void cycle() { low(); high(); }

    void write(uint32_t addr, uint32_t data, uint32_t strb = 0xF) {
        top->host___05Fawaddr = addr;
        top->host___05Fawprot = 0;
        top->host___05Fawvalid = 1;
        top->host___05Fwdata = data;
        top->host___05Fwstrb = strb;
        top->host___05Fwvalid = 1;
        top->host___05Fbready = 1;
        bool aw_done = false, w_done = false, b_done = false;
        while (!b_done) {
            low();
            bool aw = top->host___05Fawvalid && top->host___05Fawready;
            bool w = top->host___05Fwvalid && top->host___05Fwready;
            bool b = aw_done && w_done && top->host___05Fbvalid;
            high();
            if (aw) { aw_done = true; top->host___05Fawvalid = 0; }
            if (w) { w_done = true; top->host___05Fwvalid = 0; }
            b_done = b;
        }
        top->host___05Fbready = 0;
    }

    uint32_t read(uint32_t addr) {
        top->host___05Faraddr = addr;
        top->host___05Farprot = 0;
        top->host___05Farvalid = 1;
        top->host___05Frready = 1;
        bool ar_done = false;
        for (;;) {
            low();
            bool ar = top->host___05Farvalid && top->host___05Farready;
            bool r = ar_done && top->host___05Frvalid;
            uint32_t data = top->host___05Frdata;
            high();
            if (ar) { ar_done = true; top->host___05Farvalid = 0; }
            if (r) { top->host___05Frready = 0; return data; }
        }
    }

    uint64_t read64(uint32_t addr) { return read(addr) | (uint64_t)read(addr + 4) << 32; }

    // A byte image from `base`, whole words (the tail padded with zeros). skip_zero: leave out zero
    // words, for IMEM and DMEM, which CONTROL.clear has just zeroed (it fills VMEM and the LLMs
    // with the ISS's reset pattern instead, so their images are written whole).
    void write_image(uint32_t base, const uint8_t* data, uint32_t len, bool skip_zero) {
        for (uint32_t at = 0; at < len; at += 4) {
            uint32_t word = 0;
            for (uint32_t b = 0; b < 4 && at + b < len; ++b) word |= (uint32_t)data[at + b] << (8 * b);
            if (word || !skip_zero) write(base + at, word);
        }
    }

    void read_image(uint32_t base, uint8_t* out, uint32_t len) {
        for (uint32_t at = 0; at < len; at += 4) {
            uint32_t word = read(base + at);
            std::memcpy(out + at, &word, 4);
        }
    }
};

#ifdef FENN_NATIVE_VECTOR
// v0..v31 from the vector register file's rows (public_flat_rd in verify/native/public.vlt):
// lane i of a row is bits 16 i .. 16 i + 15 of the 512-bit word, as int16.
void read_v(Harness* h, int16_t* v_out) {
    const auto& rows = h->top->rootp->fenn_soc__DOT__vector__DOT__unit__DOT__regfile__DOT__mem;
    for (int r = 0; r < 32; ++r) {
        for (int lane = 0; lane < 32; ++lane) {
            uint32_t word = rows[r][lane / 2];
            v_out[32 * r + lane] = static_cast<int16_t>(word >> (16 * (lane % 2)) & 0xFFFF);
        }
    }
}

// Each lane's RNG state (s0, s1), the ISS's per-lane rng.s0 / rng.s1: rng_out[lane], rng_out[32 + lane].
#define FENN_LANE_RNG(n)                                                                            \
    rng_out[n] = root->fenn_soc__DOT__vector__DOT__unit__DOT__lane##n##__DOT__rng__DOT__s0;         \
    rng_out[32 + n] = root->fenn_soc__DOT__vector__DOT__unit__DOT__lane##n##__DOT__rng__DOT__s1;
void read_rng(Harness* h, uint16_t* rng_out) {
    auto* root = h->top->rootp;
    FENN_LANE_RNG(0) FENN_LANE_RNG(1) FENN_LANE_RNG(2) FENN_LANE_RNG(3) FENN_LANE_RNG(4) FENN_LANE_RNG(5)
    FENN_LANE_RNG(6) FENN_LANE_RNG(7) FENN_LANE_RNG(8) FENN_LANE_RNG(9) FENN_LANE_RNG(10) FENN_LANE_RNG(11)
    FENN_LANE_RNG(12) FENN_LANE_RNG(13) FENN_LANE_RNG(14) FENN_LANE_RNG(15) FENN_LANE_RNG(16) FENN_LANE_RNG(17)
    FENN_LANE_RNG(18) FENN_LANE_RNG(19) FENN_LANE_RNG(20) FENN_LANE_RNG(21) FENN_LANE_RNG(22) FENN_LANE_RNG(23)
    FENN_LANE_RNG(24) FENN_LANE_RNG(25) FENN_LANE_RNG(26) FENN_LANE_RNG(27) FENN_LANE_RNG(28) FENN_LANE_RNG(29)
    FENN_LANE_RNG(30) FENN_LANE_RNG(31)
}
#undef FENN_LANE_RNG
#endif

}  // namespace

#define FENN_EXPORT __attribute__((visibility("default")))

extern "C" {

// The layout of the result words (verify/rtl_native.py reads them by these indices).
enum {
    OUT_STATUS = 0, OUT_STOP_PC = 1, OUT_X = 2, OUT_INSTRET = 34, OUT_CYCLES = 35, OUT_MCYCLE = 36,
    OUT_MINSTRET = 37, OUT_HALTED = 38, OUT_SIM_CYCLES = 39, OUT_WORDS = 40
};

FENN_EXPORT int fenn_native_abi(void) { return 2; }

FENN_EXPORT int fenn_native_has_trace(void) {
#ifdef FENN_NATIVE_TRACE
    return 1;
#else
    return 0;
#endif
}

FENN_EXPORT const char* fenn_native_error(void* handle) { return static_cast<Harness*>(handle)->error.c_str(); }

// A new model out of reset; trace_path: a VCD file to write (traced build only), or null.
// sizes[0..4] <- IMEM_SIZE, DMEM_SIZE, VMEM_SIZE, LLM_SIZE, FEATURES read over the host port.
FENN_EXPORT void* fenn_native_new(const char* trace_path, uint32_t imem_base, uint32_t dmem_base, uint32_t vmem_base,
                      uint32_t llm_base, uint32_t* sizes) {
    auto* h = new Harness;
    h->imem_base = imem_base;
    h->dmem_base = dmem_base;
    h->vmem_base = vmem_base;
    h->llm_base = llm_base;
    h->context = std::make_unique<VerilatedContext>();
    h->context->randReset(0);
    h->top = std::make_unique<Vfenn_soc>(h->context.get(), "fenn_soc");
#ifdef FENN_NATIVE_TRACE
    if (trace_path && *trace_path) {
        h->context->traceEverOn(true);
        h->trace = std::make_unique<VerilatedVcdC>();
        h->top->trace(h->trace.get(), 99);
        h->trace->open(trace_path);
    }
#else
    (void)trace_path;
#endif
    Vfenn_soc* t = h->top.get();
    t->host___05Fawvalid = t->host___05Fwvalid = t->host___05Fbready = 0;
    t->host___05Farvalid = t->host___05Frready = 0;
    t->rst = 1;
    h->cycle();
    h->cycle();
    t->rst = 0;
    if (h->read(MAGIC) != MAGIC_VALUE) {
        h->error = "the model does not answer MAGIC on its host port";
    }
    h->imem_size = h->read(IMEM_SIZE);
    h->dmem_size = h->read(DMEM_SIZE);
    h->vmem_size = h->read(VMEM_SIZE);
    h->llm_size = h->read(LLM_SIZE);
    h->features = h->read(FEATURES);
    sizes[0] = h->imem_size;
    sizes[1] = h->dmem_size;
    sizes[2] = h->vmem_size;
    sizes[3] = h->llm_size;
    sizes[4] = h->features;
    return h;
}

FENN_EXPORT void fenn_native_free(void* handle) {
    auto* h = static_cast<Harness*>(handle);
#ifdef FENN_NATIVE_TRACE
    if (h->trace) h->trace->close();
#endif
    h->top->final();
    delete h;
}

// Run one job. x_init: 32 values, x_mask: which of them to write. read_dmem: 0 no, 1 yes
// (dmem_out: dmem_size bytes). read_vector: vmem_out (vmem_size bytes), llm_out (32 * llm_size
// bytes, lane-major), v_out (32 x 32 int16) and rng_out (s0 of lanes 0..31, then s1) are
// filled. out: OUT_WORDS values.
// Returns 0, or -1 with fenn_native_error set.
FENN_EXPORT int fenn_native_job(void* handle, const uint8_t* imem, uint32_t imem_len, const uint8_t* dmem, uint32_t dmem_len,
                    const uint8_t* vmem, uint32_t vmem_len, const uint8_t* llm, uint32_t llm_len, uint32_t entry,
                    uint64_t max_cycles, const uint32_t* x_init, uint32_t x_mask, int read_dmem, int read_vector,
                    uint64_t* out, uint8_t* dmem_out, uint8_t* vmem_out, uint8_t* llm_out, int16_t* v_out,
                    uint16_t* rng_out) {
    auto* h = static_cast<Harness*>(handle);
    Vfenn_soc* t = h->top.get();
    h->error.clear();
    if (imem_len > h->imem_size || dmem_len > h->dmem_size || vmem_len > h->vmem_size ||
        llm_len > 32 * h->llm_size) {
        h->error = "an image is larger than its memory";
        return -1;
    }
#ifndef FENN_NATIVE_VECTOR
    if (read_vector) {
        h->error = "read_vector needs the vector SoC";
        return -1;
    }
#endif
    h->write(CONTROL, 1u << CONTROL_CLEAR);
    while (h->read(STATUS) >> STATUS_CLEARING & 1) {
        for (int i = 0; i < 64; ++i) h->cycle();
    }
    h->write_image(h->imem_base, imem, imem_len, true);
    h->write_image(h->dmem_base, dmem, dmem_len, true);
    h->write_image(h->vmem_base, vmem, vmem_len, false);
    h->write_image(h->llm_base, llm, llm_len, false);
    for (int r = 0; r < 32; ++r) {
        if (x_mask >> r & 1) h->write(XREG_BASE + 4 * r, x_init[r]);
    }
    h->write(ENTRY, entry);
    h->write(CONTROL, 1u << CONTROL_START);
    uint64_t start = h->cycles;
    bool halted = false;
    if (!t->stopped) {
        uint64_t limit = max_cycles + HALT_LAG;
        uint64_t n = 0;
        // `stopped` is a register output: sampled after each rising edge.
        while (!t->stopped && n < limit) {
            h->cycle();
            ++n;
        }
        if (!t->stopped) {
            h->write(CONTROL, 1u << CONTROL_HALT);
            halted = true;
        }
    }
    uint64_t sim_cycles = h->cycles - start;
    out[OUT_STATUS] = h->read(STATUS);
    out[OUT_STOP_PC] = h->read(STOP_PC);
    out[OUT_X] = 0;
    for (int r = 1; r < 32; ++r) out[OUT_X + r] = h->read(XREG_BASE + 4 * r);
    out[OUT_INSTRET] = h->read64(INSTRET);
    out[OUT_CYCLES] = h->read64(CYCLES);
    out[OUT_MCYCLE] = h->read64(MCYCLE);
    out[OUT_MINSTRET] = h->read64(MINSTRET);
    out[OUT_HALTED] = halted;
    out[OUT_SIM_CYCLES] = sim_cycles;
    if (read_dmem) h->read_image(h->dmem_base, dmem_out, h->dmem_size);
#ifdef FENN_NATIVE_VECTOR
    if (read_vector) {
        h->read_image(h->vmem_base, vmem_out, h->vmem_size);
        h->read_image(h->llm_base, llm_out, 32 * h->llm_size);
        read_v(h, v_out);
        read_rng(h, rng_out);
    }
#else
    (void)vmem_out;
    (void)llm_out;
    (void)v_out;
    (void)rng_out;
#endif
    return 0;
}

}  // extern "C"

// ---- Host-port primitives (verify/rtl_session.py): the SoC as a device -------------------------
// A session loads a program once and then calls the firmware many times, so the host's steps
// are separate calls here rather than one job: words over the host port, CONTROL.clear, a start
// at an entry run until the stop or a cycle limit, and the vector state that has no host window.
extern "C" {

// n words from `words` to host address `addr` (consecutive word addresses). Returns 0.
FENN_EXPORT int fenn_native_host_write(void* handle, uint32_t addr, const uint32_t* words, uint32_t n) {
    auto* h = static_cast<Harness*>(handle);
    for (uint32_t i = 0; i < n; ++i) h->write(addr + 4 * i, words[i]);
    return 0;
}

// n words from host address `addr` into `words`. Returns 0.
FENN_EXPORT int fenn_native_host_read(void* handle, uint32_t addr, uint32_t* words, uint32_t n) {
    auto* h = static_cast<Harness*>(handle);
    for (uint32_t i = 0; i < n; ++i) words[i] = h->read(addr + 4 * i);
    return 0;
}

// CONTROL.clear, waiting until it is done (the core must be stopped). Returns 0.
FENN_EXPORT int fenn_native_host_clear(void* handle) {
    auto* h = static_cast<Harness*>(handle);
    h->write(CONTROL, 1u << CONTROL_CLEAR);
    while (h->read(STATUS) >> STATUS_CLEARING & 1) {
        for (int i = 0; i < 64; ++i) h->cycle();
    }
    return 0;
}

// ENTRY = entry, CONTROL.start, clock until `stopped` or max_cycles (then CONTROL.halt).
// out: OUT_WORDS values as fenn_native_job fills them, without the x registers.
FENN_EXPORT int fenn_native_host_start(void* handle, uint32_t entry, uint64_t max_cycles, uint64_t* out) {
    auto* h = static_cast<Harness*>(handle);
    Vfenn_soc* t = h->top.get();
    h->write(ENTRY, entry);
    h->write(CONTROL, 1u << CONTROL_START);
    uint64_t start = h->cycles;
    bool halted = false;
    if (!t->stopped) {
        uint64_t limit = max_cycles + HALT_LAG;
        uint64_t n = 0;
        while (!t->stopped && n < limit) {
            h->cycle();
            ++n;
        }
        if (!t->stopped) {
            h->write(CONTROL, 1u << CONTROL_HALT);
            halted = true;
        }
    }
    out[OUT_SIM_CYCLES] = h->cycles - start;
    out[OUT_STATUS] = h->read(STATUS);
    out[OUT_STOP_PC] = h->read(STOP_PC);
    out[OUT_INSTRET] = h->read64(INSTRET);
    out[OUT_CYCLES] = h->read64(CYCLES);
    out[OUT_MCYCLE] = h->read64(MCYCLE);
    out[OUT_MINSTRET] = h->read64(MINSTRET);
    out[OUT_HALTED] = halted;
    return 0;
}

// v0..v31 (32 x 32 int16) and the lanes' RNG state (s0 of lanes 0..31, then s1).
// Returns 0, or -1 with fenn_native_error set on the scalar SoC.
FENN_EXPORT int fenn_native_host_vector_state(void* handle, int16_t* v_out, uint16_t* rng_out) {
    auto* h = static_cast<Harness*>(handle);
#ifdef FENN_NATIVE_VECTOR
    read_v(h, v_out);
    read_rng(h, rng_out);
    return 0;
#else
    (void)v_out;
    (void)rng_out;
    h->error = "the vector state needs the vector SoC";
    return -1;
#endif
}

}  // extern "C"
