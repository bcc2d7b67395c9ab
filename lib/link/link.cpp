#include "link.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <map>

#include "support/bits.hpp"
#include "support/error.hpp"
#include "support/text.hpp"

namespace copapy {

PatchRange patch_range(unsigned kind) {
    switch (kind) {
#define CP_X_RANGE(name, value, check, lo, hi) \
    case value: return {check, lo, hi};
        CP_PATCH_KINDS(CP_X_RANGE)
#undef CP_X_RANGE
    }
    return {0, 0, 0};
}

namespace {

constexpr uint32_t kNoSection = UINT32_MAX;

// A relocation waiting for its target's address. (Where its copy starts and
// ends follows from the step, or for an aux section from its placement.)
struct Fixup {
    uint32_t site;      // in the code
    uint32_t reloc;     // index into db.relocs()
    uint32_t step;      // the step it belongs to, or kNone for aux sections
    uint32_t section;   // the object section the bytes came from
};

class Linker {
public:
    Linker(const Program& p, StencilDb& db) : prog_(p), db_(db), target_(db.target()) {
        placed_.assign(db.section_count(), kNoSection);
        in_data_.assign(db.section_count(), false);
    }

    LinkedImage run() {
        // The data region: the program's slots, then the constants (addressed
        // like slots, from the base register), then library data.
        const_base_ = static_cast<uint32_t>(4 * prog_.data.size());
        if (const auto abi = db_.near_abi()) {
            bias_ = abi->bias;
            far_relative_ = abi->far_relative;
        }
        img_.target = target_.id;
        img_.code_align = target_.code_align;
        img_.data_align = target_.data_align;
        img_.flags = target_.thumb ? CP_FLAG_THUMB_ENTRY : 0;
        copy_stencils();
        img_.stencil_bytes = static_cast<uint32_t>(img_.code.size());
        // The stencils' relocations, then those of the sections they pull in
        // (pulling a section may reveal more references: a worklist). Each
        // distinct stencil once, in the order of first use: a section is
        // first referenced at the first use of some stencil, so sections are
        // placed (and problems found) in the order a walk over every step
        // would give.
        for (uint32_t k = 0; k < stencils_.size(); ++k) {
            const Stencil& st = *stencils_[k];
            for (uint32_t r : st.relocs) {
                if (rebased(st, r)) copy_to_data(copy_key(r));
                else pull_target(Fixup{0, r, first_step_[k], st.section});
            }
        }
        for (size_t i = 0; i < aux_fixups_.size(); ++i) pull_target(aux_fixups_[i]);
        place_data();
        resolve_steps();
        for (const Fixup& f : aux_fixups_) resolve(f);
        // Patches come out in site order (steps, then library sections, in
        // placement order); sort only if that ever changes.
        auto by_site = [](const ImagePatch& a, const ImagePatch& b) { return a.site < b.site; };
        if (!std::is_sorted(img_.patches.begin(), img_.patches.end(), by_site))
            std::sort(img_.patches.begin(), img_.patches.end(), by_site);
        img_.symbols = prog_.symbols;
        return std::move(img_);
    }

private:
    // Regions stay below 1 GiB: offsets are u32 and patch addends i32 in the
    // image, and a broken stencil object may claim any section size.
    static constexpr uint64_t kMaxRegion = uint64_t{1} << 30;
    void reserve_room(const std::vector<uint8_t>& region, uint64_t more, std::string_view what) const {
        check_room(region.size(), more, what);
    }
    void check_room(uint64_t size, uint64_t more, std::string_view what) const {
        if (more > kMaxRegion || size + more > kMaxRegion)
            fail(ErrorKind::Environment, "{}: the program's {} would exceed {} bytes (adding {} bytes)", db_.path(),
                 what, kMaxRegion, more);
    }

    // Where the code is padded to a multiple of `a` from `size`: the bytes
    // align_code() adds.
    uint64_t padding(uint64_t size, uint64_t a, bool executed) const {
        const auto& nop = target_.nop;
        uint64_t n = 0;
        while ((size + n) % a) n += executed && !nop.empty() && (size + n) % nop.size() == 0 && a % nop.size() == 0 ? nop.size() : 1;
        return n;
    }

    // Pads the code to a multiple of `a`: with the target's nop where
    // execution falls through (between stencils), else with zeros.
    void align_code(uint64_t a, bool executed = false) {
        const auto& nop = target_.nop;
        while (img_.code.size() % a) {
            if (executed && !nop.empty() && img_.code.size() % nop.size() == 0 && a % nop.size() == 0)
                img_.code.insert(img_.code.end(), nop.begin(), nop.end());
            else
                img_.code.push_back(0);
        }
    }

