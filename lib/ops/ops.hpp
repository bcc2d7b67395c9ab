// Operations, types and the stencil naming scheme, derived from ops.def.
//
// Shared by the compiler and by the stencil generator so that the names the
// generator emits are exactly the names the compiler looks up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace copapy {

// Value types of the DAG. Numbering matches enum cp_dtype in copapy/image.h.
enum class DType : uint8_t { Int = 1, Float = 2, Bool = 3 };

std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view s);

// Machine class of a value: which register file and stencil variant it uses.
// bool is an int holding 0 or 1.
enum class Kind : uint8_t { I, F };
constexpr Kind kind_of(DType t) { return t == DType::Float ? Kind::F : Kind::I; }
constexpr char kind_char(Kind k) { return k == Kind::F ? 'f' : 'i'; }

// How an op's result type follows from its operand types (see docs/dag-format.md).
enum class Typing : uint8_t { Num2, Fdiv, Pow, MinMax, Num1, Cmp, Bits, Shift, Math, Select, Cast, Conv, Grad };

enum OpFlag : uint8_t { Comm = 1, Internal = 2, Lowered = 4, Libm = 8, Io = 16 };  // see ops.def

enum class Op : uint8_t {
#define OP(id, name, arity, typing, flags, ibody, fbody) id,
#include "ops.def"
#undef OP
    Input,  // a named value the host may write before each run
    Const,  // a constant
    State,  // a named value that keeps its value across runs (updated at the end of each run)
};

struct OpInfo {
    std::string_view name;
    uint8_t arity;
    Typing typing;
    uint8_t flags;
    const char* int_body;    // C expression for int operands, or nullptr
    const char* float_body;  // C expression for float operands, or nullptr
};

// Every op's row (ops.def, then the internal leaf ops): in the header so
// that the compiler's per-node lookups are inlined.
inline constexpr OpInfo kOpInfo[] = {
#define OP(id, name, arity, typing, flags, ibody, fbody) {name, arity, Typing::typing, flags, ibody, fbody},
#include "ops.def"
#undef OP
    {"input", 0, Typing::Cast, Internal, nullptr, nullptr},
    {"const", 0, Typing::Cast, Internal, nullptr, nullptr},
    {"state", 0, Typing::Cast, Internal, nullptr, nullptr},
};

inline const OpInfo& op_info(Op op) { return kOpInfo[static_cast<size_t>(op)]; }
inline std::string_view op_name(Op op) { return op_info(op).name; }
inline bool is_commutative(Op op) { return op_info(op).flags & Comm; }

inline bool is_io(Op op) { return op_info(op).flags & Io; }

inline bool is_leaf(Op op) { return op == Op::Input || op == Op::Const || op == Op::State; }

// Looks up an op by its DAG name (internal ops are not found).
std::optional<Op> op_from_name(std::string_view name);

// Every op with a row in ops.def, for iteration.
inline constexpr Op kTableOps[] = {
#define OP(id, name, arity, typing, flags, ibody, fbody) Op::id,
#include "ops.def"
#undef OP
};

// Machine class of the result of `op` applied to operands of class `operand`
// (for select: the class of the selected values; the condition is always I).
inline Kind result_kind(Op op, Kind operand) {
    switch (op_info(op).typing) {
        case Typing::Cmp:
        case Typing::Bits:
        case Typing::Shift: return Kind::I;
        case Typing::Fdiv:
        case Typing::Grad:
        case Typing::Math: return Kind::F;
        case Typing::Conv: return op == Op::Itof ? Kind::F : Kind::I;
        default: return operand;
    }
}

// Does the op have a stencil for operands of this class?
bool has_variant(Op op, Kind operand);

// ---- Stencil ABI ----------------------------------------------------------
// Two virtual registers r0 and r1 carry values between stencils. Every stencil
// and continuation has the one C signature
//     void f(int32_t i0, int32_t i1, float f0, float f1)
// and r0 lives in i0 or f0 by its class, r1 in i1 or f1; the pair a state does
// not use is dead (stencils pass unspecified values there). So a value stays in
// the machine register of its class and never moves between register files
// because of the argument position. The register state ("ii", "fi", ...)
// names which of the pair is live. Every stencil ends with a tail call to
// result_<s0><s1>, the placeholder for the next stencil.
//
// The data region is addressed from a base register that every stencil
// reserves (a gcc global register variable, see gen_stencils.cpp; callee-saved
// in the platform ABI, so library code preserves it). The entry stencil sets
// it from its argument, cp_entry(uint8_t *data), the exit stencil restores the
// caller's value. A memory operand is `*(T *)(base + marker)`: the target file
// finds that instruction field (TargetInfo::find_data_fields) and the linker
// writes the operand's offset into it. Where an offset does not fit, the
// linker uses the stencil's "far" twin (far_<name>), whose operand is the
// placeholder cp_hole_i / cp_hole_f resolved through relocations (an absolute
// address, patched at load time).
struct State {
    Kind r0, r1;
    friend bool operator==(State, State) = default;
};
inline constexpr State kAllStates[] = {{Kind::I, Kind::I}, {Kind::I, Kind::F}, {Kind::F, Kind::I}, {Kind::F, Kind::F}};

