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
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#ifdef FENN_NATIVE_DMA
#include <deque>
#include <type_traits>
#include <utility>
#include <vector>
#endif

#include "Vfenn_soc.h"
#include "Vfenn_soc___024root.h"
#include "verilated.h"
#ifdef FENN_NATIVE_TRACE
#ifdef FENN_NATIVE_TRACE_FST
#include "verilated_fst_c.h"
using TraceFile = VerilatedFstC;
#else
#include "verilated_vcd_c.h"
using TraceFile = VerilatedVcdC;
#endif
#endif

// The model's NBA and input-combinational (ico) regions (Verilator's generated scheduler; see
// Harness::run_cycle).
void Vfenn_soc___024root___eval_nba(Vfenn_soc___024root* vlSelf);
void Vfenn_soc___024root___eval_ico(Vfenn_soc___024root* vlSelf);

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

// The layout of the result words (verify/rtl_native.py reads them by these indices).
enum {
    OUT_STATUS = 0, OUT_STOP_PC = 1, OUT_X = 2, OUT_INSTRET = 34, OUT_CYCLES = 35, OUT_MCYCLE = 36,
    OUT_MINSTRET = 37, OUT_HALTED = 38, OUT_SIM_CYCLES = 39, OUT_WORDS = 40
};

// fenn_native_job's access bits (verify/rtl_native.py ACCESS_*): the IMEM and DMEM images written
// into their arrays; DMEM read back from its array; the VMEM and LLM images written and read back
// through their arrays. Clear bits use the host port (3 cycles a word).
enum { ACCESS_WRITE_BACKDOOR = 1, ACCESS_READ_BACKDOOR = 2, ACCESS_VECTOR_BACKDOOR = 4 };


#ifdef FENN_NATIVE_DMA
// ---- The DRAM: an AXI4 slave on the top's dram__* ports (fenn_dma/dram.py, the one timing model) ----
//
// AR and AW are accepted at once; a read burst's first R beat is taken L cycles (edges) after its
// AR handshake and the beats follow one a cycle, a burst's after the previous burst's; B is taken
// L cycles after a write burst's last W beat. A burst with any byte outside [base, base + size)
// is answered DECERR (every R beat, its B), one touching an error region SLVERR; error bursts
// neither read nor write the image. Optional deterministic back-pressure (part of the model):
// in cycle c each of ARREADY, AWREADY, WREADY is low, and a due R or B waits, when
// stall_draw(seed, channel, c) < stall (fenn_dma.dram.stall_draw, the same function), c numbered
// as the ISS's cycles (the edge that takes the host's CONTROL.start write is cycle `start_cycle`).
// Protocol rules the engine must keep (INCR, ARSIZE/AWSIZE = the port width,
// beat-aligned addresses, no 4 KiB crossing, WLAST on exactly each burst's last beat) are checked:
// the first break ends the job with an error.
// fenn_dma/dram.py stall_draw: 0..255 from (seed, channel, cycle), MurmurHash3's fmix32 twice.
enum { STALL_AR = 0, STALL_R = 1, STALL_AW = 2, STALL_W = 3, STALL_B = 4 };
inline uint32_t fmix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    return x ^ (x >> 16);
}
inline uint32_t stall_draw(uint32_t seed, uint32_t channel, uint32_t cycle) {
    return fmix32((cycle * 5u + channel) ^ fmix32(seed)) >> 24;
}

struct DramBurst {
    uint32_t addr;
    uint32_t beats;
    uint32_t done = 0;        // beats moved
    uint32_t resp;            // 0 OKAY, 2 SLVERR, 3 DECERR
    uint64_t due;             // edge of the first beat (R) / of the B (B queue)
};

