// The stencil database: a target's stencil object (stencils/<target>.o),
// read with LLVM libObject.
//
// Stencils are functions named by the scheme in lib/ops/ops.hpp. Everything
// else a stencil references (musl's sinf, libgcc helpers, constant sections)
// is an "auxiliary" section that the linker pulls in transitively, so that
// only what a program uses lands in its image.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ops/ops.hpp"
#include "target/target.hpp"

namespace copapy {

struct ObjSection {
    std::string name;
    std::span<const uint8_t> bytes;  // empty for SHT_NOBITS
    uint64_t size = 0;
    uint64_t align = 1;
    bool alloc = false, write = false, exec = false, nobits = false;
    uint32_t reloc_begin = 0, reloc_end = 0;  // this section's relocations, sorted by offset
};

// What the compiler makes of a symbol a relocation refers to.
enum class SymbolRole : uint8_t {
    Defined,       // lives in a section of the object
    Continuation,  // result_<state>: the next stencil
    Hole,          // cp_hole_<kind>: the stencil's memory operand
    Undefined,     // anything else: an error if a used stencil refers to it
};

struct ObjSymbol {
    std::string name;
    SymbolRole role = SymbolRole::Undefined;
    uint32_t section = 0;  // index into sections(), for Defined
    uint64_t value = 0;    // offset in its section (Thumb bit cleared)
    uint64_t size = 0;
    bool function = false;
    bool thumb = false;
};

struct ObjReloc {
    uint64_t offset;  // in its section
    uint32_t type;    // ELF R_* value
    uint32_t symbol;  // index into symbols()
    int64_t addend;   // explicit (RELA) or decoded from the instruction (REL)
    std::optional<cp_patch_kind> kind;
};

// A stencil ready to copy: its bytes without the final tail jump, and the
// relocations that remain to resolve.
struct Stencil {
    std::string_view name;
    uint32_t section;
    uint64_t offset;                 // of the function in its section
    std::span<const uint8_t> code;   // what is copied (tail jump cut off)
    uint32_t full_size;              // the function's size before cutting
    uint32_t align;                  // where it may be copied (a divisor of code offsets)
    std::vector<uint32_t> relocs;    // indices into relocs(), excluding the cut jump
    bool tail_cut = false;
    std::optional<State> next;       // the register state it continues in (none: it returns)
};

class StencilDb {
public:
    // Reads and checks the object; throws Error (Environment) naming the file.
    static std::unique_ptr<StencilDb> load(const std::string& path, const TargetInfo& target);

    const TargetInfo& target() const { return *target_; }
    const std::string& path() const { return path_; }
    std::span<const ObjSection> sections() const { return sections_; }
    std::span<const ObjSymbol> symbols() const { return symbols_; }
    std::span<const ObjReloc> relocs() const { return relocs_; }

    // The stencil with this name (prepared once, then cached); throws if the
    // object has no such function or the function cannot be used as a stencil.
    const Stencil& stencil(std::string_view name);
    bool has_function(std::string_view name) const;

    // The continuation state of a Continuation symbol / kind of a Hole symbol.
    std::optional<State> continuation_state(const ObjSymbol& s) const;

private:
    StencilDb() = default;
    template <class ELFT>
    void read(const void* object);
    Stencil prepare(const ObjSymbol& sym);

    const TargetInfo* target_ = nullptr;
    std::string path_;
    std::vector<uint8_t> file_;
    std::vector<ObjSection> sections_;
    std::vector<ObjSymbol> symbols_;
    std::vector<ObjReloc> relocs_;
    std::unordered_map<std::string, uint32_t> functions_;  // name -> symbol index
    std::unordered_map<uint32_t, std::unique_ptr<Stencil>> prepared_;
};

}  // namespace copapy
