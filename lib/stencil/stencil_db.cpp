#include "stencil_db.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <llvm/BinaryFormat/Magic.h>
#include <llvm/Object/ELF.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <ios>
#include <system_error>

#include "support/error.hpp"
#include "support/text.hpp"

namespace copapy {

namespace {

template <typename T>
T unwrap(llvm::Expected<T> value, const std::string& path, std::string_view what) {
    if (!value) fail(ErrorKind::Environment, "{}: {}: {}", path, what, llvm::toString(value.takeError()));
    return std::move(*value);
}

// The whole file with one read (its size from fstat). A read error (the
// path is a directory, say) is reported as the stream-based reader before
// this one reported it, an internal error from libstdc++'s filebuf.
std::vector<uint8_t> read_object(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        fail(ErrorKind::Environment, "{}: cannot open stencil object: {}{}", path, std::strerror(e),
             e == ENOENT ? " (give the directory of the stencil objects with --stencils DIR or COPAPY_STENCIL_DIR)"
                         : "");
    }
    std::vector<uint8_t> bytes;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) bytes.resize(static_cast<size_t>(st.st_size) + 1);
    size_t done = 0;
    while (true) {
        if (done == bytes.size()) bytes.resize(done + (1 << 16));  // no size known, or the file grew
        const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            throw std::ios_base::failure("basic_filebuf::underflow error reading the file",
                                         std::error_code(e, std::system_category()));
        }
        if (n == 0) break;
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    bytes.resize(done);
    return bytes;
}

// The symbol names the compiler gives a meaning to (lib/ops/ops.hpp), made once.
struct SpecialNames {
    std::array<std::string, std::size(kAllStates)> continuation;
    std::string hole_i, hole_f;
};
const SpecialNames& special_names() {
    static const SpecialNames names = [] {
        SpecialNames n;
        for (size_t i = 0; i < std::size(kAllStates); ++i) n.continuation[i] = continuation_symbol(kAllStates[i]);
        n.hole_i = std::string(hole_symbol(Kind::I));
        n.hole_f = std::string(hole_symbol(Kind::F));
        return n;
    }();
    return names;
}

constexpr uint32_t kNoSymbol = UINT32_MAX;

size_t name_hash(std::string_view s) { return std::hash<std::string_view>{}(s); }

}  // namespace

// The parts of the object decoded on demand, through libObject's ELFFile
// (whose ELF class and byte order are template parameters).
struct StencilDb::Elf {
    virtual ~Elf() = default;
    virtual void decode_symbol(StencilDb& db, uint32_t i) const = 0;
    virtual void decode_relocations(StencilDb& db, uint32_t section) const = 0;
    virtual void index_functions(StencilDb& db) const = 0;
    virtual std::optional<uint64_t> absolute_value(const StencilDb& db, std::string_view name) const = 0;
};

template <class ELFT>
struct StencilDb::ElfOf final : StencilDb::Elf {
    using Shdr = typename ELFT::Shdr;
    llvm::object::ELFFile<ELFT> file;
    typename ELFT::ShdrRange headers;
    typename ELFT::SymRange syms;
    llvm::StringRef strtab;
    std::vector<uint32_t> rel_section;  // per section: the section holding its relocations

    explicit ElfOf(llvm::object::ELFFile<ELFT> f) : file(std::move(f)) {}

