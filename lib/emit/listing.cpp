// The disassembling listing (--emit listing).
//
// The code region is walked in image order: the steps (one stencil each),
// the library sections they pulled in, the constant pool. Code is decoded by
// LLVM (emit/disassembler.hpp); bytes the object marks as data with ARM/AArch64
// mapping symbols ($d, literal pools) are shown as words. Each instruction
// that holds a relocation site gets a note: `patch KIND -> region+offset`
// for a field the loader writes (or, for fixed addresses, that the compiler
// wrote), `resolved R_TYPE symbol` for one the linker resolved itself,
// `rebased constant data+offset` for a constant operand the linker moved to
// the data region and addressed from the base register (i686).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "emit/disassembler.hpp"
#include "emit/emit.hpp"

namespace copapy {

namespace {

const char* region_name(uint8_t region) { return region == CP_REGION_DATA ? "data" : "code"; }

// Where an ARM/AArch64 object switches between code and data ($a/$t/$x vs $d).
struct Mark {
    uint64_t offset;
    bool data;
};

std::string format_value(DType dtype, uint32_t bits) {
    switch (dtype) {
        case DType::Float: {
            float f;
            std::memcpy(&f, &bits, 4);
            return fmt::format("{}", f);
        }
        case DType::Bool: return bits ? "true" : "false";
        case DType::Int: break;
    }
    return fmt::format("{}", static_cast<int32_t>(bits));
}

class Listing {
public:
    explicit Listing(const EmitInput& in) : in_(in), img_(in.image), dis_(in.target.id) {
        // Bytes column: up to 8 bytes (x86 instructions continue on the next line).
        bytes_width_ = std::min<uint32_t>(dis_.max_insn_size(), 8) * 3 - 1;
        index_object();
        collect_notes();
    }

    std::string run() {
        header();
        for (size_t i = 0; i < in_.program.steps.size(); ++i) step(i);
        uint32_t at = img_.stencil_bytes;
        for (const LinkedImage::Placement& p : img_.aux) {
            if (p.region != CP_REGION_CODE) continue;
            padding(at, p.offset);
            library_section(p);
            at = p.offset + p.size;
        }
        data_region();
        bound();
        return std::move(out_);
    }

private:
    std::string address(uint8_t region, uint64_t offset) const {
        if (in_.fixed) return fmt::format("{:08x}", (region == CP_REGION_DATA ? in_.fixed->data : in_.fixed->code) + offset);
        return region == CP_REGION_DATA ? fmt::format("data+{:06x}", offset) : fmt::format("{:06x}", offset);
    }
    uint64_t code_address(uint32_t offset) const { return (in_.fixed ? in_.fixed->code : 0) + offset; }

    void header() {
        const Program& prog = in_.program;
        out_ += fmt::format(
            "; copapy-cc listing for {}: {} steps, {} bytes of stencils, {} bytes of code in all, {} bytes of data, "
            "{} patches, {} relocations resolved at compile time\n",
            in_.target.name, prog.steps.size(), img_.stencil_bytes, img_.code.size(), img_.data.size(),
            in_.patches.size(), img_.resolved);
        if (in_.fixed)
            out_ += fmt::format(
                "; fixed addresses: code at {:#x}, data at {:#x}; every patch was applied by the compiler "
                "(marked 'patched')\n",
                in_.fixed->code, in_.fixed->data);
        else
            out_ += "; relocatable: addresses are offsets in the code region; 'patch' marks a field the loader writes\n";
    }

    // Per section: function labels and code/data mapping symbols.
    void index_object() {
        const auto sections = in_.db.sections();
        marks_.resize(sections.size());
        labels_.resize(sections.size());
        for (const ObjSymbol& s : in_.db.symbols()) {
            if (s.role != SymbolRole::Defined || s.section >= sections.size()) continue;
            // Mapping symbols: "$d", "$a", "$t", "$x", optionally followed by ".<anything>".
            if (s.name.size() >= 2 && s.name[0] == '$' && (s.name.size() == 2 || s.name[2] == '.') &&
                std::strchr("datx", s.name[1]))
                marks_[s.section].push_back({s.value, s.name[1] == 'd'});
            else if (s.function && !s.name.empty()) {
                std::string& label = labels_[s.section][s.value];  // aliases (sinf, _sinf) share one label
                if (!label.empty()) label += ", ";
                label += s.name;
            }
        }
        for (auto& m : marks_)
            std::sort(m.begin(), m.end(), [](const Mark& a, const Mark& b) { return a.offset < b.offset; });
    }

