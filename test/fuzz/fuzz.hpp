// Shared by the fuzz harnesses (docs/fuzzing.md): the compile pipeline on
// bytes in memory, stencil objects loaded once per target, and the option
// trailer that lets one input choose a target, an optimization level and
// fixed load addresses.
//
// Each harness defines LLVMFuzzerTestOneInput. Built with -fsanitize=fuzzer
// it is a libFuzzer binary (fuzz_<name>); linked with replay_main.cpp it is a
// plain program that runs the inputs it is given once (fuzz_<name>_replay),
// which ctest uses on every build for test/fuzz/regressions/<name>/.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dag/dag.hpp"
#include "dag/grad.hpp"
#include "ir/ir.hpp"
#include "link/link.hpp"
#include "schedule/plan.hpp"
#include "stencil/stencil_db.hpp"
#include "target/target.hpp"

namespace copapy::fuzz {

// Memory in the low 2 GiB (MAP_32BIT on x86_64 Linux), aligned to `align`
// (at most 64 KiB): a 32-bit target's absolute patches (ABS32, MOVW/MOVT)
// can only encode addresses there, so a compiled image must load into it.
class LowMemory {
public:
    LowMemory(size_t size, uint32_t align) : len_(size + align + 4096) {
        int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_32BIT
        flags |= MAP_32BIT;
#endif
        void* p = mmap(nullptr, len_, PROT_READ | PROT_WRITE, flags, -1, 0);
        map_ = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
        if (map_)
            ptr_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(map_) + align - 1) & ~uintptr_t(align - 1));
    }
    LowMemory(const LowMemory&) = delete;
    LowMemory& operator=(const LowMemory&) = delete;
    ~LowMemory() {
        if (map_) munmap(map_, len_);
    }
    uint8_t* get() const { return ptr_; }
    // True if [get(), get() + size) lies below 4 GiB.
    bool low(size_t size) const { return ptr_ && reinterpret_cast<uintptr_t>(ptr_) + size <= 0xFFFF'FFFFu; }

private:
    size_t len_;
    uint8_t* map_ = nullptr;
    uint8_t* ptr_ = nullptr;
};

// A property the code under test must hold: report and abort (the fuzzer
// saves the input as a crash).
#define FUZZ_CHECK(cond, ...)                                                            \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            std::fprintf(stderr, "fuzz check failed: %s (%s:%d): ", #cond, __FILE__, __LINE__); \
            std::fprintf(stderr, __VA_ARGS__);                                           \
            std::fputc('\n', stderr);                                                    \
            std::abort();                                                                \
        }                                                                                \
    } while (0)

// $COPAPY_STENCIL_DIR, else the build tree's stencil directory.
inline std::string stencil_dir() {
    if (const char* env = std::getenv("COPAPY_STENCIL_DIR"); env && *env) return env;
    return COPAPY_FUZZ_STENCIL_DIR;
}

// The targets whose stencil objects exist, in all_targets() order.
inline const std::vector<const TargetInfo*>& fuzz_targets() {
    static const std::vector<const TargetInfo*> targets = [] {
        std::vector<const TargetInfo*> v;
        for (const TargetInfo* t : all_targets()) {
            const std::string path = stencil_dir() + "/" + std::string(t->name) + ".o";
            if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
                std::fclose(f);
                v.push_back(t);
            }
        }
        if (v.empty()) {
            std::fprintf(stderr, "fuzz: no stencil objects in %s (set COPAPY_STENCIL_DIR)\n", stencil_dir().c_str());
            std::exit(2);
        }
        return v;
    }();
    return targets;
}

// The stencil object of `t`, loaded on first use and kept: it is a build
// artifact, not fuzzed input, and loading it per input would dominate.
inline StencilDb& stencils(const TargetInfo& t) {
    static std::vector<std::pair<const TargetInfo*, std::unique_ptr<StencilDb>>> loaded;
    for (auto& [target, db] : loaded)
        if (target == &t) return *db;
    loaded.emplace_back(&t, StencilDb::load(stencil_dir() + "/" + std::string(t.name) + ".o", t));
    return *loaded.back().second;
}

// Options at the end of an input: the last byte chooses the target (bits
// 0-2, modulo the available ones) and the optimization level (bits 3-4,
// modulo 3); with `addresses`, the 16 bytes before it are the fixed code and
// data addresses (little-endian u64). An input too short for its trailer is
// all DAG, compiled for the first target at -O2 (at 0x0 / 0x20000000).
struct Options {
    const TargetInfo* target = nullptr;
    int opt_level = 2;
    uint64_t code_addr = 0, data_addr = 0x2000'0000;
    std::span<const uint8_t> dag;
};

inline uint64_t read_u64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

inline Options split_options(std::span<const uint8_t> input, bool addresses) {
    Options o;
    const auto& targets = fuzz_targets();
    o.target = targets.front();
    o.dag = input;
    const size_t trailer = addresses ? 17 : 1;
    if (input.size() < trailer) return o;
    const uint8_t flags = input.back();
    o.target = targets[(flags & 7u) % targets.size()];
    o.opt_level = ((flags >> 3) & 3u) % 3;
    if (addresses) {
        const uint8_t* a = input.data() + input.size() - 17;
        o.code_addr = read_u64(a);
        o.data_addr = read_u64(a + 8);
    }
    o.dag = input.first(input.size() - trailer);
    return o;
}

// What compile_program() (lib/driver/compile.cpp) produces, for bytes in memory.
struct Compiled {
    Ir ir;
    std::vector<uint32_t> order;
    Program program;
    LinkedImage image;
};

// compile_program()'s stages, in its order; throws Error where it does.
inline Compiled compile_bytes(std::span<const uint8_t> dag_bytes, const TargetInfo& target, int opt_level) {
    Compiled c;
    Dag dag = read_dag(dag_bytes);
    expand_gradients(dag);
    c.ir = build_ir(dag, opt_level);
    c.order = linearize(c.ir);
    c.program = plan(c.ir, c.order);
    c.image = link_program(c.program, stencils(target));
    return c;
}

}  // namespace copapy::fuzz