    // Checks the header, reads the section headers, finds the symbol table
    // and gives every section its range of relocation indices.
    void open(StencilDb& db) {
        using namespace llvm::ELF;
        const std::string& path = db.path_;
        // What ELFObjectFile checks when it is created: the section table.
        headers = unwrap(file.sections(), path, "not a valid object file");
        if (file.getHeader().e_type != ET_REL)
            fail(ErrorKind::Environment, "{}: not a relocatable object (ET_REL)", path);
        if (file.getHeader().e_machine != db.target_->elf_machine)
            fail(ErrorKind::Environment, "{}: object is for machine {}, not for target {}", path,
                 file.getHeader().e_machine, db.target_->name);

        db.sections_.resize(headers.size());
        rel_section.assign(headers.size(), 0);
        const Shdr* symtab = nullptr;
        // The section name table is looked up once, not for every section
        // (as getSectionName(sh) would), with the same message if it is bad.
        llvm::Expected<llvm::StringRef> shstrtab = file.getSectionStringTable(headers);
        for (size_t i = 0; i < headers.size(); ++i) {
            const Shdr& sh = headers[i];
            ObjSection& s = db.sections_[i];
            if (!shstrtab) unwrap(std::move(shstrtab), path, "cannot read a section name");
            const llvm::StringRef name = unwrap(file.getSectionName(sh, *shstrtab), path, "cannot read a section name");
            s.name = {name.data(), name.size()};
            s.size = sh.sh_size;
            s.align = std::max<uint64_t>(1, sh.sh_addralign);
            s.alloc = sh.sh_flags & SHF_ALLOC;
            s.write = sh.sh_flags & SHF_WRITE;
            s.exec = sh.sh_flags & SHF_EXECINSTR;
            s.nobits = sh.sh_type == SHT_NOBITS;
            if ((sh.sh_flags & SHF_MERGE) && !(sh.sh_flags & SHF_STRINGS)) s.entsize = sh.sh_entsize;
            if (!s.nobits && sh.sh_type != SHT_NULL) {
                auto data = unwrap(file.getSectionContents(sh), path, "cannot read section '" + std::string(s.name) + "'");
                s.bytes = {data.data(), data.size()};
            }
            if (sh.sh_type == SHT_SYMTAB) symtab = &sh;
        }
        if (!shstrtab) llvm::consumeError(shstrtab.takeError());  // no sections, so no names to read
        if (!symtab) fail(ErrorKind::Environment, "{}: no symbol table", path);
        syms = unwrap(file.symbols(symtab), path, "cannot read the symbol table");
        strtab = unwrap(file.getStringTableForSymtab(*symtab), path, "cannot read the string table");
        db.symbols_.resize(syms.size());

        // Relocation indices in file order; the entries are decoded when
        // their section is first used. (At most one per 8 bytes of the file.)
        uint64_t total = 0;
        for (size_t i = 0; i < headers.size(); ++i) {
            const Shdr& sh = headers[i];
            if (sh.sh_type != SHT_RELA && sh.sh_type != SHT_REL) continue;
            if (sh.sh_info >= db.sections_.size())
                fail(ErrorKind::Environment, "{}: relocation section {} applies to no section", path, i);
            ObjSection& target_sec = db.sections_[sh.sh_info];
            // The table's bounds are checked here (no entry is read yet).
            const uint64_t count = sh.sh_type == SHT_RELA
                                       ? unwrap(file.relas(sh), path, "cannot read relocations").size()
                                       : unwrap(file.rels(sh), path, "cannot read relocations").size();
            if (target_sec.reloc_end != target_sec.reloc_begin)
                fail(ErrorKind::Environment, "{}: section {} has two relocation sections", path, quote(target_sec.name));
            target_sec.reloc_begin = static_cast<uint32_t>(total);
            target_sec.reloc_end = static_cast<uint32_t>(total + count);
            rel_section[sh.sh_info] = static_cast<uint32_t>(i);
            total += count;
        }
        db.relocs_.resize(total);
    }