    // The stencil of each step, looked up, checked and measured first (in
    // step order, so errors come as they would while copying), so that the
    // code is allocated once.
    void copy_stencils() {
        const size_t n = prog_.steps.size();
        step_stencil_.reserve(n);
        img_.step_offsets.reserve(n);
        img_.step_far.reserve(n);
        // The database is asked once per distinct stencil name (and far twin).
        std::vector<uint32_t> by_name(prog_.stencil_names.size(), kNone);  // name index -> index into stencils_
        std::vector<uint32_t> far_by_name(prog_.stencil_names.size(), kNone);
        auto distinct = [&](uint32_t& found, std::string_view name, uint32_t i) -> uint32_t {
            if (found == kNone) {
                found = static_cast<uint32_t>(stencils_.size());
                stencils_.push_back(&db_.stencil(name));
                first_step_.push_back(i);
            }
            return found;
        };
        uint64_t size = 0;
        for (uint32_t i = 0; i < n; ++i) {
            const Step& step = prog_.steps[i];
            uint32_t k = distinct(by_name[step.stencil], prog_.stencil(step), i);
            const Stencil& near = *stencils_[k];
            bool far = false;
            if (!near.data_fields.empty()) {
                if (step.hole == HoleKind::None)
                    fail(ErrorKind::Environment, "{}: stencil '{}' has a memory operand the program does not give it",
                         db_.path(), near.name);
                const int64_t disp = hole_offset(step) - bias_;
                for (const TargetInfo::DataField& f : near.data_fields) far = far || !target_.data_field_fits(f.form, disp);
                // A constant beyond reach that every field takes as an immediate needs no far twin.
                if (far && step.hole == HoleKind::Const && all_immediate(near, prog_.consts[step.hole_index])) far = false;
                if (far) {
                    // The twin's name is made and looked up once per stencil (on x86
                    // most operands of a large program are far).
                    if (far_by_name[step.stencil] == kNone) {
                        const std::string twin = far_stencil(near.name);
                        if (!db_.has_function(twin))
                            fail(ErrorKind::Environment,
                                 "{}: stencil '{}': data offset {} does not fit its {} field and there is no '{}'",
                                 db_.path(), near.name, disp, target_.data_field_name(near.data_fields[0].form), twin);
                        distinct(far_by_name[step.stencil], twin, i);
                    }
                    k = far_by_name[step.stencil];
                    for (const TargetInfo::DataField& f : stencils_[k]->data_fields)
                        if (!target_.data_field_fits(f.form, disp))
                            fail(ErrorKind::Environment, "{}: stencil '{}': data offset {} does not fit its {} field",
                                 db_.path(), stencils_[k]->name, disp, target_.data_field_name(f.form));
                    ++img_.far_operands;
                } else {
                    ++img_.near_operands;
                }
            }
            const Stencil& st = *stencils_[k];
            check_continuation(i, st);
            size += padding(size, st.align, /*executed=*/true);
            check_room(size, st.code.size() + st.align, "code");
            size += st.code.size();
            step_stencil_.push_back(k);
            img_.step_far.push_back(far);
        }
        img_.code.reserve(size);
        for (uint32_t i = 0; i < n; ++i) {
            const Stencil& st = stencil_of(i);
            align_code(st.align, /*executed=*/true);
            img_.step_offsets.push_back(static_cast<uint32_t>(img_.code.size()));
            img_.code.insert(img_.code.end(), st.code.begin(), st.code.end());
        }
    }

    // True if every data field of `st` can hold the constant `bits` as an
    // immediate (TargetInfo::write_immediate, tried on a copy).
    bool all_immediate(const Stencil& st, uint32_t bits) const {
        for (const TargetInfo::DataField& f : st.data_fields) {
            std::array<uint8_t, 8> insn{};
            std::memcpy(insn.data(), st.code.data() + f.offset, std::min<size_t>(insn.size(), st.code.size() - f.offset));
            if (!target_.write_immediate(f.form, insn.data(), bits)) return false;
        }
        return true;
    }

    // The data offset of a step's memory operand.
    int64_t hole_offset(const Step& step) const {
        return step.hole == HoleKind::Const ? const_base_ + int64_t{4} * step.hole_index : int64_t{step.hole_index};
    }