    // A note for every relocation site in the code: from the patch table, or
    // resolved by the linker (every other relocation of a copied stencil or
    // library section).
    void collect_notes() {
        for (const ImagePatch& p : in_.patches)
            notes_[p.site].push_back(fmt::format("{} {} -> {}{:+#x}", in_.fixed ? "patched" : "patch",
                                                 cp_patch_kind_name(p.kind), region_name(p.region), p.addend));
        for (const auto& [site, offset] : img_.rebased)
            notes_[site].push_back(fmt::format("rebased constant data+{:#x}", offset));
        auto resolved = [&](uint32_t site, const ObjReloc& r, std::string_view what) {
            if (notes_.count(site)) return;  // a load-time patch or a rebased operand, noted above
            const ObjSymbol& sym = in_.db.symbols()[r.symbol];
            // A section symbol (gcc's references to .rodata.cst4) has no name of its own.
            const std::string_view name =
                sym.name.empty() && sym.role == SymbolRole::Defined ? in_.db.sections()[sym.section].name : sym.name;
            notes_[site].push_back(fmt::format("resolved {} {}{}", in_.target.relocation_name(r.type), name, what));
        };
        std::map<uint32_t, uint32_t> immediate(img_.immediates.begin(), img_.immediates.end());
        for (size_t i = 0; i < in_.program.steps.size(); ++i) {
            const Step& step = in_.program.steps[i];
            const Stencil& st = in_.db.stencil(step_name(i));
            for (const TargetInfo::DataField& d : st.data_fields) {
                const uint32_t site = img_.step_offsets[i] + d.offset;
                if (immediate.count(site)) {
                    notes_[site].push_back(fmt::format("immediate const[{}]", step.hole_index));
                    continue;
                }
                notes_[site].push_back(
                    fmt::format("{} {} data+{:#x}", img_.step_far.size() > i && img_.step_far[i] ? "far" : "near",
                                in_.target.data_field_name(d.form), hole_offset(step)));
            }
            for (uint32_t r : st.relocs) {
                const ObjReloc& rel = in_.db.relocs()[r];
                const ObjSymbol& sym = in_.db.symbols()[rel.symbol];
                std::string what;
                if (sym.role == SymbolRole::Continuation) what = " (next stencil)";
                if (sym.role == SymbolRole::Hole && step.hole == HoleKind::Const)
                    what = fmt::format(" (const[{}])", step.hole_index);
                resolved(img_.step_offsets[i] + static_cast<uint32_t>(rel.offset - st.offset), rel, what);
            }
        }
        for (const LinkedImage::Placement& p : img_.aux) {
            if (p.region != CP_REGION_CODE) continue;
            const ObjSection& sec = in_.db.sections()[p.section];
            for (uint32_t r = sec.reloc_begin; r < sec.reloc_end; ++r)
                resolved(p.offset + static_cast<uint32_t>(in_.db.relocs()[r].offset), in_.db.relocs()[r], "");
        }
    }

    // The stencil a step was linked with: the planned one, or its far twin.
    std::string step_name(size_t i) const {
        const std::string_view planned = in_.program.stencil(in_.program.steps[i]);
        return i < img_.step_far.size() && img_.step_far[i] ? far_stencil(planned) : std::string(planned);
    }
    int64_t hole_offset(const Step& step) const {
        return step.hole == HoleKind::Const ? img_.const_offset + int64_t{4} * step.hole_index : int64_t{step.hole_index};
    }

    // "; model.py:42: y = k * x" above the first step of each new source
    // line (like objdump -S): where the user's code made the step's node.
    void source_line(const Step& step) {
        if (step.node == kNone || step.node >= in_.ir.locs.size()) return;
        const SourceLoc loc = in_.ir.locs[step.node];
        if (loc.line == 0 || loc.file >= in_.ir.files.size() || loc == last_loc_) return;
        last_loc_ = loc;
        std::string text;
        if (in_.sources && loc.file < in_.sources->size() && loc.line <= (*in_.sources)[loc.file].size())
            text = (*in_.sources)[loc.file][loc.line - 1];
        const size_t first = text.find_first_not_of(" \t");
        text = first == std::string::npos ? "" : text.substr(first);
        out_ += fmt::format(";\n; {}:{}{}{}\n", in_.ir.files[loc.file], loc.line, text.empty() ? "" : ": ", text);
    }