    void decode_symbol(StencilDb& db, uint32_t i) const override {
        using namespace llvm::ELF;
        const auto& es = syms[i];
        ObjSymbol& s = db.symbols_[i];
        const llvm::StringRef name = unwrap(es.getName(strtab), db.path_, "cannot read a symbol name");
        s.name = {name.data(), name.size()};
        s.size = es.st_size;
        s.function = es.getType() == STT_FUNC;
        s.value = es.st_value;
        // ARM: bit 0 of a function's address marks Thumb code; the code itself
        // starts at the even address.
        if (s.function && (file.getHeader().e_machine == EM_ARM) && (s.value & 1)) {
            s.thumb = true;
            s.value &= ~uint64_t{1};
        }
        if (es.st_shndx == SHN_UNDEF) {
            const SpecialNames& special = special_names();
            s.role = SymbolRole::Undefined;
            for (const std::string& c : special.continuation)
                if (s.name == c) s.role = SymbolRole::Continuation;
            if (s.name == special.hole_i || s.name == special.hole_f) s.role = SymbolRole::Hole;
            // i686 PIC code (musl's libm) finds its constants as GOT-relative
            // offsets from a GOT pointer it computes PC-relative: with the
            // code region's start as the "GOT" both are resolved at compile
            // time (code and library are copied together; there is no GOT).
            if (s.name == "_GLOBAL_OFFSET_TABLE_") s.role = SymbolRole::CodeBase;
        } else if (es.st_shndx < SHN_LORESERVE && es.st_shndx < db.sections_.size()) {
            s.role = SymbolRole::Defined;
            s.section = es.st_shndx;
        } else {
            s.role = SymbolRole::Undefined;  // absolute/common symbols: not supported
        }
        db.symbol_done_[i] = 1;
    }

    void decode_relocations(StencilDb& db, uint32_t section) const override {
        using namespace llvm::ELF;
        ObjSection& target_sec = db.sections_[section];
        if (target_sec.reloc_begin != target_sec.reloc_end) {
            const Shdr& sh = headers[rel_section[section]];
            const std::string& path = db.path_;
            uint32_t at = target_sec.reloc_begin;
            auto add = [&](uint64_t offset, uint32_t type, uint32_t sym, std::optional<int64_t> addend) {
                if (sym >= db.symbols_.size())
                    fail(ErrorKind::Environment, "{}: relocation in {} refers to symbol {} (out of range)", path,
                         quote(target_sec.name), sym);
                ObjReloc r{offset, type, sym, 0, db.target_->classify(type)};
                // The whole field lies in the section's bytes (a section without
                // contents, SHT_NOBITS, has nothing to relocate).
                const unsigned width = r.kind ? cp_patch_kind_width(*r.kind) : 1;
                if (offset >= target_sec.bytes.size() || width > target_sec.bytes.size() - offset)
                    fail(ErrorKind::Environment, "{}: relocation in {} at offset {:#x} is outside the section", path,
                         quote(target_sec.name), offset);
                if (addend) r.addend = *addend;
                else if (r.kind)
                    r.addend = db.target_->implicit_addend(*r.kind, target_sec.bytes.data() + offset);  // REL: the field's content
                db.relocs_[at++] = r;
            };
            if (sh.sh_type == SHT_RELA) {
                for (const auto& r : unwrap(file.relas(sh), path, "cannot read relocations"))
                    add(r.r_offset, r.getType(false), r.getSymbol(false), r.r_addend);
            } else {
                for (const auto& r : unwrap(file.rels(sh), path, "cannot read relocations"))
                    add(r.r_offset, r.getType(false), r.getSymbol(false), std::nullopt);
            }
            std::sort(db.relocs_.begin() + target_sec.reloc_begin, db.relocs_.begin() + at,
                      [](const ObjReloc& a, const ObjReloc& b) { return a.offset < b.offset; });
        }
        db.reloc_done_[section] = 1;
    }

    // The value of the absolute symbol (SHN_ABS) with this name.
    std::optional<uint64_t> absolute_value(const StencilDb& db, std::string_view name) const override {
        for (const auto& es : syms) {
            if (es.st_shndx != llvm::ELF::SHN_ABS) continue;
            const llvm::StringRef n = unwrap(es.getName(strtab), db.path_, "cannot read a symbol name");
            if (std::string_view(n.data(), n.size()) == name) return es.st_value;
        }
        return std::nullopt;
    }