    const Stencil& stencil_of(uint32_t step) const { return *stencils_[step_stencil_[step]]; }

    // A stencil relocation with what does not depend on the step worked
    // out: resolving a step is then arithmetic on its offset and its hole.
    enum class Target : uint8_t { Next, Hole, Self, Placed, Rebased, Undefined };
    struct StencilReloc {
        uint32_t at;      // of the field in the copy
        uint32_t reloc;   // index into db.relocs(), for messages
        Target target;
        cp_patch_kind kind;
        uint8_t region;   // of a Placed target
        bool thumb;       // the target is Thumb code
        bool pic;         // resolved at compile time when the target is code
        int64_t value;    // Self: the symbol's offset from the stencil; Placed: in its region; Rebased: in data
        int64_t addend;
    };

    std::vector<StencilReloc> plan_relocs(const Stencil& st) const {
        std::vector<StencilReloc> out;
        for (uint32_t r : st.relocs) {
            const ObjReloc& rel = db_.reloc(r);
            const ObjSymbol& sym = db_.symbol(rel.symbol);
            StencilReloc p{static_cast<uint32_t>(rel.offset - st.offset), r, Target::Undefined, *rel.kind,
                           CP_REGION_CODE, sym.thumb, target_.position_independent(*rel.kind), 0, rel.addend};
            switch (sym.role) {
                case SymbolRole::Continuation: p.target = Target::Next; break;
                case SymbolRole::Hole: p.target = Target::Hole; break;
                case SymbolRole::Defined:
                    if (sym.section == st.section) {
                        p.target = Target::Self;
                        p.value = static_cast<int64_t>(sym.value - st.offset);
                    } else if (rebased(st, r)) {
                        p.target = Target::Rebased;
                        const DataCopy& c = data_copies_[copy_index_.at(copy_key(r))];
                        p.value = int64_t{c.placed} - static_cast<int64_t>(c.start) + static_cast<int64_t>(sym.value);
                    } else {
                        p.target = Target::Placed;
                        p.region = in_data_[sym.section] ? CP_REGION_DATA : CP_REGION_CODE;
                        p.value = placed_[sym.section] + static_cast<int64_t>(sym.value);
                    }
                    break;
                case SymbolRole::CodeBase:
                    p.target = Target::Placed;  // the code region's start: region code, value 0
                    break;
                case SymbolRole::Undefined: break;
            }
            out.push_back(p);
        }
        return out;
    }

    // resolve() for every relocation of every step, in step order, with the
    // same results and errors.
    void resolve_steps() {
        std::vector<std::vector<StencilReloc>> plans(stencils_.size());
        for (uint32_t k = 0; k < stencils_.size(); ++k) plans[k] = plan_relocs(*stencils_[k]);
        for (uint32_t i = 0; i < step_stencil_.size(); ++i) {
            const uint32_t at = img_.step_offsets[i];
            const Stencil& st = *stencils_[step_stencil_[i]];
            for (const StencilReloc& p : plans[step_stencil_[i]]) {
                const Fixup f{at + p.at, p.reloc, i, st.section};
                uint8_t region = CP_REGION_CODE;
                int64_t value = 0;  // S + A, relative to the region's start
                switch (p.target) {
                    case Target::Next: value = at + st.code.size(); break;  // the end of this copy
                    case Target::Hole: {
                        const Step& step = prog_.steps[i];
                        if (step.hole != HoleKind::None) {
                            region = CP_REGION_DATA;
                            value = hole_offset(step);
                        } else {
                            fail(ErrorKind::Environment,
                                 "{}: stencil '{}' has a memory operand the program does not give it", db_.path(),
                                 st.name);
                        }
                        break;
                    }
                    case Target::Self: value = at + p.value; break;  // inside this very copy
                    case Target::Placed:
                        region = p.region;
                        value = p.value;
                        break;
                    case Target::Rebased:
                        target_.rebase_operand(img_.code.data() + f.site);
                        far_offset(f, p.kind, p.value + p.addend - bias_);
                        img_.rebased.emplace_back(f.site, static_cast<uint32_t>(p.value + p.addend));
                        continue;
                    case Target::Undefined:
                        fail(ErrorKind::Environment, "{}: {} refers to undefined symbol {}", db_.path(), origin(f),
                             quote(db_.symbol(db_.reloc(p.reloc).symbol).name));
                }
                if (p.thumb && (p.target == Target::Self || p.target == Target::Placed)) value |= 1;
                if (p.target == Target::Hole && far_relative_) {
                    far_offset(f, p.kind, value - bias_ + p.addend);
                    continue;
                }
                apply(f, p.kind, region, value + p.addend, p.pic);
            }
            // Near memory operands: the offset from the base register, or a
            // constant as the instruction's immediate where it fits.
            const Step& step = prog_.steps[i];
            for (const TargetInfo::DataField& d : st.data_fields) {
                uint8_t* site = img_.code.data() + at + d.offset;
                if (step.hole == HoleKind::Const && target_.write_immediate(d.form, site, prog_.consts[step.hole_index])) {
                    img_.immediates.emplace_back(at + d.offset, step.hole_index);
                    continue;
                }
                target_.write_data_field(d.form, site, hole_offset(step) - bias_);
            }
        }
    }