std::string state_suffix(State s);                         // "if"
std::string continuation_symbol(State s);                  // "result_if"
std::string_view hole_symbol(Kind k);                      // "cp_hole_f"
inline constexpr std::string_view kEntryStencil = "cp_entry";  // starts in state ii
inline constexpr std::string_view kExitStencil = "cp_exit";    // returns to the host

// Compute: r0 = op(r0[, r1]) (select: r0 = r0 ? r1 : *hole). State is the
// operand classes: binary (a, a); unary (a, anything); select (I, a).
std::string op_stencil(Op op, State s);                    // "add_ff", "sin_fi"
std::string load_stencil(int reg, Kind k, State s);        // "ld0_f_ii": reg = *hole
std::string store_stencil(int reg, State s);               // "st1_if": *hole = reg
std::string swap_stencil(State s);                         // "swap_if": exchange r0, r1
std::string dup_stencil(State s);                          // "dup_fi": r1 = r0
std::string mov_stencil(State s);                          // "mov_fi": r0 = r1

// Memory-operand variants; r1 is left untouched. State: (operand class, r1's).
std::string op_mem_stencil(Op op, State s);                // "sub_m_ff": r0 = r0 - *hole
std::string op_rmem_stencil(Op op, State s);               // "sub_rm_ff": r0 = *hole - r0 (non-commutative)
std::string unary_mem_stencil(Op op, Kind k, State s);     // "neg_m_f_ii": r0 = -*hole (hole of class k)

// Park registers: float values kept in callee-saved FP registers between
// uses (gcc global register variables, see gen_stencils.cpp), so they survive
// every stencil and library call. A target has 0 ... kMaxParks of them (the
// stencil object's absolute symbol cp_park_f says how many); park k is "p3".
inline constexpr int kMaxParks = 16;
std::string park_get_stencil(int reg, int park, State s);  // "get0_p3_ii": reg = park
std::string park_put_stencil(int reg, int park, State s);  // "put1_p3_if": park = reg (a float)
std::string park_store_stencil(int park, State s);         // "stp3_ii": *hole = park
std::string park_load_stencil(int park, State s);          // "ldp3_ii": park = *hole
// Ops with park-operand variants (r1 untouched): r0 = r0 op park, r0 = park op
// r0 (non-commutative), select: r0 = r0 ? r1 : park. Binary float ops that
// are one FPU instruction (no library call) and select.
bool has_park_variant(Op op);
std::string op_park_stencil(Op op, int park, State s);     // "mul_p3_ff"
std::string op_rpark_stencil(Op op, int park, State s);    // "sub_rp3_fi"

// Does the op's stencil for operands of class `operand` (may) call a library
// function: libm, the helpers built on fmodf or integer division
// (__aeabi_idivmod on ARMv7-A), and rounding, a call where the FPU has no
// instruction for it? Such a stencil leaves r1 (and the unused pair) with
// unspecified values, so that nothing has to be kept alive across the call:
// the planner saves what r1 holds first.
bool op_calls(Op op, Kind operand);

// Binary ops whose result may go to r1 instead (r1 = r0 op r1, r0 kept):
// every binary op with a register form that does not call.
bool has_to1_variant(Op op, Kind operand);
std::string op_to1_stencil(Op op, State s);                // "add_to1_ff"
// Non-commutative ones also in reverse, r0 = r1 op r0 (instead of a swap).
bool has_rreg_variant(Op op, Kind operand);
std::string op_rreg_stencil(Op op, State s);               // "sub_rr_ff"

// Multiply-add: r0 = r0 + x * y for float operands, the planner's fusion of
// a float mul whose only use is the float add that follows it (the product
// is rounded before the addition, as two ops: Arm's VMLA, elsewhere a
// multiply and an add in one stencil). x, y: r1 and a park, r1 and memory,
// a park and memory, or two parks; r1 is left untouched. State: (F, r1's
// class), (F, F) where r1 or two parks are read.
std::string mla_r1_park_stencil(int park);                 // "mla_r1_p3_ff": r0 += r1 * park
std::string mla_r1_mem_stencil();                          // "mla_r1_m_ff": r0 += r1 * *hole
std::string mla_park_mem_stencil(int park, State s);       // "mla_p3_m_fi": r0 += park * *hole
std::string mla_park_park_stencil(int p, int q);           // "mla_p3_p5_ff": r0 += p3 * p5 (p < q)
// The accumulator in r1 (r1 = r1 + r0 * y, r0 kept):
std::string mla_to1_park_stencil(int park);                // "mla_to1_p3_ff": r1 += r0 * park
std::string mla_to1_mem_stencil();                         // "mla_to1_m_ff": r1 += r0 * *hole

// The far twin of a memory-operand stencil: "far_add_m_ff".
inline constexpr std::string_view kFarPrefix = "far_";
std::string far_stencil(std::string_view name);

}  // namespace copapy