    // Defined functions with a name, by name: the first symbol of a name wins.
    void index_functions(StencilDb& db) const override {
        using namespace llvm::ELF;
        std::vector<uint32_t> functions;
        for (uint32_t i = 0; i < syms.size(); ++i) {
            const auto& es = syms[i];
            if (es.getType() != STT_FUNC || es.st_shndx == SHN_UNDEF || es.st_shndx >= SHN_LORESERVE ||
                es.st_shndx >= db.sections_.size())
                continue;
            const llvm::StringRef name = unwrap(es.getName(strtab), db.path_, "cannot read a symbol name");
            if (name.empty()) continue;
            db.function_names_[i] = {name.data(), name.size()};
            functions.push_back(i);
        }
        size_t cap = 16;
        while (cap < 2 * functions.size()) cap *= 2;
        db.function_slots_.assign(cap, kNoSymbol);
        for (uint32_t i : functions) {
            const std::string_view name = db.function_names_[i];
            for (size_t k = name_hash(name) & (cap - 1);; k = (k + 1) & (cap - 1)) {
                uint32_t& slot = db.function_slots_[k];
                if (slot == kNoSymbol) {
                    slot = i;
                    break;
                }
                if (db.function_names_[slot] == name) break;  // an alias of an earlier symbol
            }
        }
    }
};

// What ObjectFile::createObjectFile would check before handing the file to
// ELFObjectFile, with its messages; anything but a little-endian ELF object
// goes through that generic reader, so its error (or "not a little-endian
// ELF object") is the same as before.
std::unique_ptr<StencilDb> StencilDb::load(const std::string& path, const TargetInfo& target) {
    std::unique_ptr<StencilDb> db(new StencilDb());
    db->target_ = &target;
    db->path_ = path;
    db->file_ = read_object(path);

    using namespace llvm::object;
    const llvm::StringRef bytes(reinterpret_cast<const char*>(db->file_.data()), db->file_.size());
    const llvm::file_magic magic = llvm::identify_magic(bytes);
    const bool elf = magic == llvm::file_magic::elf || magic == llvm::file_magic::elf_relocatable ||
                     magic == llvm::file_magic::elf_executable || magic == llvm::file_magic::elf_shared_object ||
                     magic == llvm::file_magic::elf_core;
    const auto [elf_class, elf_data] = getElfArchType(bytes);
    if (elf && elf_data == llvm::ELF::ELFDATA2LSB && elf_class == llvm::ELF::ELFCLASS64) {
        auto e = std::make_unique<ElfOf<ELF64LE>>(unwrap(ELFFile<ELF64LE>::create(bytes), path, "not a valid object file"));
        e->open(*db);
        db->elf_ = std::move(e);
    } else if (elf && elf_data == llvm::ELF::ELFDATA2LSB && elf_class == llvm::ELF::ELFCLASS32) {
        auto e = std::make_unique<ElfOf<ELF32LE>>(unwrap(ELFFile<ELF32LE>::create(bytes), path, "not a valid object file"));
        e->open(*db);
        db->elf_ = std::move(e);
    } else {
        unwrap(ObjectFile::createObjectFile(llvm::MemoryBufferRef(bytes, path)), path, "not a valid object file");
        fail(ErrorKind::Environment, "{}: not a little-endian ELF object", path);
    }
    db->symbol_done_.assign(db->symbols_.size(), 0);
    db->reloc_done_.assign(db->sections_.size(), 0);
    db->prepared_.resize(db->symbols_.size());
    return db;
}

StencilDb::~StencilDb() = default;

void StencilDb::decode_symbol(uint32_t i) { elf_->decode_symbol(*this, i); }
void StencilDb::decode_relocations(uint32_t section) {
    elf_->decode_relocations(*this, section);
    pair_pcrel_low_parts(section);
}