    // A stencil must continue in the register state the next step was
    // planned for (only the exit stencil may end the program): a stale or
    // foreign stencil object is an error here, not wrong code.
    void check_continuation(uint32_t i, const Stencil& st) const {
        const bool last = i + 1 == prog_.steps.size();
        if (last) {
            if (st.next)
                fail(ErrorKind::Environment, "{}: the last stencil '{}' does not return", db_.path(), st.name);
            return;
        }
        const State want = prog_.steps[i + 1].in;
        if (!st.next)
            fail(ErrorKind::Environment, "{}: stencil '{}' never continues to the next one (is the stencil object out of date?)",
                 db_.path(), st.name);
        if (!(*st.next == want))
            fail(ErrorKind::Environment,
                 "{}: stencil '{}' continues in register state {}, the program expects {} (is the stencil object out of date?)",
                 db_.path(), st.name, state_suffix(*st.next), state_suffix(want));
    }

    // True if stencil relocation `r` is a constant operand the stencil can
    // address from its base register (TargetInfo::rebasable_operand): a
    // read-only section without relocations of its own, copied into the data
    // region (copy_to_data) and addressed there with no patch.
    bool rebased(const Stencil& st, uint32_t r) const {
        const ObjReloc& rel = db_.reloc(r);
        const ObjSymbol& sym = db_.symbol(rel.symbol);
        if (sym.role != SymbolRole::Defined || sym.section == st.section) return false;
        const ObjSection& sec = db_.section(sym.section);
        // The operand must point into the section (a broken object's addend may not).
        const int64_t at = static_cast<int64_t>(sym.value) + rel.addend;
        return sec.alloc && !sec.write && !sec.exec && sec.reloc_begin == sec.reloc_end && at >= 0 &&
               static_cast<uint64_t>(at) < sec.size &&
               target_.rebasable_operand(st.code, static_cast<uint32_t>(rel.offset - st.offset), rel.type);
    }

    // What a rebased operand needs copied into the data region: its whole
    // section, or of a section of merged constants (entsize) only the entry
    // it reads, so that a sign mask costs 16 bytes of RAM, not the whole
    // .rodata.cst16. A library function may still use the same section from
    // the code region (i686: musl's and the stencils' .rodata.cst4 are one
    // merged section): that is a second, independent placement.
    struct DataCopy {
        uint32_t section;
        uint64_t start, size;  // the bytes of the section copied
        uint32_t placed = 0;   // their offset in the data region
    };
    // (section, first byte copied) of a rebased() operand, which lies in its section.
    using CopyKey = std::pair<uint32_t, uint64_t>;
    CopyKey copy_key(uint32_t r) const {
        const ObjReloc& rel = db_.reloc(r);
        const ObjSymbol& sym = db_.symbol(rel.symbol);
        const uint64_t entsize = db_.section(sym.section).entsize;
        const uint64_t at = sym.value + static_cast<uint64_t>(rel.addend);
        return {sym.section, entsize ? at / entsize * entsize : 0};
    }
    // Queues the copy a rebased operand needs (placed by place_data).
    void copy_to_data(const CopyKey& key) {
        if (copy_index_.count(key)) return;
        const ObjSection& sec = db_.section(key.first);
        DataCopy c{key.first, 0, sec.size};
        if (sec.entsize) {
            c.start = key.second;
            c.size = std::min(sec.entsize, sec.size - c.start);  // rebased(): start < size
        }
        copy_index_.emplace(key, static_cast<uint32_t>(data_copies_.size()));
        data_copies_.push_back(c);
    }