template <std::size_t N> inline void put_beat(VlWide<N>& w, const uint8_t* p) {
    for (std::size_t i = 0; i < N; ++i) std::memcpy(&w[i], p + 4 * i, 4);
}
inline void put_beat(QData& w, const uint8_t* p) { std::memcpy(&w, p, 8); }
inline void put_beat(IData& w, const uint8_t* p) { std::memcpy(&w, p, 4); }
template <std::size_t N> inline void get_beat(const VlWide<N>& w, uint8_t* p) {
    for (std::size_t i = 0; i < N; ++i) std::memcpy(p + 4 * i, &w[i], 4);
}
inline void get_beat(const QData& w, uint8_t* p) { std::memcpy(p, &w, 8); }
inline void get_beat(const IData& w, uint8_t* p) { std::memcpy(p, &w, 4); }

struct DramSlave {
    std::vector<uint8_t> image;
    uint32_t base = 0;
    uint32_t beat_bytes = 16;
    uint32_t latency = 4;
    uint32_t stall = 0;                          // back-pressure, /256 a cycle
    uint32_t seed = 1;                           // of the stall pattern (stall_draw)
    int64_t start_cycle = 0;                     // the ISS cycle of the edge after which the core started
    uint64_t origin = 0;                         // that edge
    bool host_aw_control = false;                // the host's last AW handshake was CONTROL's
    std::vector<std::pair<uint32_t, uint32_t>> errors;   // [start, end) -> SLVERR
    std::deque<DramBurst> reads, writes, responses;
    uint64_t last_r = 0;                         // edge of the last R beat taken
    bool r_shown = false, b_shown = false;       // VALID held until the handshake (AXI rule)
    uint64_t bursts_read = 0, bursts_written = 0, beats_read = 0, beats_written = 0;
    std::string error;                           // first protocol break
    uint32_t status[2] = {0, 0}, busy_mask = 0;  // the channels' host STATUS offsets, starting | transferring
    uint32_t final_status[2] = {0, 0};           // the channels' STATUS at the job's stop

    // Whether `channel` is stalled in the cycle that ends with rising edge `edge`.
    bool stalled(uint32_t channel, uint64_t edge) const {
        if (!stall) return false;
        const uint32_t cycle = (uint32_t)(uint64_t)((int64_t)(edge - origin) + start_cycle);
        return stall_draw(seed, channel, cycle) < stall;
    }
    void fail(const std::string& what) {
        if (error.empty()) error = what;
    }
    uint32_t response(uint64_t addr, uint64_t bytes) const {
        if (addr < base || addr + bytes > (uint64_t)base + image.size()) return 3;
        for (const auto& e : errors)
            if (addr < e.second && e.first < addr + bytes) return 2;
        return 0;
    }
    DramBurst burst(const char* ch, uint32_t addr, uint32_t len, uint32_t size, uint32_t kind, uint64_t edge) {
        const uint32_t beats = len + 1, bytes = beats * beat_bytes;
        if (kind != 1) fail(std::string(ch) + ": burst type " + std::to_string(kind) + ", not INCR");
        if ((1u << size) != beat_bytes)
            fail(std::string(ch) + ": size " + std::to_string(1u << size) + " bytes, the port has " +
                 std::to_string(beat_bytes));
        if (addr % beat_bytes) fail(std::string(ch) + ": address " + std::to_string(addr) + " not beat-aligned");
        if (addr / 4096 != (addr + bytes - 1) / 4096)
            fail(std::string(ch) + ": burst at " + std::to_string(addr) + " of " + std::to_string(bytes) +
                 " bytes crosses a 4 KiB boundary");
        if (beats > 16) fail(std::string(ch) + ": burst of " + std::to_string(beats) + " beats (at most 16)");
        DramBurst b;
        b.addr = addr;
        b.beats = beats;
        b.resp = response(addr, bytes);
        b.due = edge + latency;
        return b;
    }