// A split PC-relative address (RISC-V auipc + addi/load/store): the low
// part's relocation names the label of the auipc, whose own relocation holds
// the target. Both halves encode the distance from the auipc, so the low part
// takes the high part's symbol and addend plus (low site - auipc site): its
// S + A - P is then exactly that distance, wherever the code is loaded.
void StencilDb::pair_pcrel_low_parts(uint32_t section) {
    const ObjSection& sec = sections_[section];
    const auto begin = relocs_.begin() + sec.reloc_begin, end = relocs_.begin() + sec.reloc_end;  // sorted by offset
    for (auto lo = begin; lo != end; ++lo) {
        if (!target_->is_pcrel_low_part(lo->type)) continue;
        const ObjSymbol& label = symbol(lo->symbol);
        const ObjReloc* hi = nullptr;
        if (label.role == SymbolRole::Defined && label.section == section) {
            auto at = std::lower_bound(begin, end, label.value,
                                       [](const ObjReloc& r, uint64_t offset) { return r.offset < offset; });
            for (; at != end && at->offset == label.value && !hi; ++at)
                if (target_->is_pcrel_high_part(at->type)) hi = &*at;
        }
        if (!hi)
            fail(ErrorKind::Environment,
                 "{}: section {}: relocation {} at offset {:#x} refers to {}, which labels no high-part relocation in "
                 "the same section",
                 path_, quote(sec.name), target_->relocation_name(lo->type), lo->offset, quote(label.name));
        lo->symbol = hi->symbol;
        lo->addend = hi->addend + (static_cast<int64_t>(lo->offset) - static_cast<int64_t>(hi->offset));
    }
}

std::span<const ObjSymbol> StencilDb::symbols() {
    if (!all_symbols_done_) {
        for (uint32_t i = 0; i < symbols_.size(); ++i)
            if (!symbol_done_[i]) decode_symbol(i);
        all_symbols_done_ = true;
    }
    return symbols_;
}

std::span<const ObjReloc> StencilDb::relocs() {
    if (all_relocs_done_) return relocs_;
    symbols();  // a full read checks the symbols first
    // In the order of the relocation sections, as their indices were given.
    std::vector<uint32_t> order;
    for (uint32_t s = 0; s < sections_.size(); ++s)
        if (!reloc_done_[s] && sections_[s].reloc_begin != sections_[s].reloc_end) order.push_back(s);
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return sections_[a].reloc_begin < sections_[b].reloc_begin; });
    for (uint32_t s : order) decode_relocations(s);
    all_relocs_done_ = true;
    return relocs_;
}

uint32_t StencilDb::find_function(std::string_view name) {
    if (!functions_indexed_) {
        function_names_.assign(symbols_.size(), {});
        elf_->index_functions(*this);
        functions_indexed_ = true;
    }
    const size_t mask = function_slots_.size() - 1;
    for (size_t k = name_hash(name) & mask;; k = (k + 1) & mask) {
        const uint32_t slot = function_slots_[k];
        if (slot == kNoSymbol || function_names_[slot] == name) return slot;
    }
}

bool StencilDb::has_function(std::string_view name) { return find_function(name) != kNoSymbol; }

std::optional<State> StencilDb::continuation_state(const ObjSymbol& s) const {
    if (s.role != SymbolRole::Continuation) return std::nullopt;
    const SpecialNames& special = special_names();
    for (size_t i = 0; i < std::size(kAllStates); ++i)
        if (s.name == special.continuation[i]) return kAllStates[i];
    return std::nullopt;
}

int StencilDb::float_parks() {
    const auto n = elf_->absolute_value(*this, "cp_park_f");
    if (!n) return 0;
    if (*n > static_cast<uint64_t>(kMaxParks))
        fail(ErrorKind::Environment, "{}: cp_park_f is {}, more than the {} park registers the compiler knows", path_, *n,
             kMaxParks);
    return static_cast<int>(*n);
}

