// Instruction decoding for listings, with LLVM's MC layer: the MC and
// disassembler components of the three instruction sets, linked statically
// (COPAPY_LLVM_DISASM_LIBS) and set up only when a listing is made.
#pragma once

#include <copapy/image.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace copapy {

class Disassembler {
public:
    // Sets LLVM up for the target's instruction set and CPU (the one the
    // stencils are compiled for). Throws Error (Environment) if this LLVM
    // build lacks the target.
    explicit Disassembler(cp_target target);
    ~Disassembler();
    Disassembler(const Disassembler&) = delete;
    Disassembler& operator=(const Disassembler&) = delete;

    struct Insn {
        uint32_t size = 0;  // 0: not a valid instruction
        std::string text;   // "movw r3, #0", operands separated from the mnemonic by spaces
    };
    // Decodes the instruction at the start of `bytes`, which lives at
    // `address` (branch targets are printed as absolute addresses).
    Insn decode(std::span<const uint8_t> bytes, uint64_t address) const;

    // The smallest instruction (the step over bytes that do not decode):
    // 1 on x86, 2 in Thumb, 4 for ARM state and AArch64.
    uint32_t min_insn_size() const { return min_size_; }
    // The longest instruction's byte count, for column widths.
    uint32_t max_insn_size() const { return max_size_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    uint32_t min_size_ = 1, max_size_ = 4;
};

}  // namespace copapy