    // Sampled before the rising edge numbered `edge`: the handshakes of that edge and their effects.
    template <class Top> void edge(Top* t, uint64_t edge) {
        // The host's CONTROL.start write (its W beat, with or after its AW): the cycles' origin.
        const bool host_aw = t->host___05Fawvalid && t->host___05Fawready;
        if (host_aw) host_aw_control = t->host___05Fawaddr == CONTROL;
        if (t->host___05Fwvalid && t->host___05Fwready && host_aw_control &&
            (t->host___05Fwdata >> CONTROL_START & 1) && (t->host___05Fwstrb & 1))
            origin = edge;
        if (t->dram___05Farvalid && t->dram___05Farready) {
            reads.push_back(burst("AR", t->dram___05Faraddr, t->dram___05Farlen, t->dram___05Farsize,
                                  t->dram___05Farburst, edge));
            ++bursts_read;
        }
        if (t->dram___05Frvalid && t->dram___05Frready) {
            DramBurst& b = reads.front();
            ++b.done;
            ++beats_read;
            last_r = edge;
            r_shown = false;
            if (b.done == b.beats) reads.pop_front();
        }
        if (t->dram___05Fawvalid && t->dram___05Fawready) {
            writes.push_back(burst("AW", t->dram___05Fawaddr, t->dram___05Fawlen, t->dram___05Fawsize,
                                   t->dram___05Fawburst, edge));
            ++bursts_written;
        }
        if (t->dram___05Fwvalid && t->dram___05Fwready && writes.empty()) fail("W: a beat without its AW");
        if (t->dram___05Fwvalid && t->dram___05Fwready && !writes.empty()) {
            DramBurst& b = writes.front();
            const bool last = b.done + 1 == b.beats;
            if ((bool)t->dram___05Fwlast != last)
                fail("W: WLAST " + std::to_string((int)t->dram___05Fwlast) + " on beat " + std::to_string(b.done) +
                     " of a " + std::to_string(b.beats) + "-beat burst at " + std::to_string(b.addr));
            if (b.resp == 0) {
                uint8_t data[64];
                get_beat(t->dram___05Fwdata, data);
                const uint64_t strb = t->dram___05Fwstrb;
                uint8_t* at = image.data() + (b.addr - base) + (uint64_t)b.done * beat_bytes;
                for (uint32_t i = 0; i < beat_bytes; ++i)
                    if (strb >> i & 1) at[i] = data[i];
            }
            ++b.done;
            ++beats_written;
            if (last) {
                DramBurst r = b;
                r.due = edge + latency;
                responses.push_back(r);
                writes.pop_front();
            }
        }
        if (t->dram___05Fbvalid && t->dram___05Fbready) {
            responses.pop_front();
            b_shown = false;
        }
    }

    // After the rising edge numbered `edge`: what the slave drives for the next edge.
    template <class Top> void drive(Top* t, uint64_t edge) {
        const uint64_t next = edge + 1;
        t->dram___05Farready = !stalled(STALL_AR, next);
        t->dram___05Fawready = !stalled(STALL_AW, next);
        // W is taken once its burst's AW is (in the same cycle at the earliest).
        const bool aw_now = t->dram___05Fawvalid && t->dram___05Fawready;
        t->dram___05Fwready = (!writes.empty() || aw_now) && !stalled(STALL_W, next);
        // R: the head burst's next beat, when due (the first after the latency, then back to back).
        bool r = false;
        if (!reads.empty()) {
            const DramBurst& b = reads.front();
            const uint64_t due = b.done ? last_r + 1 : std::max(b.due, last_r + 1);
            r = r_shown || (next >= due && !stalled(STALL_R, next));
        }
        t->dram___05Frvalid = r;
        r_shown = r;
        if (r) {
            const DramBurst& b = reads.front();
            uint8_t data[64] = {0};
            if (b.resp == 0) std::memcpy(data, image.data() + (b.addr - base) + (uint64_t)b.done * beat_bytes,
                                         beat_bytes);
            put_beat(t->dram___05Frdata, data);
            t->dram___05Frresp = b.resp;
            t->dram___05Frlast = b.done + 1 == b.beats;
        }
        bool bv = !responses.empty() && (b_shown || (next >= responses.front().due && !stalled(STALL_B, next)));
        t->dram___05Fbvalid = bv;
        b_shown = bv;
        if (bv) t->dram___05Fbresp = responses.front().resp;
        t->dram___05Frid = 0;
        t->dram___05Fbid = 0;
    }