std::optional<NearAbi> StencilDb::near_abi() {
    if (!near_abi_) {
        const auto bias = elf_->absolute_value(*this, "cp_data_bias");
        const auto marker = elf_->absolute_value(*this, "cp_near_marker");
        const auto far_relative = elf_->absolute_value(*this, "cp_far_relative");
        if (bias && marker)
            near_abi_ = NearAbi{static_cast<int32_t>(static_cast<uint32_t>(*bias)),
                                static_cast<int32_t>(static_cast<uint32_t>(*marker)), far_relative && *far_relative != 0};
        else
            near_abi_ = std::optional<NearAbi>();
    }
    return *near_abi_;
}

const Stencil& StencilDb::stencil(std::string_view name) {
    const uint32_t i = find_function(name);
    if (i == kNoSymbol)
        fail(ErrorKind::Environment, "{}: no stencil '{}' (is the stencil object out of date?)", path_, name);
    auto& slot = prepared_[i];
    if (!slot) slot = std::make_unique<Stencil>(prepare(i));
    return *slot;
}

Stencil StencilDb::prepare(uint32_t symbol_index) {
    const ObjSymbol& sym = symbol(symbol_index);
    const ObjSection& sec = sections_[sym.section];
    if (!sec.exec || sec.nobits || sym.value > sec.bytes.size() || sym.size > sec.bytes.size() - sym.value)
        fail(ErrorKind::Environment, "{}: stencil '{}' is not code inside its section {}", path_, sym.name,
             quote(sec.name));
    Stencil st;
    st.name = sym.name;
    st.section = sym.section;
    st.offset = sym.value;
    st.full_size = static_cast<uint32_t>(sym.size);
    st.align = static_cast<uint32_t>(std::min<uint64_t>(sec.align, target_->max_stencil_align));
    if (sym.value % st.align != 0) st.align = 1;  // not at an aligned offset in its section: nothing to keep
    std::span<const uint8_t> code = sec.bytes.subspan(sym.value, sym.size);
    st.code = code;

    relocations(sym.section);
    for (uint32_t i = sec.reloc_begin; i < sec.reloc_end; ++i) {
        const ObjReloc& r = relocs_[i];
        if (r.offset < sym.value || r.offset >= sym.value + sym.size) continue;
        const ObjSymbol& target_sym = symbol(r.symbol);
        if (!r.kind)
            fail(ErrorKind::Environment, "{}: stencil '{}': unsupported relocation {} against {} at offset {:#x}",
                 path_, sym.name, target_->relocation_name(r.type), quote(target_sym.name), r.offset - sym.value);
        if (target_sym.role == SymbolRole::Undefined)
            fail(ErrorKind::Environment, "{}: stencil '{}' refers to undefined symbol {}", path_, sym.name,
                 quote(target_sym.name));
        st.relocs.push_back(i);
    }
    // Every continuation of one stencil must hand over the same register
    // state; the linker checks it against the next step's.
    for (uint32_t i : st.relocs) {
        if (auto s = continuation_state(symbols_[relocs_[i].symbol])) {
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
    // Near memory operands: a stencil with a far twin addresses its operand
    // through exactly one data offset field, every other stencil through none
    // (a second field, or one the target file does not recognise, would leave
    // the marker offset in the code). A far stencil has at most one, of a
    // wider form (AArch64's movz/movk), or none (it uses relocations).
    if (const auto abi = near_abi()) {
        st.data_fields = target_->find_data_fields(st.code, abi->marker);
        const bool far = sym.name.starts_with(kFarPrefix);
        const size_t want = !far && has_function(far_stencil(sym.name)) ? 1 : 0;
        if (far ? st.data_fields.size() > 1 : st.data_fields.size() != want)
            fail(ErrorKind::Environment,
                 "{}: stencil '{}' has {} data offset fields (base register + {:#x}), expected {}", path_, st.name,
                 st.data_fields.size(), abi->marker, far ? "at most 1" : std::to_string(want));
    }
    return st;
}

}  // namespace copapy