    // Places the section a fixup's symbol lives in, if not yet placed, and
    // queues that section's own relocations.
    void pull_target(Fixup f) {  // by value: aux_fixups_ grows below
        const ObjReloc& rel = db_.reloc(f.reloc);
        const ObjSymbol& sym = db_.symbol(rel.symbol);
        if (sym.role != SymbolRole::Defined) return;
        if (f.step != kNone && sym.section == f.section) return;  // within the stencil itself
        const uint32_t s = sym.section;
        if (placed_[s] != kNoSection) return;
        const ObjSection& sec = db_.section(s);
        if (!sec.alloc)
            fail(ErrorKind::Environment, "{}: {} refers to {} in non-allocated section {}", db_.path(),
                 origin(f), quote(sym.name), quote(sec.name));
        if (sec.write) {
            // Writable data goes to the data region (placed after the slots).
            in_data_[s] = true;
            data_sections_.push_back(s);
            placed_[s] = 0;
            if (sec.reloc_end != sec.reloc_begin)
                fail(ErrorKind::Environment, "{}: writable section {} has relocations (not supported)", db_.path(),
                     quote(sec.name));
            return;
        }
        reserve_room(img_.code, sec.size + 4096, "code");
        align_code(std::min<uint64_t>(sec.align, 4096));
        placed_[s] = static_cast<uint32_t>(img_.code.size());
        img_.aux.push_back({std::string(sec.name), CP_REGION_CODE, placed_[s], static_cast<uint32_t>(sec.size), s});
        if (sec.nobits) img_.code.resize(img_.code.size() + sec.size, 0);
        else img_.code.insert(img_.code.end(), sec.bytes.begin(), sec.bytes.end());
        db_.relocations(s);  // decoded now, if no stencil of this section was used
        for (uint32_t r = sec.reloc_begin; r < sec.reloc_end; ++r) {
            const ObjReloc& rr = db_.reloc(r);
            if (!rr.kind)  // stencils are checked when prepared; library code here
                fail(ErrorKind::Environment, "{}: section {}: unsupported relocation {} against {} at offset {:#x}",
                     db_.path(), quote(sec.name), target_.relocation_name(rr.type), quote(db_.symbol(rr.symbol).name), rr.offset);
            aux_fixups_.push_back({placed_[s] + static_cast<uint32_t>(rr.offset), r, kNone, s});
        }
    }

    void place_data() {
        reserve_room(img_.data, 4 * (uint64_t{prog_.data.size()} + prog_.consts.size()), "data");
        img_.data.resize((prog_.data.size() + prog_.consts.size()) * 4);
        for (size_t i = 0; i < prog_.data.size(); ++i) cp_write_u32(img_.data.data() + 4 * i, prog_.data[i]);
        img_.const_offset = const_base_;
        for (size_t i = 0; i < prog_.consts.size(); ++i)
            cp_write_u32(img_.data.data() + const_base_ + 4 * i, prog_.consts[i]);
        for (uint32_t s : data_sections_) placed_[s] = append_data(s, 0, db_.section(s).size, false);
        for (DataCopy& c : data_copies_) c.placed = append_data(c.section, c.start, c.size, true);
    }

    // Appends bytes [start, start + size) of section `s` to the data region at
    // the section's alignment, records the placement, returns its offset.
    uint32_t append_data(uint32_t s, uint64_t start, uint64_t size, bool constant_copy) {
        const ObjSection& sec = db_.section(s);
        reserve_room(img_.data, size + 4096, "data");
        while (img_.data.size() % std::min<uint64_t>(sec.align, 4096)) img_.data.push_back(0);
        const auto at = static_cast<uint32_t>(img_.data.size());
        // Named with the entry's offset where only one entry of the section is copied.
        std::string name = size == sec.size ? std::string(sec.name) : fmt::format("{}+{:#x}", sec.name, start);
        img_.aux.push_back({std::move(name), CP_REGION_DATA, at, static_cast<uint32_t>(size), s, constant_copy});
        if (sec.nobits) img_.data.resize(img_.data.size() + size, 0);
        else img_.data.insert(img_.data.end(), sec.bytes.begin() + start, sec.bytes.begin() + start + size);
        return at;
    }

    std::string origin(const Fixup& f) const {
        if (f.step != kNone) return fmt::format("stencil '{}'", stencil_of(f.step).name);
        return fmt::format("section {}", quote(db_.section(f.section).name));
    }