    bool idle() const { return reads.empty() && writes.empty() && responses.empty(); }
};

// What the slave drives (the top's dram__* inputs), to tell whether a drive() changed any of them:
// run_cycle re-settles the inputs' combinational logic (the ico region) only then.
template <class Top> struct DramInputs {
    std::remove_cv_t<std::remove_reference_t<decltype(std::declval<Top&>().dram___05Frdata)>> rdata;
    uint32_t bits;
    static uint32_t pack(const Top* t) {
        return (uint32_t)t->dram___05Farready | (uint32_t)t->dram___05Fawready << 1 |
               (uint32_t)t->dram___05Fwready << 2 | (uint32_t)t->dram___05Frvalid << 3 |
               (uint32_t)t->dram___05Frlast << 4 | (uint32_t)t->dram___05Fbvalid << 5 |
               (uint32_t)t->dram___05Frresp << 8 | (uint32_t)t->dram___05Fbresp << 12 |
               (uint32_t)t->dram___05Frid << 16 | (uint32_t)t->dram___05Fbid << 24;
    }
    void take(const Top* t) {
        rdata = t->dram___05Frdata;
        bits = pack(t);
    }
    bool same(const Top* t) const {
        return bits == pack(t) && std::memcmp(&rdata, &t->dram___05Frdata, sizeof rdata) == 0;
    }
};
#endif

// The NBA trigger vector of the model (run_cycle): a VlTriggerVec (set/clear) in some Verilator 5
// releases, an array of 64-bit words in others.
template <class T> auto set_trigger(T& v, int) -> decltype(v.set(0, true), void()) { v.set(0, true); }
template <class T> void set_trigger(T& v, long) { v[0] = 1; }
template <class T> auto clear_trigger(T& v, int) -> decltype(v.clear(), void()) { v.clear(); }
template <class T> void clear_trigger(T& v, long) { v[0] = 0; }

struct Harness {
    std::unique_ptr<VerilatedContext> context;
    std::unique_ptr<Vfenn_soc> top;
#ifdef FENN_NATIVE_TRACE
    std::unique_ptr<TraceFile> trace;
#endif
    uint64_t time = 0;        // trace time: 5 units a half cycle, a clock period is 10
    uint64_t cycles = 0;      // rising edges since the model was built
    uint32_t imem_base, dmem_base, vmem_base, llm_base;
    uint32_t imem_size = 0, dmem_size = 0, vmem_size = 0, llm_size = 0, features = 0;
    std::string error;
    bool inputs_settled = false;   // no input changed since the last eval or ico region (run_cycle)
#ifdef FENN_NATIVE_DMA
    DramSlave dram;           // the DRAM on the dram__* ports (its own block above)
    DramInputs<Vfenn_soc> dram_before;   // its inputs before the last drive() (run_cycle)
#endif

    void dump() {
#ifdef FENN_NATIVE_TRACE
        if (trace) trace->dump(time);
#endif
    }
    // Low phase: inputs set since the last edge settle, combinational outputs can be sampled.
    void low() {
        top->clk = 0;
        top->eval();
#ifdef FENN_NATIVE_DMA
        dram.edge(top.get(), cycles + 1);
#endif
        dump();
        time += 5;
    }
    // High phase: the rising edge. Any input changed after it (the host's next request, the DRAM
    // slave's drive) is not settled until the next eval or ico region (inputs_settled: run_cycle).
    void high() {
        top->clk = 1;
        top->eval();
        dump();
        time += 5;
        ++cycles;
        inputs_settled = false;
#ifdef FENN_NATIVE_DMA
        dram.drive(top.get(), cycles);
#endif
    }
    void cycle() { low(); high(); }

