#include "emit/disassembler.hpp"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/Triple.h>
#include <llvm/MC/MCAsmInfo.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCDisassembler/MCDisassembler.h>
#include <llvm/MC/MCInst.h>
#include <llvm/MC/MCInstPrinter.h>
#include <llvm/MC/MCInstrAnalysis.h>
#include <llvm/MC/MCInstrInfo.h>
#include <llvm/MC/MCRegisterInfo.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/MCTargetOptions.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>

#include <fmt/format.h>

#include <mutex>

#include "support/error.hpp"

namespace copapy {

namespace {

// What LLVM needs to know to decode a target's code: the triple selects the
// instruction set (thumb* decodes Thumb-2), the CPU the optional extensions
// the stencils use (NEON/VFP on the A-profile cores, fpv4-sp-d16 and the DSP
// instructions on the Cortex-M4F).
// x86's printer adds a branch displacement to the address it is given, which
// must therefore be the end of the instruction (the CPU's view); the ARM and
// AArch64 printers take the instruction's own address and apply the PC bias.
struct McTarget {
    const char* triple;
    const char* cpu;
    uint32_t min_size, max_size;
    bool branch_from_end;
    const char* features = "";  // RISC-V: the generic CPUs have only the base ISA
};

McTarget mc_target(cp_target target) {
    switch (target) {
        case CP_TARGET_X86_64: return {"x86_64-linux-gnu", "x86-64", 1, 15, true};
        case CP_TARGET_AARCH64: return {"aarch64-linux-gnu", "generic", 4, 4, false};
        case CP_TARGET_ARMV7: return {"armv7-linux-gnueabihf", "cortex-a15", 4, 4, false};
        case CP_TARGET_THUMBV7: return {"thumbv7-linux-gnueabihf", "cortex-a15", 2, 4, false};
        case CP_TARGET_THUMBV7EM: return {"thumbv7em-none-eabihf", "cortex-m4", 2, 4, false};
        case CP_TARGET_ARMV6: return {"armv6-linux-gnueabihf", "arm1176jzf-s", 4, 4, false};
        case CP_TARGET_X86: return {"i686-linux-gnu", "pentium4", 1, 15, true};
        case CP_TARGET_RISCV64: return {"riscv64-unknown-linux-gnu", "generic-rv64", 2, 4, false, "+m,+a,+f,+d,+c"};
        case CP_TARGET_RISCV32: return {"riscv32-unknown-elf", "generic-rv32", 2, 4, false, "+m,+a,+f,+c"};
    }
    fail(ErrorKind::Environment, "no disassembler for target {}", static_cast<int>(target));
}

// Only the LLVM targets we decode (the only ones linked), on first use:
// compiling without a listing never registers them.
void initialize_llvm() {
    static std::once_flag once;
    std::call_once(once, [] {
        LLVMInitializeX86TargetInfo();
        LLVMInitializeX86TargetMC();
        LLVMInitializeX86Disassembler();
        LLVMInitializeAArch64TargetInfo();
        LLVMInitializeAArch64TargetMC();
        LLVMInitializeAArch64Disassembler();
        LLVMInitializeARMTargetInfo();
        LLVMInitializeARMTargetMC();
        LLVMInitializeARMDisassembler();
        LLVMInitializeRISCVTargetInfo();
        LLVMInitializeRISCVTargetMC();
        LLVMInitializeRISCVDisassembler();
    });
}

// "\tmovw\tr3, #0" -> "movw    r3, #0": the mnemonic padded to a column,
// the other tabs as single spaces, so listings look the same in any viewer.
std::string tidy(const std::string& s) {
    const size_t begin = s.find_first_not_of(" \t");
    if (begin == std::string::npos) return "";
    std::string out;
    size_t i = begin;
    for (; i < s.size() && s[i] != '\t' && s[i] != ' '; ++i) out += s[i];  // the mnemonic
    if (i < s.size()) out.resize(std::max<size_t>(out.size() + 1, 8), ' ');
    for (i = s.find_first_not_of(" \t", i); i != std::string::npos && i < s.size(); ++i) out += s[i] == '\t' ? ' ' : s[i];
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

}  // namespace

struct Disassembler::Impl {
    std::unique_ptr<llvm::MCRegisterInfo> regs;
    std::unique_ptr<llvm::MCAsmInfo> asm_info;
    std::unique_ptr<llvm::MCSubtargetInfo> subtarget;
    std::unique_ptr<llvm::MCInstrInfo> instrs;
    std::unique_ptr<llvm::MCContext> context;
    std::unique_ptr<llvm::MCDisassembler> disassembler;
    std::unique_ptr<llvm::MCInstPrinter> printer;
    std::unique_ptr<llvm::MCInstrAnalysis> analysis;  // PC-relative memory operands (may be null)
    bool branch_from_end = false;
};

Disassembler::Disassembler(cp_target target) : impl_(std::make_unique<Impl>()) {
    initialize_llvm();
    const McTarget mc = mc_target(target);
    min_size_ = mc.min_size;
    max_size_ = mc.max_size;
    const llvm::Triple triple(mc.triple);
    std::string error;
    const llvm::Target* t = llvm::TargetRegistry::lookupTarget(mc.triple, error);
    if (!t) fail(ErrorKind::Environment, "LLVM cannot disassemble {}: {}", mc.triple, error);
    Impl& m = *impl_;
    const llvm::MCTargetOptions options;
    m.regs.reset(t->createMCRegInfo(mc.triple));
    if (m.regs) m.asm_info.reset(t->createMCAsmInfo(*m.regs, mc.triple, options));
    m.subtarget.reset(t->createMCSubtargetInfo(mc.triple, mc.cpu, mc.features));
    m.instrs.reset(t->createMCInstrInfo());
    if (!m.regs || !m.asm_info || !m.subtarget || !m.instrs)
        fail(ErrorKind::Environment, "LLVM lacks the MC layer for {}", mc.triple);
    m.context = std::make_unique<llvm::MCContext>(triple, m.asm_info.get(), m.regs.get(), m.subtarget.get());
    m.disassembler.reset(t->createMCDisassembler(*m.subtarget, *m.context));
    m.printer.reset(t->createMCInstPrinter(triple, m.asm_info->getAssemblerDialect(), *m.asm_info, *m.instrs, *m.regs));
    if (!m.disassembler || !m.printer) fail(ErrorKind::Environment, "LLVM has no disassembler for {}", mc.triple);
    m.printer->setPrintBranchImmAsAddress(true);
    m.analysis.reset(t->createMCInstrAnalysis(m.instrs.get()));
    m.branch_from_end = mc.branch_from_end;
}

Disassembler::~Disassembler() = default;

Disassembler::Insn Disassembler::decode(std::span<const uint8_t> bytes, uint64_t address) const {
    llvm::MCInst inst;
    uint64_t size = 0;
    const auto status = impl_->disassembler->getInstruction(inst, size, llvm::ArrayRef<uint8_t>(bytes.data(), bytes.size()),
                                                            address, llvm::nulls());
    if (status != llvm::MCDisassembler::Success || size == 0 || size > bytes.size()) return {};
    std::string text;
    llvm::raw_string_ostream os(text);
    impl_->printer->printInst(&inst, impl_->branch_from_end ? address + size : address, "", *impl_->subtarget, os);
    os.flush();
    text = tidy(text);
    // The address a PC-relative load or store reaches ("7815(%rip)", "[pc, #128]"),
    // as a comment in the target's assembler syntax, like objdump.
    if (impl_->analysis)
        if (auto target = impl_->analysis->evaluateMemoryOperandAddress(inst, impl_->subtarget.get(), address, size))
            text += fmt::format("  {} {:#x}", impl_->asm_info->getCommentString().str(), *target);
    return {static_cast<uint32_t>(size), text};
}

}  // namespace copapy