    void resolve(const Fixup& f) {
        const ObjReloc& rel = db_.reloc(f.reloc);
        const ObjSymbol& sym = db_.symbol(rel.symbol);
        const cp_patch_kind kind = *rel.kind;  // checked when the stencil was prepared
        uint8_t region = CP_REGION_CODE;
        int64_t value = 0;  // S + A, relative to the region's start
        switch (sym.role) {
            case SymbolRole::Continuation:
                if (f.step == kNone)
                    fail(ErrorKind::Environment, "{}: {} jumps to continuation {} outside a stencil", db_.path(),
                         origin(f), quote(sym.name));
                value = img_.step_offsets[f.step] + stencil_of(f.step).code.size();  // the end of this copy
                break;
            case SymbolRole::Hole: {
                if (f.step == kNone)
                    fail(ErrorKind::Environment, "{}: {} uses hole {} outside a stencil", db_.path(), origin(f),
                         quote(sym.name));
                const Step& step = prog_.steps[f.step];
                if (step.hole != HoleKind::None) {
                    region = CP_REGION_DATA;
                    value = hole_offset(step);
                } else {
                    fail(ErrorKind::Environment, "{}: stencil '{}' has a memory operand the program does not give it",
                         db_.path(), stencil_of(f.step).name);
                }
                break;
            }
            case SymbolRole::Defined:
                if (f.step != kNone && sym.section == f.section) {
                    // inside this very copy
                    value = img_.step_offsets[f.step] + static_cast<int64_t>(sym.value - stencil_of(f.step).offset);
                } else {
                    region = in_data_[sym.section] ? CP_REGION_DATA : CP_REGION_CODE;
                    value = placed_[sym.section] + static_cast<int64_t>(sym.value);
                }
                if (sym.thumb) value |= 1;  // interworking: branch/address targets Thumb code
                break;
            case SymbolRole::CodeBase: break;  // the code region's start
            case SymbolRole::Undefined:
                fail(ErrorKind::Environment, "{}: {} refers to undefined symbol '{}'", db_.path(), origin(f), sym.name);
        }
        if (target_.code_base_relative(rel.type)) {
            if (region != CP_REGION_CODE)
                fail(ErrorKind::Environment, "{}: {}: {} to {} in the data region (only code-region targets are supported)",
                     db_.path(), origin(f), target_.relocation_name(rel.type), quote(sym.name));
            return code_offset(f, kind, value + rel.addend);
        }
        apply(f, kind, region, value + rel.addend, target_.position_independent(kind));
    }

