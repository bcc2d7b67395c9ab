#include "stencil_db.hpp"

#include <llvm/Object/ELF.h>
#include <llvm/Object/ELFObjectFile.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "support/error.hpp"

namespace copapy {

namespace {

template <typename T>
T unwrap(llvm::Expected<T> value, const std::string& path, std::string_view what) {
    if (!value) fail(ErrorKind::Environment, "{}: {}: {}", path, what, llvm::toString(value.takeError()));
    return std::move(*value);
}

}  // namespace

std::unique_ptr<StencilDb> StencilDb::load(const std::string& path, const TargetInfo& target) {
    std::unique_ptr<StencilDb> db(new StencilDb());
    db->target_ = &target;
    db->path_ = path;
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(ErrorKind::Environment, "{}: cannot open stencil object", path);
    db->file_.assign(std::istreambuf_iterator<char>(in), {});

    llvm::StringRef bytes(reinterpret_cast<const char*>(db->file_.data()), db->file_.size());
    auto obj = unwrap(llvm::object::ObjectFile::createObjectFile(llvm::MemoryBufferRef(bytes, path)), path,
                      "not a valid object file");
    if (auto* e = llvm::dyn_cast<llvm::object::ELF64LEObjectFile>(obj.get()))
        db->read<llvm::object::ELF64LE>(&e->getELFFile());
    else if (auto* e32 = llvm::dyn_cast<llvm::object::ELF32LEObjectFile>(obj.get()))
        db->read<llvm::object::ELF32LE>(&e32->getELFFile());
    else
        fail(ErrorKind::Environment, "{}: not a little-endian ELF object", path);
    return db;
}

template <class ELFT>
void StencilDb::read(const void* object) {
    const auto& f = *static_cast<const llvm::object::ELFFile<ELFT>*>(object);
    using namespace llvm::ELF;
    if (f.getHeader().e_type != ET_REL)
        fail(ErrorKind::Environment, "{}: not a relocatable object (ET_REL)", path_);
    if (f.getHeader().e_machine != target_->elf_machine)
        fail(ErrorKind::Environment, "{}: object is for machine {}, not for target {}", path_,
             f.getHeader().e_machine, target_->name);

    auto sections = unwrap(f.sections(), path_, "cannot read section headers");
    sections_.resize(sections.size());
    const typename ELFT::Shdr* symtab = nullptr;
    for (size_t i = 0; i < sections.size(); ++i) {
        const auto& sh = sections[i];
        ObjSection& s = sections_[i];
        s.name = unwrap(f.getSectionName(sh), path_, "cannot read a section name").str();
        s.size = sh.sh_size;
        s.align = std::max<uint64_t>(1, sh.sh_addralign);
        s.alloc = sh.sh_flags & SHF_ALLOC;
        s.write = sh.sh_flags & SHF_WRITE;
        s.exec = sh.sh_flags & SHF_EXECINSTR;
        s.nobits = sh.sh_type == SHT_NOBITS;
        if (!s.nobits && sh.sh_type != SHT_NULL) {
            auto data = unwrap(f.getSectionContents(sh), path_, "cannot read section '" + s.name + "'");
            s.bytes = {data.data(), data.size()};
        }
        if (sh.sh_type == SHT_SYMTAB) symtab = &sh;
    }
    if (!symtab) fail(ErrorKind::Environment, "{}: no symbol table", path_);

    auto syms = unwrap(f.symbols(symtab), path_, "cannot read the symbol table");
    auto strtab = unwrap(f.getStringTableForSymtab(*symtab), path_, "cannot read the string table");
    symbols_.resize(syms.size());
    for (size_t i = 0; i < syms.size(); ++i) {
        const auto& es = syms[i];
        ObjSymbol& s = symbols_[i];
        s.name = unwrap(es.getName(strtab), path_, "cannot read a symbol name").str();
        s.size = es.st_size;
        s.function = es.getType() == STT_FUNC;
        s.value = es.st_value;
        // ARM: bit 0 of a function's address marks Thumb code; the code itself
        // starts at the even address.
        if (s.function && (f.getHeader().e_machine == EM_ARM) && (s.value & 1)) {
            s.thumb = true;
            s.value &= ~uint64_t{1};
        }
        if (es.st_shndx == SHN_UNDEF) {
            s.role = SymbolRole::Undefined;
            for (State st : kAllStates)
                if (s.name == continuation_symbol(st)) s.role = SymbolRole::Continuation;
            if (s.name == hole_symbol(Kind::I) || s.name == hole_symbol(Kind::F)) s.role = SymbolRole::Hole;
        } else if (es.st_shndx < SHN_LORESERVE && es.st_shndx < sections_.size()) {
            s.role = SymbolRole::Defined;
            s.section = es.st_shndx;
            if (s.function && !s.name.empty()) functions_.emplace(s.name, static_cast<uint32_t>(i));
        } else {
            s.role = SymbolRole::Undefined;  // absolute/common symbols: not supported
        }
    }

    for (size_t i = 0; i < sections.size(); ++i) {
        const auto& sh = sections[i];
        if (sh.sh_type != SHT_RELA && sh.sh_type != SHT_REL) continue;
        if (sh.sh_info >= sections_.size())
            fail(ErrorKind::Environment, "{}: relocation section {} applies to no section", path_, i);
        ObjSection& target_sec = sections_[sh.sh_info];
        const uint32_t begin = static_cast<uint32_t>(relocs_.size());
        auto add = [&](uint64_t offset, uint32_t type, uint32_t sym, std::optional<int64_t> addend) {
            if (sym >= symbols_.size())
                fail(ErrorKind::Environment, "{}: relocation in '{}' refers to symbol {} (out of range)", path_,
                     target_sec.name, sym);
            ObjReloc r{offset, type, sym, 0, target_->classify(type)};
            // The whole field lies in the section's bytes (a section without
            // contents, SHT_NOBITS, has nothing to relocate).
            const unsigned width = r.kind ? cp_patch_kind_width(*r.kind) : 1;
            if (offset >= target_sec.bytes.size() || width > target_sec.bytes.size() - offset)
                fail(ErrorKind::Environment, "{}: relocation in '{}' at offset {:#x} is outside the section",
                     path_, target_sec.name, offset);
            if (addend) r.addend = *addend;
            else if (r.kind) r.addend = target_->implicit_addend(*r.kind, target_sec.bytes.data() + offset);  // REL: the field's content
            relocs_.push_back(r);
        };
        if (sh.sh_type == SHT_RELA) {
            for (const auto& r : unwrap(f.relas(sh), path_, "cannot read relocations"))
                add(r.r_offset, r.getType(false), r.getSymbol(false), r.r_addend);
        } else {
            for (const auto& r : unwrap(f.rels(sh), path_, "cannot read relocations"))
                add(r.r_offset, r.getType(false), r.getSymbol(false), std::nullopt);
        }
        std::sort(relocs_.begin() + begin, relocs_.end(),
                  [](const ObjReloc& a, const ObjReloc& b) { return a.offset < b.offset; });
        if (target_sec.reloc_end != target_sec.reloc_begin)
            fail(ErrorKind::Environment, "{}: section '{}' has two relocation sections", path_, target_sec.name);
        target_sec.reloc_begin = begin;
        target_sec.reloc_end = static_cast<uint32_t>(relocs_.size());
    }
}

bool StencilDb::has_function(std::string_view name) const { return functions_.count(std::string(name)) != 0; }

std::optional<State> StencilDb::continuation_state(const ObjSymbol& s) const {
    if (s.role != SymbolRole::Continuation) return std::nullopt;
    for (State st : kAllStates)
        if (s.name == continuation_symbol(st)) return st;
    return std::nullopt;
}

const Stencil& StencilDb::stencil(std::string_view name) {
    auto it = functions_.find(std::string(name));
    if (it == functions_.end())
        fail(ErrorKind::Environment, "{}: no stencil '{}' (is the stencil object out of date?)", path_, name);
    auto& slot = prepared_[it->second];
    if (!slot) slot = std::make_unique<Stencil>(prepare(symbols_[it->second]));
    return *slot;
}

Stencil StencilDb::prepare(const ObjSymbol& sym) {
    const ObjSection& sec = sections_[sym.section];
    if (!sec.exec || sec.nobits || sym.value > sec.bytes.size() || sym.size > sec.bytes.size() - sym.value)
        fail(ErrorKind::Environment, "{}: stencil '{}' is not code inside its section '{}'", path_, sym.name,
             sec.name);
    Stencil st;
    st.name = sym.name;
    st.section = sym.section;
    st.offset = sym.value;
    st.full_size = static_cast<uint32_t>(sym.size);
    st.align = static_cast<uint32_t>(std::min<uint64_t>(sec.align, target_->max_stencil_align));
    if (sym.value % st.align != 0) st.align = 1;  // not at an aligned offset in its section: nothing to keep
    std::span<const uint8_t> code = sec.bytes.subspan(sym.value, sym.size);
    st.code = code;

    for (uint32_t i = sec.reloc_begin; i < sec.reloc_end; ++i) {
        const ObjReloc& r = relocs_[i];
        if (r.offset < sym.value || r.offset >= sym.value + sym.size) continue;
        const ObjSymbol& target_sym = symbols_[r.symbol];
        if (!r.kind)
            fail(ErrorKind::Environment, "{}: stencil '{}': unsupported relocation {} against '{}' at offset {:#x}",
                 path_, sym.name, target_->relocation_name(r.type), target_sym.name, r.offset - sym.value);
        if (target_sym.role == SymbolRole::Undefined)
            fail(ErrorKind::Environment, "{}: stencil '{}' refers to undefined symbol '{}'", path_, sym.name,
                 target_sym.name);
        st.relocs.push_back(i);
    }
    // Every continuation of one stencil must hand over the same register
    // state; the linker checks it against the next step's.
    for (uint32_t i = sec.reloc_begin; i < sec.reloc_end; ++i) {
        const ObjReloc& r = relocs_[i];
        if (r.offset < sym.value || r.offset >= sym.value + sym.size) continue;
        if (auto s = continuation_state(symbols_[r.symbol])) {
            if (st.next && !(*st.next == *s))
                fail(ErrorKind::Environment, "{}: stencil '{}' continues in two register states ({} and {})", path_,
                     sym.name, continuation_symbol(*st.next), continuation_symbol(*s));
            st.next = s;
        }
    }
    // The jump to the continuation that ends the function is cut off: the
    // next stencil follows directly. Decided from the last relocation, never
    // from a guessed instruction length.
    if (!st.relocs.empty()) {
        const ObjReloc& last = relocs_[st.relocs.back()];
        if (symbols_[last.symbol].role == SymbolRole::Continuation) {
            if (auto start = target_->tail_jump_start(code, static_cast<uint32_t>(last.offset - sym.value), last.type)) {
                st.code = code.first(*start);
                st.tail_cut = true;
                st.relocs.pop_back();
            }
        }
    }
    return st;
}

template void StencilDb::read<llvm::object::ELF64LE>(const void*);
template void StencilDb::read<llvm::object::ELF32LE>(const void*);

}  // namespace copapy
