// `copapy-cc stencils`: what a stencil object holds, as the compiler sees it.
// When porting to a new target this shows, per function, whether the tail
// jump was recognised and cut and how every relocation was classified, so a
// missing case in lib/target/<family>.cpp is visible without a debugger.
#include <fmt/format.h>

#include <algorithm>

#include "emit/emit.hpp"
#include "support/error.hpp"

namespace copapy {

namespace {

std::string_view role_note(SymbolRole role) {
    switch (role) {
        case SymbolRole::Continuation: return "  (next stencil)";
        case SymbolRole::Hole: return "  (memory operand)";
        case SymbolRole::Undefined: return "  (undefined)";
        case SymbolRole::CodeBase: return "  (the code region's start)";
        case SymbolRole::Defined: break;
    }
    return "";
}

}  // namespace

std::string format_stencils(StencilDb& db) {
    const TargetInfo& target = db.target();
    const auto sections = db.sections();
    const auto symbols = db.symbols();
    const auto relocs = db.relocs();

    std::vector<uint32_t> functions;
    for (uint32_t i = 0; i < symbols.size(); ++i)
        if (symbols[i].function && symbols[i].role == SymbolRole::Defined && !symbols[i].name.empty())
            functions.push_back(i);
    std::sort(functions.begin(), functions.end(), [&](uint32_t a, uint32_t b) {
        const ObjSymbol &x = symbols[a], &y = symbols[b];
        return x.section != y.section ? x.section < y.section : x.value < y.value;
    });

    std::string body;
    size_t stencil_count = 0, cut = 0, failed = 0;
    std::vector<bool> holds_stencil(sections.size(), false);
    for (uint32_t f : functions) {
        const ObjSymbol& sym = symbols[f];
        const ObjSection& sec = sections[sym.section];
        const Stencil* st = nullptr;
        std::string error;
        try {
            st = &db.stencil(sym.name);
        } catch (const Error& e) {
            error = e.what();
        }
        // A stencil jumps on to its continuation; the exit stencil returns
        // to the host instead. Everything else is library code.
        bool is_stencil = sym.name == kExitStencil;
        for (uint32_t r = sec.reloc_begin; r < sec.reloc_end; ++r)
            if (relocs[r].offset >= sym.value && relocs[r].offset < sym.value + sym.size &&
                symbols[relocs[r].symbol].role == SymbolRole::Continuation)
                is_stencil = true;
        if (is_stencil) {
            ++stencil_count;
            holds_stencil[sym.section] = true;
        }
        if (st && st->tail_cut) ++cut;
        body += fmt::format("\n{}  in {}+{:#x}, {} bytes", sym.name, sec.name, sym.value, sym.size);
        if (st)
            body += st->tail_cut ? fmt::format(", {} copied (tail jump cut)", st->code.size()) : ", no tail jump cut";
        if (sym.thumb) body += ", Thumb";
        body += "\n";
        if (!st) {
            ++failed;
            body += fmt::format("    error: {}\n", error);
        }
        for (uint32_t r = sec.reloc_begin; r < sec.reloc_end; ++r) {
            const ObjReloc& rel = relocs[r];
            if (rel.offset < sym.value || rel.offset >= sym.value + sym.size) continue;
            const uint64_t at = rel.offset - sym.value;
            const ObjSymbol& to = symbols[rel.symbol];
            body += fmt::format("    +{:<#6x} {:<28} {:<24} {:+#x}  -> {}{}{}\n", at, target.relocation_name(rel.type),
                                to.name, rel.addend, rel.kind ? cp_patch_kind_name(*rel.kind) : "UNSUPPORTED",
                                role_note(to.role), st && st->tail_cut && at >= st->code.size() ? ", cut" : "");
        }
        if (st)
            for (const TargetInfo::DataField& d : st->data_fields)
                body += fmt::format("    +{:<#6x} {:<28} {:<24} {:+#x}  -> written by the compiler (memory operand)\n",
                                    d.offset, "data offset field", target.data_field_name(d.form), 0);
    }

    std::string library;
    size_t library_count = 0;
    for (uint32_t s = 0; s < sections.size(); ++s) {
        const ObjSection& sec = sections[s];
        if (!sec.alloc || holds_stencil[s]) continue;
        ++library_count;
        library += fmt::format("{:<32} {:>6} bytes  align {:<3} {}{}  {} relocations\n", sec.name, sec.size, sec.align,
                               sec.exec ? "code" : sec.nobits ? "zeroed data" : "data", sec.write ? ", writable" : "",
                               sec.reloc_end - sec.reloc_begin);
    }

    std::string out = fmt::format(
        "; {} for {}: {} functions, {} of them stencils ({} with the tail jump cut), {} unusable; {} library "
        "sections\n"
        "; per function: section+offset, size, then each relocation: offset, ELF type, symbol, addend -> patch "
        "kind\n",
        db.path(), target.name, functions.size(), stencil_count, cut, failed, library_count);
    out += body;
    out += "\n; library sections (copied into an image only when a stencil uses them)\n" + library;
    return out;
}

}  // namespace copapy
