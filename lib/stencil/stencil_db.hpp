// The stencil database: a target's stencil object (stencils/<target>.o),
// read with LLVM libObject.
//
// Stencils are functions named by the scheme in lib/ops/ops.hpp. Everything
// else a stencil references (musl's sinf, libgcc helpers, constant sections)
// is an "auxiliary" section that the linker pulls in transitively, so that
// only what a program uses lands in its image.
//
// Only what a program needs is decoded: loading reads the file (one read)
// and the section headers; symbols, the function name index and each
// section's relocations are decoded on first use. A program of a few
// stencils thus touches a few dozen of the object's ~1000 symbols and
// relocations. sections()/symbols()/relocs() decode everything (listings,
// `copapy-cc stencils`).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ops/ops.hpp"
#include "target/target.hpp"

namespace copapy {

struct ObjSection {
    std::string_view name;           // into the object's bytes, like `bytes`
    std::span<const uint8_t> bytes;  // empty for SHT_NOBITS
    uint64_t size = 0;
    uint64_t align = 1;
    bool alloc = false, write = false, exec = false, nobits = false;
    // SHF_MERGE constants (.rodata.cst4, .rodata.cst16): entries of this
    // size that are independent of each other; 0 otherwise.
    uint64_t entsize = 0;
    // This section's relocations: indices into relocs(), sorted by offset
    // once decoded (StencilDb::relocations()).
    uint32_t reloc_begin = 0, reloc_end = 0;
};

// What the compiler makes of a symbol a relocation refers to.
enum class SymbolRole : uint8_t {
    Defined,       // lives in a section of the object
    Continuation,  // result_<state>: the next stencil
    Hole,          // cp_hole_<kind>: the stencil's memory operand
    CodeBase,      // _GLOBAL_OFFSET_TABLE_ (i686 PIC library code): the code region's start
    Undefined,     // anything else: an error if a used stencil refers to it
};

struct ObjSymbol {
    std::string_view name;  // into the object's bytes
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
    // Near stencils: the instructions addressing the memory operand as base
    // register + marker (TargetInfo::find_data_fields), offsets in `code`.
    std::vector<TargetInfo::DataField> data_fields;
};

// How a stencil object addresses data (absolute symbols it defines; see
// stencils/gen_stencils.cpp). Absent in objects without near stencils.
struct NearAbi {
    int64_t bias;    // the base register holds data + bias
    int64_t marker;  // the offset a near stencil's memory operand carries
    // Far stencils add the placeholder's "address" to the base register: the
    // linker writes disp (as for a near field) into those relocations.
    bool far_relative = false;
};

class StencilDb {
public:
    // Reads the object and its section headers and checks them; throws Error
    // (Environment) naming the file. The rest is decoded on demand, with the
    // same checks and messages.
    static std::unique_ptr<StencilDb> load(const std::string& path, const TargetInfo& target);
    ~StencilDb();

    const TargetInfo& target() const { return *target_; }
    const std::string& path() const { return path_; }

    size_t section_count() const { return sections_.size(); }
    const ObjSection& section(uint32_t i) const { return sections_[i]; }
    std::span<const ObjSection> sections() const { return sections_; }

    // Symbol i of the symbol table (i < symbol count, as relocations give it).
    const ObjSymbol& symbol(uint32_t i) {
        if (!symbol_done_[i]) decode_symbol(i);
        return symbols_[i];
    }
    // The relocations of section i (relocs() indices reloc_begin..reloc_end).
    std::span<const ObjReloc> relocations(uint32_t section) {
        const ObjSection& s = sections_[section];
        if (!reloc_done_[section]) decode_relocations(section);
        return std::span<const ObjReloc>(relocs_).subspan(s.reloc_begin, s.reloc_end - s.reloc_begin);
    }
    // A relocation of a section already decoded (one of a Stencil's relocs,
    // or in the range of a section passed to relocations()).
    const ObjReloc& reloc(uint32_t i) const { return relocs_[i]; }

    // Every symbol / relocation of the object, all decoded (in file order,
    // so a broken object reports the same first error as a full read).
    std::span<const ObjSymbol> symbols();
    std::span<const ObjReloc> relocs();

    // The stencil with this name (prepared once, then cached); throws if the
    // object has no such function or the function cannot be used as a stencil.
    const Stencil& stencil(std::string_view name);
    bool has_function(std::string_view name);

    // cp_data_bias and cp_near_marker, if the object defines both.
    std::optional<NearAbi> near_abi();
    // How many float park registers the stencils have (cp_park_f; 0 if the
    // object does not say). Throws if it claims more than kMaxParks.
    int float_parks();

    // The continuation state of a Continuation symbol / kind of a Hole symbol.
    std::optional<State> continuation_state(const ObjSymbol& s) const;

private:
    struct Elf;                          // the libObject view of the file (stencil_db.cpp)
    template <class ELFT> struct ElfOf;  // ... for one ELF class and byte order
    StencilDb() = default;
    void decode_symbol(uint32_t i);
    void decode_relocations(uint32_t section);
    void pair_pcrel_low_parts(uint32_t section);
    uint32_t find_function(std::string_view name);  // symbol index, or UINT32_MAX
    Stencil prepare(uint32_t symbol);

    const TargetInfo* target_ = nullptr;
    std::string path_;
    std::vector<uint8_t> file_;
    std::unique_ptr<Elf> elf_;
    std::vector<ObjSection> sections_;
    std::vector<ObjSymbol> symbols_;     // sized at load, filled by decode_symbol()
    std::vector<uint8_t> symbol_done_;
    std::vector<ObjReloc> relocs_;       // sized at load, filled per section
    std::vector<uint8_t> reloc_done_;    // per section
    bool all_symbols_done_ = false, all_relocs_done_ = false;
    // Function name -> symbol index: open addressing over symbol indices
    // (UINT32_MAX: empty), built on the first lookup.
    std::vector<uint32_t> function_slots_;
    std::vector<std::string_view> function_names_;  // per symbol, for the index
    bool functions_indexed_ = false;
    std::optional<std::optional<NearAbi>> near_abi_;  // looked up once
    std::vector<std::unique_ptr<Stencil>> prepared_;  // per symbol
};

}  // namespace copapy
