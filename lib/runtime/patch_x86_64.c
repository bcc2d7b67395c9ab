/*
 * x86-64 encoders. psABI: "System V Application Binary Interface, AMD64
 * Architecture Processor Supplement" (https://gitlab.com/x86-psABIs/x86-64-ABI).
 *
 * Quirks that matter here:
 * - Instructions have variable length and no alignment, so a patch site is a
 *   bare 32-bit field somewhere inside an instruction and there is no opcode
 *   to check: the field is simply overwritten.
 * - RIP-relative operands are relative to the END of the instruction, not to
 *   the field. For R_X86_64_PC32/PLT32 the distance from the field to the end
 *   of the instruction (usually 4, more when an immediate follows the
 *   displacement) is already folded into the ELF addend (typically -4), so
 *   the encoder writes V - P with P = the field's own address.
 * - PLT32 is treated like PC32: copied code has no PLT, calls go directly.
 * - rel32 reaches +-2 GiB, which is why the runner maps code and data in one
 *   block.
 */
#include "patch_internal.h"

/* R_X86_64_PC32 / R_X86_64_PLT32: S + A - P as a little-endian int32. */
cp_status cp_encode_x86_64_rel32(uint8_t *site, uint64_t q) {
    cp_write_u32(site, (uint32_t)q);
    return CP_OK;
}