    void step(size_t i) {
        const Step& step = in_.program.steps[i];
        source_line(step);
        const std::string name = step_name(i);
        const Stencil& st = in_.db.stencil(name);
        const uint32_t at = img_.step_offsets[i];
        const uint32_t end = i + 1 < in_.program.steps.size() ? img_.step_offsets[i + 1] : img_.stencil_bytes;
        std::string line = fmt::format(";\n; step {}: {}", i, name);
        if (step.node != kNone && step.node < in_.ir.nodes.size() && in_.ir.dag_id(in_.ir.nodes[step.node]) >= 0)
            line += fmt::format("  node {}", in_.ir.dag_id(in_.ir.nodes[step.node]));
        if (step.hole == HoleKind::Data) line += fmt::format("  data+{:#x}", step.hole_index);
        if (step.hole == HoleKind::Const)
            line += fmt::format("  const[{}]={:#010x}", step.hole_index, in_.program.consts[step.hole_index]);
        const IrBinding* b = binding_of(step.node);
        const bool access = name.starts_with("io_") || name.starts_with(std::string(kFarPrefix) + "io_");
        if (b && access)  // the access itself, not a move the planner made for its node
            line += fmt::format("  {} {} {:#010x}", b->output ? "store to" : "load from", in_.ir.names[b->name], b->address);
        line += fmt::format("  ({} bytes{})", st.code.size(), st.tail_cut ? ", tail jump cut" : "");
        if (in_.show_ranges && in_.ranges && step.node != kNone && step.node < in_.ranges->ranges.size())
            line += "  in " + in_.ranges->ranges[step.node].str();
        out_ += line + "\n";
        const uint32_t copied = at + static_cast<uint32_t>(st.code.size());
        code(at, copied, st.section, st.offset, /*labels=*/false);
        code(copied, end, kNone, 0, false);  // alignment padding: the target's nop, executed
    }

    void library_section(const LinkedImage::Placement& p) {
        const ObjSection& sec = in_.db.sections()[p.section];
        out_ += fmt::format(";\n; library section {} ({} bytes)\n", p.name, p.size);
        if (sec.exec) code(p.offset, p.offset + p.size, p.section, 0, /*labels=*/true);
        else hex_dump(CP_REGION_CODE, p.offset, p.offset + p.size);
    }

    void padding(uint32_t from, uint32_t to) {
        if (to > from) out_ += fmt::format(";\n; {} bytes of padding\n", to - from);
    }

    const IrBinding* binding_of(uint32_t node) const {
        if (node == kNone || node >= in_.ir.nodes.size() || !is_io(in_.ir.nodes[node].op)) return nullptr;
        for (const IrBinding& b : in_.ir.bindings)
            if (b.node == node) return &b;
        return nullptr;
    }

    // Bound names have no slot: the device register is their storage.
    void bound() {
        if (in_.ir.bindings.empty()) return;
        out_ += fmt::format(";\n; bound inputs and outputs ({}): volatile accesses, loads first, stores last\n",
                            in_.ir.bindings.size());
        for (const IrBinding& b : in_.ir.bindings)
            out_ += fmt::format(";   {:#010x}  {}: {} {}, {} bits\n", b.address, in_.ir.names[b.name], dtype_name(b.dtype),
                                b.output ? "output" : "input", b.width);
    }

    void data_region() {
        const Program& prog = in_.program;
        out_ += fmt::format(";\n; data region ({} bytes): {} value slots, the constants, then library data\n", img_.data.size(),
                            prog.data.size());
        std::map<uint32_t, std::string> names;
        for (const ImageSymbol& s : img_.symbols) {
            if (s.flags & CP_SYM_BOUND) continue;  // listed with the bound ones
            std::string& n = names[s.offset];
            n += fmt::format("{}{}: {} {}", n.empty() ? "" : ", ", s.name, dtype_name(s.dtype), symbol_role(s.flags));
            if (s.flags & CP_SYM_INPUT) n += fmt::format(" (initial {})", format_value(s.dtype, prog.data[s.offset / 4]));
        }
        for (size_t k = 0; k < prog.data.size(); ++k) {
            const uint32_t at = static_cast<uint32_t>(4 * k);
            const auto it = names.find(at);
            out_ += fmt::format("{}  {:#010x}  {}\n", address(CP_REGION_DATA, at), prog.data[k],
                                it == names.end() ? "(temporary)" : it->second);
        }
        out_ += fmt::format("; constants in the data region ({} words)\n", prog.consts.size());
        for (size_t k = 0; k < prog.consts.size(); ++k) {
            const uint32_t at = img_.const_offset + static_cast<uint32_t>(4 * k);
            out_ += fmt::format("{}  {:#010x}  const[{}]\n", address(CP_REGION_DATA, at), prog.consts[k], k);
        }
        for (const LinkedImage::Placement& p : img_.aux) {
            if (p.region != CP_REGION_DATA) continue;
            out_ += p.constant_copy
                        ? fmt::format("; stencil constants from {} ({} bytes), read from the base register\n", p.name, p.size)
                        : fmt::format("; library section {} ({} bytes)\n", p.name, p.size);
            hex_dump(CP_REGION_DATA, p.offset, p.offset + p.size);
        }
    }