    // A clock cycle of the free-running core, as low() then high() would simulate it, in about half
    // their instructions: the model's NBA region alone (the posedge's sequential logic and the
    // combinational logic after it) instead of two evals. The design has no negedge logic, so the
    // low phase's eval only settles the inputs changed since the last edge: the input-
    // combinational (ico) region, which runs every process that reads a top-level input (every
    // Amaranth `if (rst)` process reads rst). It runs here only when an input did change (a host
    // access just ended, or the DRAM slave drove something new); the host port is idle while the
    // core runs, so on the SoC without the DMA no cycle of a run needs it. The trigger computation
    // would find the one posedge. The model's own scheduler entry points and trigger vectors are
    // used (Verilator 5's names: a rename breaks the build, not the timing).
    //
    // With the DMA, the DRAM slave's handshakes of an edge are sampled after the inputs settle and
    // before the edge (edge()), and what it drives for the next edge is set after it (drive()), as
    // low() and high() do: the same values, so the same cycles as the two-eval loop (and the ISS:
    // fenn_dma.dram's timing), whatever combinational paths the master has from its inputs.
    // The traced build keeps both evals (the waves show both phases).
    void run_cycle() {
#if defined(FENN_NATIVE_TRACE)
        cycle();
#else
        auto* root = top->rootp;
        if (!inputs_settled) {
            set_trigger(root->__VicoTriggered, 0);
            Vfenn_soc___024root___eval_ico(root);
            clear_trigger(root->__VicoTriggered, 0);
            inputs_settled = true;
        }
#ifdef FENN_NATIVE_DMA
        dram.edge(top.get(), cycles + 1);
#endif
        top->clk = 1;
        root->__Vtrigprevexpr___TOP__clk__0 = 1;     // as if eval() had seen this posedge
        set_trigger(root->__VnbaTriggered, 0);
        Vfenn_soc___024root___eval_nba(root);
        clear_trigger(root->__VnbaTriggered, 0);
        time += 10;
        ++cycles;
#ifdef FENN_NATIVE_DMA
        dram_before.take(top.get());
        dram.drive(top.get(), cycles);
        inputs_settled = dram_before.same(top.get());
#endif
#endif
    }

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

    // CONTROL.clear, and wait until the clear sequencer is done.
    void clear() {
        write(CONTROL, 1u << CONTROL_CLEAR);
        while (read(STATUS) >> STATUS_CLEARING & 1) {
            for (int i = 0; i < 64; ++i) run_cycle();
        }
    }