    // An offset from the code region's start (code_base_relative), written now.
    void code_offset(const Fixup& f, cp_patch_kind kind, int64_t value) {
        const cp_status st =
            cp_patch_apply(kind, img_.code.data() + f.site, static_cast<uint64_t>(value) & 0xffff'ffffu, f.site);
        if (st != CP_OK) report(f, st, value);
        ++img_.resolved;
    }

    // An operand as an offset from the base register (a far stencil's
    // movw/movt pair, a rebased operand's disp32), written now, in two's
    // complement.
    void far_offset(const Fixup& f, cp_patch_kind kind, int64_t disp) {
        if (kind != CP_PATCH_ARM_MOVW && kind != CP_PATCH_ARM_MOVT && kind != CP_PATCH_THM_MOVW &&
            kind != CP_PATCH_THM_MOVT && kind != CP_PATCH_ABS32)
            fail(ErrorKind::Environment, "{}: {}: relocation {} cannot hold a base-relative operand offset", db_.path(),
                 origin(f), target_.relocation_name(db_.reloc(f.reloc).type));
        const cp_status st =
            cp_patch_apply(kind, img_.code.data() + f.site, static_cast<uint64_t>(disp) & 0xffff'ffffu, f.site);
        if (st != CP_OK) report(f, st, disp);
        ++img_.resolved;
    }

    // A resolved value (S + A in its region): written into the code now if
    // that does not depend on load addresses, else a patch.
    void apply(const Fixup& f, cp_patch_kind kind, uint8_t region, int64_t value, bool pic) {
        if (region == CP_REGION_CODE && pic) {
            const cp_status st = cp_patch_apply(kind, img_.code.data() + f.site, static_cast<uint64_t>(value), f.site);
            if (st != CP_OK) report(f, st, value - f.site);
            ++img_.resolved;
            return;
        }
        if (value < INT32_MIN || value > INT32_MAX)
            fail(ErrorKind::Environment, "{}: {}: target offset {} of relocation {} does not fit the image", db_.path(),
                 origin(f), value, target_.relocation_name(db_.reloc(f.reloc).type));
        img_.patches.push_back({f.site, static_cast<uint8_t>(kind), region, static_cast<int32_t>(value)});
    }

    [[noreturn]] void report(const Fixup& f, cp_status st, int64_t value) {
        const ObjReloc& rel = db_.reloc(f.reloc);
        const ObjSymbol& sym = db_.symbol(rel.symbol);
        const PatchRange r = patch_range(*rel.kind);
        if (st == CP_ERR_PATCH_RANGE)
            fail(ErrorKind::Environment,
                 "{}: relocation {} against '{}' at code offset {:#x}: value {} is out of range [{}, {}] for {}",
                 origin(f), target_.relocation_name(rel.type), sym.name, f.site, value, r.lo, r.hi,
                 cp_patch_kind_name(*rel.kind));
        fail(ErrorKind::Environment, "{}: relocation {} against '{}' at code offset {:#x}: {}", origin(f),
             target_.relocation_name(rel.type), sym.name, f.site, cp_status_message(st));
    }

    const Program& prog_;
    StencilDb& db_;
    const TargetInfo& target_;
    LinkedImage img_;
    std::vector<const Stencil*> stencils_;  // the distinct stencils used
    std::vector<uint32_t> first_step_;      // per distinct stencil: the first step using it
    std::vector<uint32_t> step_stencil_;    // per step: index into stencils_
    std::vector<Fixup> aux_fixups_;         // relocations of the library sections pulled in
    std::vector<uint32_t> placed_;  // section -> offset in its region
    std::vector<bool> in_data_;
    std::vector<uint32_t> data_sections_;
    std::vector<DataCopy> data_copies_;  // copied into the data region for rebased operands, in order
    std::map<CopyKey, uint32_t> copy_index_;  // copy_key -> index into data_copies_
    uint32_t const_base_ = 0;  // the constants in the data region
    int64_t bias_ = 0;         // the base register holds data + bias_
    bool far_relative_ = false;  // far operands are base-relative (NearAbi)
};

}  // namespace

LinkedImage link_program(const Program& program, StencilDb& db) { return Linker(program, db).run(); }

static_assert(sizeof(ImagePatch) == CP_PATCH_SIZE && offsetof(ImagePatch, site) == CP_PATCH_SITE &&
                  offsetof(ImagePatch, kind) == CP_PATCH_KIND && offsetof(ImagePatch, region) == CP_PATCH_REGION &&
                  offsetof(ImagePatch, reserved) == CP_PATCH_RESERVED && offsetof(ImagePatch, addend) == CP_PATCH_ADDEND,
              "ImagePatch is laid out as a patch table entry");

uint32_t image_field_u32(uint64_t value, std::string_view what) {
    if (value > UINT32_MAX)
        fail(ErrorKind::Input, "the image would be too large: {} is {}, more than the image format's limit of {}", what,
             value, UINT32_MAX);
    return static_cast<uint32_t>(value);
}

ImageParts::ImageParts(const LinkedImage& img) {
    // Every size, count and offset below is checked against its u32 field
    // before anything is written (the string table last, as it is built).
    const uint32_t code_size = image_field_u32(img.code.size(), "the code size");
    const uint32_t data_size = image_field_u32(img.data.size(), "the data size");
    const uint32_t patch_count = image_field_u32(img.patches.size(), "the number of patches");
    const uint32_t symbol_count = image_field_u32(img.symbols.size(), "the number of named values");
    std::string strtab;
    std::vector<uint32_t> name_offsets;
    name_offsets.reserve(img.symbols.size());
    for (const ImageSymbol& s : img.symbols) {
        name_offsets.push_back(image_field_u32(strtab.size(), "a string table offset"));
        strtab += s.name;
        strtab.push_back('\0');
    }
    const uint32_t strtab_size = image_field_u32(strtab.size(), "the string table size");
    // Section offsets, in the order of include/copapy/image.h.
    const size_t code_at = CP_HEADER_SIZE;
    const size_t data_at = align_up(code_at + img.code.size(), 4);
    const size_t patch_at = align_up(data_at + img.data.size(), 4);
    const size_t sym_at = patch_at + CP_PATCH_SIZE * img.patches.size();
    const size_t str_at = sym_at + CP_SYMBOL_SIZE * img.symbols.size();
    const size_t crc_at = align_up(str_at + strtab.size(), 4);
    size_ = crc_at + 4;

    uint8_t* o = header_.data();
    header_.fill(0);
    std::memcpy(o, CP_IMAGE_MAGIC, CP_IMAGE_MAGIC_SIZE);
    cp_write_u16(o + CP_HDR_VERSION, CP_IMAGE_VERSION);
    cp_write_u16(o + CP_HDR_TARGET, static_cast<uint16_t>(img.target));
    cp_write_u32(o + CP_HDR_FLAGS, img.flags);
    cp_write_u32(o + CP_HDR_CODE_SIZE, code_size);
    cp_write_u32(o + CP_HDR_CODE_ALIGN, img.code_align);
    cp_write_u32(o + CP_HDR_DATA_SIZE, data_size);
    cp_write_u32(o + CP_HDR_DATA_ALIGN, img.data_align);
    cp_write_u32(o + CP_HDR_ENTRY, img.entry);
    cp_write_u32(o + CP_HDR_PATCH_COUNT, patch_count);
    cp_write_u32(o + CP_HDR_SYMBOL_COUNT, symbol_count);
    cp_write_u32(o + CP_HDR_STRTAB_SIZE, strtab_size);
    if (img.flags & CP_FLAG_FIXED_ADDR) {
        cp_write_u64(o + CP_HDR_CODE_ADDR, img.code_addr);
        cp_write_u64(o + CP_HDR_DATA_ADDR, img.data_addr);
    }

    // The tables after the data: every byte written (padding as zeros), so
    // the buffer needs no clearing first. The patch table is the patches'
    // own memory where that is laid out as in the image.
    const bool patches_as_stored = std::endian::native == std::endian::little;
    const size_t tail_at = patches_as_stored ? sym_at : patch_at;
    tail_size_ = size_ - tail_at;
    tail_.reset(new uint8_t[tail_size_]);
    uint8_t* t = tail_.get() - tail_at;  // indexed by image offsets
    if (!patches_as_stored) {
        for (size_t i = 0; i < img.patches.size(); ++i) {
            const ImagePatch& p = img.patches[i];
            uint8_t* e = t + patch_at + CP_PATCH_SIZE * i;
            std::memset(e, 0, CP_PATCH_SIZE);
            cp_write_u32(e + CP_PATCH_SITE, p.site);
            e[CP_PATCH_KIND] = p.kind;
            e[CP_PATCH_REGION] = p.region;
            cp_write_u32(e + CP_PATCH_ADDEND, static_cast<uint32_t>(p.addend));
        }
    }
    for (size_t i = 0; i < img.symbols.size(); ++i) {
        const ImageSymbol& s = img.symbols[i];
        uint8_t* e = t + sym_at + CP_SYMBOL_SIZE * i;
        std::memset(e, 0, CP_SYMBOL_SIZE);
        cp_write_u32(e + CP_SYM_NAME, name_offsets[i]);
        cp_write_u32(e + CP_SYM_OFFSET, s.offset);
        e[CP_SYM_DTYPE] = static_cast<uint8_t>(s.dtype);
        e[CP_SYM_FLAGS] = s.flags;
        cp_write_u32(e + CP_SYM_LO, s.lo);
        cp_write_u32(e + CP_SYM_HI, s.hi);
    }
    std::copy(strtab.begin(), strtab.end(), t + str_at);
    std::fill(t + str_at + strtab.size(), t + crc_at, uint8_t{0});

    parts_ = {{header_.data(), header_.size()},
              {img.code.data(), img.code.size()},
              {zeros_.data(), data_at - code_at - img.code.size()},
              {img.data.data(), img.data.size()},
              {zeros_.data(), patch_at - data_at - img.data.size()}};
    if (patches_as_stored)
        parts_.push_back({reinterpret_cast<const uint8_t*>(img.patches.data()), CP_PATCH_SIZE * img.patches.size()});
    parts_.push_back({tail_.get(), tail_size_ - 4});
    // zlib's CRC-32, the one cp_crc32 (which the runner checks with) computes
    // a nibble at a time to stay small: the same value, an order of magnitude faster.
    uLong crc = crc32_z(0, Z_NULL, 0);
    for (const auto& part : parts_)  // (an empty vector's data() may be null, which would restart the CRC)
        if (!part.empty()) crc = crc32_z(crc, part.data(), part.size());
    cp_write_u32(t + crc_at, static_cast<uint32_t>(crc));
    parts_.back() = {tail_.get(), tail_size_};
}

std::vector<uint8_t> ImageParts::join() const {
    std::vector<uint8_t> out;
    out.reserve(size_);
    for (const auto& part : parts_) out.insert(out.end(), part.begin(), part.end());
    return out;
}

std::vector<uint8_t> write_image(const LinkedImage& img) { return ImageParts(img).join(); }

}  // namespace copapy