    void hex_dump(uint8_t region, uint32_t begin, uint32_t end) {
        const std::vector<uint8_t>& bytes = region == CP_REGION_DATA ? img_.data : img_.code;
        for (uint32_t b = begin; b < end; b += 16) {
            std::string row;
            for (uint32_t k = b; k < std::min(end, b + 16); ++k) row += fmt::format("{}{:02x}", k == b ? "" : " ", bytes[k]);
            out_ += fmt::format("{}  {}\n", address(region, b), row);
        }
    }

    // Code bytes [begin, end) of the image, copied from `section` at
    // `src_offset` (kNone: padding, no section); with the section's function
    // names as labels (library code) or without (a stencil is one function).
    void code(uint32_t begin, uint32_t end, uint32_t section, uint64_t src_offset, bool with_labels) {
        const std::vector<Mark>* marks = section == kNone ? nullptr : &marks_[section];
        const std::map<uint64_t, std::string>* labels =
            section != kNone && with_labels ? &labels_[section] : nullptr;
        uint32_t at = begin;
        while (at < end) {
            // The run of code or data that `at` starts, up to the next mapping symbol.
            bool data = false;
            uint32_t run_end = end;
            if (marks) {
                const uint64_t src = src_offset + (at - begin);
                for (const Mark& m : *marks) {
                    if (m.offset <= src) data = m.data;
                    else {
                        run_end = std::min<uint64_t>(end, begin + (m.offset - src_offset));
                        break;
                    }
                }
            }
            while (at < run_end) {
                if (labels) {
                    const auto l = labels->find(src_offset + (at - begin));
                    if (l != labels->end()) out_ += fmt::format("<{}>:\n", l->second);
                }
                at += data ? data_item(at, run_end) : instruction(at, run_end);
            }
        }
    }

    uint32_t instruction(uint32_t at, uint32_t end) {
        const std::span<const uint8_t> bytes(img_.code.data() + at, end - at);
        const Disassembler::Insn insn = dis_.decode(bytes, code_address(at));
        if (insn.size == 0) return data_item(at, std::min(end, at + dis_.min_insn_size()));
        line(at, bytes.first(insn.size), insn.text, notes_for(at, at + insn.size));
        return insn.size;
    }

    // Up to one aligned word of data in code (literal pools, undecodable bytes).
    uint32_t data_item(uint32_t at, uint32_t end) {
        const uint8_t* p = img_.code.data() + at;
        const uint32_t n = at % 4 == 0 && end - at >= 4 ? 4 : at % 2 == 0 && end - at >= 2 ? 2 : 1;
        const std::string text = n == 4   ? fmt::format(".word   {:#010x}", cp_read_u32(p))
                                 : n == 2 ? fmt::format(".short  {:#06x}", cp_read_u16(p))
                                          : fmt::format(".byte   {:#04x}", p[0]);
        line(at, {p, n}, text, notes_for(at, at + n));
        return n;
    }

    std::string notes_for(uint32_t begin, uint32_t end) const {
        std::string s;
        for (auto it = notes_.lower_bound(begin); it != notes_.end() && it->first < end; ++it)
            for (const std::string& n : it->second) s += (s.empty() ? "" : "; ") + n;
        return s;
    }

    void line(uint32_t at, std::span<const uint8_t> bytes, const std::string& text, const std::string& note) {
        const size_t per_line = (bytes_width_ + 1) / 3;
        std::string hex;
        for (size_t k = 0; k < std::min(per_line, bytes.size()); ++k) hex += fmt::format("{}{:02x}", k ? " " : "", bytes[k]);
        std::string l = fmt::format("{}  {:<{}}  {}", address(CP_REGION_CODE, at), hex, bytes_width_, text);
        if (!note.empty()) l = fmt::format("{:<{}}  ; {}", l, 56, note);
        out_ += l + "\n";
        for (size_t k = per_line; k < bytes.size(); k += per_line) {
            hex.clear();
            for (size_t j = k; j < std::min(bytes.size(), k + per_line); ++j)
                hex += fmt::format("{}{:02x}", j == k ? "" : " ", bytes[j]);
            out_ += fmt::format("{}  {}\n", address(CP_REGION_CODE, at + static_cast<uint32_t>(k)), hex);
        }
    }

    const EmitInput& in_;
    const LinkedImage& img_;
    Disassembler dis_;
    uint32_t bytes_width_ = 11;
    std::map<uint32_t, std::vector<std::string>> notes_;  // code offset -> notes
    std::vector<std::vector<Mark>> marks_;                // per section
    std::vector<std::map<uint64_t, std::string>> labels_; // per section: function starts
    SourceLoc last_loc_;  // of the last source line shown
    std::string out_;
};

}  // namespace

std::string format_listing(const EmitInput& in) { return Listing(in).run(); }

}  // namespace copapy