    // ENTRY = entry, CONTROL.start, clock until `stopped` or max_cycles (then CONTROL.halt); out
    // gets the status, stop pc, counters, halted flag and simulated cycles (not the x registers).
    void start_run(uint32_t entry, uint64_t max_cycles, uint64_t* out) {
        write(ENTRY, entry);
        write(CONTROL, 1u << CONTROL_START);
        const uint64_t start = cycles;
        bool halted = false;
        if (!top->stopped) {
            const uint64_t limit = max_cycles + HALT_LAG;
            // `stopped` is a register output: sampled after each rising edge.
            for (uint64_t n = 0; !top->stopped && n < limit; ++n) run_cycle();
            if (!top->stopped) {
                write(CONTROL, 1u << CONTROL_HALT);
                halted = true;
            }
        }
        out[OUT_SIM_CYCLES] = cycles - start;      // before the reads below, which cost cycles
        out[OUT_STATUS] = read(STATUS);
        out[OUT_STOP_PC] = read(STOP_PC);
        out[OUT_INSTRET] = read64(INSTRET);
        out[OUT_CYCLES] = read64(CYCLES);
        out[OUT_MCYCLE] = read64(MCYCLE);
        out[OUT_MINSTRET] = read64(MINSTRET);
        out[OUT_HALTED] = halted;
    }

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

// ---- Backdoor: the memories' arrays in the model (verify/native/memories.vlt makes them public) ----
// A word image (little-endian bytes, the tail padded with zeros) into / out of an array of 32-bit
// words, as host-port word writes and reads at the same offsets would move it, without the three
// cycles a word. The core is stopped whenever these run, and every read port of these memories is
// synchronous, so the next edge sees the new contents.
template <class Array> void put_words(Array& words, const uint8_t* data, uint32_t len) {
    for (uint32_t at = 0; at < len; at += 4) {
        uint32_t word = 0;
        std::memcpy(&word, data + at, std::min<uint32_t>(4, len - at));
        words[at / 4] = word;
    }
}
template <class Array> void get_words(const Array& words, uint8_t* out, uint32_t len) {
    for (uint32_t at = 0; at < len; at += 4) {
        const uint32_t word = words[at / 4];
        std::memcpy(out + at, &word, 4);
    }
}

#ifdef FENN_NATIVE_VECTOR
// VMEM's rows (512-bit words, 16 x 32 bits) as a byte image from byte 0.
struct VmemWords {
    decltype(Vfenn_soc___024root::fenn_soc__DOT__vector__DOT__vmem__DOT__mem)& rows;
    uint32_t& operator[](uint32_t w) { return rows[w / 16][w % 16]; }
    uint32_t operator[](uint32_t w) const { return rows[w / 16][w % 16]; }
};

// The LLMs as the host window and the ISS lay them out: lane-major, lane i at i * llm_size.
#define FENN_LLM_LANE(n) root->fenn_soc__DOT__vector__DOT__unit__DOT__llm__DOT__lane##n.data(),
struct LlmWords {
    uint32_t* lanes[32];
    uint32_t lane_words;
    LlmWords(Vfenn_soc___024root* root, uint32_t llm_size)
        : lanes{FENN_LLM_LANE(0) FENN_LLM_LANE(1) FENN_LLM_LANE(2) FENN_LLM_LANE(3) FENN_LLM_LANE(4)
                FENN_LLM_LANE(5) FENN_LLM_LANE(6) FENN_LLM_LANE(7) FENN_LLM_LANE(8) FENN_LLM_LANE(9)
                FENN_LLM_LANE(10) FENN_LLM_LANE(11) FENN_LLM_LANE(12) FENN_LLM_LANE(13) FENN_LLM_LANE(14)
                FENN_LLM_LANE(15) FENN_LLM_LANE(16) FENN_LLM_LANE(17) FENN_LLM_LANE(18) FENN_LLM_LANE(19)
                FENN_LLM_LANE(20) FENN_LLM_LANE(21) FENN_LLM_LANE(22) FENN_LLM_LANE(23) FENN_LLM_LANE(24)
                FENN_LLM_LANE(25) FENN_LLM_LANE(26) FENN_LLM_LANE(27) FENN_LLM_LANE(28) FENN_LLM_LANE(29)
                FENN_LLM_LANE(30) FENN_LLM_LANE(31)},
          lane_words(llm_size / 4) {}
    uint32_t& operator[](uint32_t w) { return lanes[w / lane_words][w % lane_words]; }
    uint32_t operator[](uint32_t w) const { return lanes[w / lane_words][w % lane_words]; }
};
#undef FENN_LLM_LANE

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

FENN_EXPORT int fenn_native_abi(void) { return 3; }

FENN_EXPORT int fenn_native_has_trace(void) {
#ifdef FENN_NATIVE_TRACE
    return 1;
#else
    return 0;
#endif
}

FENN_EXPORT const char* fenn_native_error(void* handle) { return static_cast<Harness*>(handle)->error.c_str(); }

// A new model out of reset; trace_path: a VCD or FST file to write (the traced build of that format), or null.
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
        h->trace = std::make_unique<TraceFile>();
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

#ifdef FENN_NATIVE_DMA
// ---- The DRAM slave's C ABI (verify/rtl_native.py) ----

// The DRAM of the next jobs: `size` bytes at `base`, the first image_len from `image`, the rest 0;
// beat_bytes: the port width; latency: cycles (fenn_dma.dram.DramTiming); stall: back-pressure
// (0 none, else /256 a cycle, stall_draw from `seed`), start_cycle: the ISS cycle number of the
// edge after which the core starts (the stall pattern's cycles are the ISS's); errors: n_errors [start, end) pairs -> SLVERR;
// status_offsets: the MM2S and S2MM STATUS registers in the host map, busy_mask their busy bits.
// Returns 0, or -1 with fenn_native_error set.
FENN_EXPORT int fenn_native_dram_setup(void* handle, uint32_t base, uint32_t size, const uint8_t* image,
                                       uint32_t image_len, uint32_t beat_bytes, uint32_t latency, uint32_t stall,
                                       uint32_t seed, int64_t start_cycle, const uint32_t* errors, uint32_t n_errors,
                                       const uint32_t* status_offsets, uint32_t busy_mask) {
    auto* h = static_cast<Harness*>(handle);
    h->error.clear();
    DramSlave& d = h->dram;
    if (!d.idle()) {
        h->error = "the DRAM still has bursts in flight from the previous job";
        return -1;
    }
    if (image_len > size || (uint64_t)base + size > (1ull << 32) || beat_bytes < 4 || beat_bytes > 64 ||
        latency < 1 || stall > 255) {
        h->error = "bad DRAM setup (image larger than the DRAM, window past 4 GiB, beat width, latency or stall)";
        return -1;
    }
    d.image.assign(size, 0);
    if (image_len) std::memcpy(d.image.data(), image, image_len);
    d.base = base;
    d.beat_bytes = beat_bytes;
    d.latency = latency;
    d.stall = stall;
    d.seed = seed;
    d.start_cycle = start_cycle;
    d.errors.clear();
    for (uint32_t i = 0; i < n_errors; ++i) d.errors.emplace_back(errors[2 * i], errors[2 * i + 1]);
    d.error.clear();
    d.status[0] = status_offsets[0];
    d.status[1] = status_offsets[1];
    d.busy_mask = busy_mask;
    d.bursts_read = d.bursts_written = d.beats_read = d.beats_written = 0;
    return 0;
}

// The DRAM image now (len bytes from the window's base) and counts[6]: bursts read, bursts written,
// beats read, beats written since the setup, then the MM2S and S2MM STATUS at the last job's stop.
FENN_EXPORT int fenn_native_dram_read(void* handle, uint8_t* out, uint32_t len, uint64_t* counts) {
    auto* h = static_cast<Harness*>(handle);
    const DramSlave& d = h->dram;
    if (len > d.image.size()) {
        h->error = "the DRAM read asks for more than the DRAM";
        return -1;
    }
    std::memcpy(out, d.image.data(), len);
    counts[0] = d.bursts_read;
    counts[1] = d.bursts_written;
    counts[2] = d.beats_read;
    counts[3] = d.beats_written;
    counts[4] = d.final_status[0];
    counts[5] = d.final_status[1];
    return 0;
}
#endif

// Run one job. x_init: 32 values, x_mask: which of them to write. read_dmem: 0 no, 1 yes
// (dmem_out: dmem_size bytes). read_vector: vmem_out (vmem_size bytes), llm_out (32 * llm_size
// bytes, lane-major), v_out (32 x 32 int16) and rng_out (s0 of lanes 0..31, then s1) are
// filled. out: OUT_WORDS values. access: ACCESS_* bits, which images move through the memories'
// arrays (backdoor) instead of the host port.
// Returns 0, or -1 with fenn_native_error set.
FENN_EXPORT int fenn_native_job(void* handle, const uint8_t* imem, uint32_t imem_len, const uint8_t* dmem, uint32_t dmem_len,
                    const uint8_t* vmem, uint32_t vmem_len, const uint8_t* llm, uint32_t llm_len, uint32_t entry,
                    uint64_t max_cycles, const uint32_t* x_init, uint32_t x_mask, int read_dmem, int read_vector,
                    uint64_t* out, uint8_t* dmem_out, uint8_t* vmem_out, uint8_t* llm_out, int16_t* v_out,
                    uint16_t* rng_out, uint32_t access) {
    auto* h = static_cast<Harness*>(handle);
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
    h->clear();
    auto* root = h->top->rootp;
    if (access & ACCESS_WRITE_BACKDOOR) {
        put_words(root->fenn_soc__DOT__imem, imem, imem_len);
        put_words(root->fenn_soc__DOT__dmem, dmem, dmem_len);
    } else {
        h->write_image(h->imem_base, imem, imem_len, true);
        h->write_image(h->dmem_base, dmem, dmem_len, true);
    }
#ifdef FENN_NATIVE_VECTOR
    if (access & ACCESS_VECTOR_BACKDOOR) {
        VmemWords vmem_words{root->fenn_soc__DOT__vector__DOT__vmem__DOT__mem};
        put_words(vmem_words, vmem, vmem_len);
        LlmWords llm_words(root, h->llm_size);
        put_words(llm_words, llm, llm_len);
    } else
#endif
    {
        h->write_image(h->vmem_base, vmem, vmem_len, false);
        h->write_image(h->llm_base, llm, llm_len, false);
    }
    for (int r = 0; r < 32; ++r) {
        if (x_mask >> r & 1) h->write(XREG_BASE + 4 * r, x_init[r]);
    }
    h->start_run(entry, max_cycles, out);
    out[OUT_X] = 0;
    for (int r = 1; r < 32; ++r) out[OUT_X + r] = h->read(XREG_BASE + 4 * r);
    if (read_dmem && (access & ACCESS_READ_BACKDOOR)) get_words(root->fenn_soc__DOT__dmem, dmem_out, h->dmem_size);
    else if (read_dmem) h->read_image(h->dmem_base, dmem_out, h->dmem_size);
#ifdef FENN_NATIVE_VECTOR
    if (read_vector && (access & ACCESS_VECTOR_BACKDOOR)) {
        const VmemWords vmem_words{root->fenn_soc__DOT__vector__DOT__vmem__DOT__mem};
        get_words(vmem_words, vmem_out, h->vmem_size);
        const LlmWords llm_words(root, h->llm_size);
        get_words(llm_words, llm_out, 32 * h->llm_size);
    } else if (read_vector) {
        h->read_image(h->vmem_base, vmem_out, h->vmem_size);
        h->read_image(h->llm_base, llm_out, 32 * h->llm_size);
    }
    if (read_vector) {
        read_v(h, v_out);
        read_rng(h, rng_out);
    }
#else
    (void)vmem_out;
    (void)llm_out;
    (void)v_out;
    (void)rng_out;
#endif
#ifdef FENN_NATIVE_DMA
    // A transfer still in flight at the stop finishes now (the next job's CONTROL.clear would wait
    // for it anyway), so that none of its bursts reaches the next job's DRAM.
    h->dram.final_status[0] = h->read(h->dram.status[0]);
    h->dram.final_status[1] = h->read(h->dram.status[1]);
    for (uint64_t n = 0; !h->dram.idle() || (h->read(h->dram.status[0]) | h->read(h->dram.status[1])) & h->dram.busy_mask; ++n) {
        if (n > (1u << 22)) {
            h->error = "the DMA did not finish after the stop";
            return -1;
        }
        h->cycle();
    }
    if (!h->dram.error.empty()) {
        h->error = "the DMA broke the AXI4 protocol: " + h->dram.error;
        return -1;
    }
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
    static_cast<Harness*>(handle)->clear();
    return 0;
}

// ENTRY = entry, CONTROL.start, clock until `stopped` or max_cycles (then CONTROL.halt).
// out: OUT_WORDS values as fenn_native_job fills them, without the x registers.
FENN_EXPORT int fenn_native_host_start(void* handle, uint32_t entry, uint64_t max_cycles, uint64_t* out) {
    static_cast<Harness*>(handle)->start_run(entry, max_cycles, out);
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
