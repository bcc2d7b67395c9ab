// Generates the stencil C source from the op table (lib/ops/ops.def).
//
// Usage: gen_stencils STENCILS.c FOLD.c
//
// FOLD.c is for the compiler itself: cp_fold() evaluates an op on constants
// with the very C bodies the stencils use (compiled by the host gcc), so
// constant folding computes exactly what the generated code would.
//
// Every stencil is a C function void f(int32_t i0, int32_t i1, float f0,
// float f1) holding the virtual registers r0 and r1 by class, and ends in a
// tail call to the continuation placeholder result_<state>. gcc turns that
// call into a jump, which the compiler strips when it copies stencils end to
// end. A stencil with a memory operand is emitted twice: near (base register +
// an offset field the compiler writes) and far_<name> (the cp_hole_*
// placeholder, an absolute address). See lib/ops/ops.hpp for the ABI and the
// naming scheme shared with the compiler.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "ops.hpp"

using namespace copapy;

namespace {

const char* ctype(Kind k) { return k == Kind::F ? "float" : "int32_t"; }

// The C parameter that holds virtual register `reg` (0 or 1) of class k.
std::string reg(int r, Kind k) { return std::string(k == Kind::F ? "f" : "i") + char('0' + r); }

// A stencil: the body's operands bound to registers (and the memory operand,
// written HOLE_I / HOLE_F), statements, and the registers it hands over.
struct Spec {
    std::string name;
    State in, out;
    std::string bind;   // declarations of the body's operands
    std::string stmts;  // e.g. a store
    std::string r0, r1; // the output registers' values (expressions)
    bool hole = false;  // has a memory operand: emitted near and far
    bool calls = false; // may call a library function
};

std::string bind(const char* name, int r, Kind k) {
    return std::string("__attribute__((unused)) ") + ctype(k) + " " + name + " = " + reg(r, k) + "; ";
}
std::string bind_hole(const char* name, Kind k) {
    return std::string(ctype(k)) + " " + name + " = " + (k == Kind::F ? "HOLE_F" : "HOLE_I") + "; ";
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

// The function text. The pair of parameters the output state does not use
// is passed through unchanged (no instruction) or, in a stencil that calls a
// library function, gets unspecified values (CP_DEAD_*), and so does r1, so
// that nothing has to be kept alive across the call (op_calls in ops.hpp;
// the planner saves r1's value first, in a park if it can).
std::string text(const Spec& sp, const std::string& name, bool far) {
    std::string body = sp.bind + sp.stmts + ctype(sp.out.r0) + " o0 = " + sp.r0 + "; " +
                       "__attribute__((unused)) " + ctype(sp.out.r1) + " o1 = " + sp.r1 + "; ";
    body = replace_all(body, "HOLE_F", far ? "CP_FAR_F" : "CP_NEAR_F");
    body = replace_all(body, "HOLE_I", far ? "CP_FAR_I" : "CP_NEAR_I");
    auto arg = [&](int r, Kind k) {
        const Kind have = r == 0 ? sp.out.r0 : sp.out.r1;
        const std::string dead = k == Kind::F ? "CP_DEAD_F" : "CP_DEAD_I";
        if (have == k) return sp.calls && r == 1 ? dead : std::string(r == 0 ? "o0" : "o1");
        return sp.calls ? dead : reg(r, k);
    };
    return "void " + name + "(int32_t i0, int32_t i1, float f0, float f1) { " + body + continuation_symbol(sp.out) +
           "(" + arg(0, Kind::I) + ", " + arg(1, Kind::I) + ", " + arg(0, Kind::F) + ", " + arg(1, Kind::F) + "); }\n";
}

void emit(std::ostream& os, const Spec& sp) {
    os << text(sp, sp.name, false);
    if (sp.hole) os << text(sp, far_stencil(sp.name), true);
}

// A stencil that only calls a one-argument libm function fn (its operand in
// r0, or from memory), written in assembly on AArch64 and Arm: the argument
// is already in s0, so it is the call and the jump to the next stencil, and
// the link register needs no saving (the entry stencil saved the caller's;
// gcc would save and restore it around every call). The far twin stays C.
// Elsewhere the C text.
void emit_libm_call(std::ostream& os, const Spec& sp, const std::string& fn) {
    const std::string next = continuation_symbol(sp.out);
    const std::string head = ".section .text." + sp.name + ",\\\"ax\\\",%progbits\\n.p2align 2\\n.globl " + sp.name +
                             "\\n.type " + sp.name + ",%function\\n";
    const std::string tail = ".size " + sp.name + ", .-" + sp.name + "\\n";
    const std::string load_a64 = sp.hole ? "  ldr s0, [x19, #\" CP_STR(CP_NEAR) \"]\\n" : "";
    const std::string load_arm = sp.hole ? "  vldr s0, [r9, #\" CP_STR(CP_NEAR) \"]\\n" : "";
    os << "#if defined(__aarch64__)\n__asm__(\"" << head << sp.name << ":\\n" << load_a64 << "  bl " << fn
       << "\\n  b " << next << "\\n" << tail << "\");\n"
       << "#elif defined(__arm__) && defined(__thumb__)\n__asm__(\".syntax unified\\n.thumb\\n" << head << ".thumb_func\\n"
       << sp.name << ":\\n" << load_arm << "  bl " << fn << "\\n  b.w " << next << "\\n" << tail << "\");\n"
       << "#elif defined(__arm__)\n__asm__(\".syntax unified\\n.arm\\n" << head << sp.name << ":\\n" << load_arm
       << "  bl " << fn << "\\n  b " << next << "\\n" << tail << "\");\n"
       << "#else\n"
       << text(sp, sp.name, false) << "#endif\n";
    if (sp.hole) os << text(sp, far_stencil(sp.name), true);
}

// The libm function a float body calls alone ("sinf(a)" -> "sinf"), or "".
std::string lone_libm_call(Op op, const std::string& body) {
    if (!(op_info(op).flags & Libm) || op_info(op).arity != 1) return "";
    const size_t paren = body.find('(');
    if (paren == std::string::npos || body.substr(paren) != "(a)") return "";
    return body.substr(0, paren);
}

// Calls f(op, info, operand class, body, result class) for every op variant
// with a stencil.
template <typename F>
void for_each_variant(F f) {
    for (Op op : kTableOps) {
        const OpInfo& info = op_info(op);
        for (Kind k : {Kind::I, Kind::F})
            if (has_variant(op, k)) f(op, info, k, std::string(k == Kind::I ? info.int_body : info.float_body), result_kind(op, k));
    }
}

void emit_ops(std::ostream& os) {
    for_each_variant([&](Op op, const OpInfo& info, Kind k, const std::string& body, Kind res) {
        const std::string value = "(" + body + ")";
        const bool calls = op_calls(op, k);
        const std::string libm = k == Kind::F ? lone_libm_call(op, body) : "";
        auto emit = [&](std::ostream& o, Spec sp) {
            sp.calls = calls;
            if (!libm.empty()) return emit_libm_call(o, sp, libm);
            ::emit(o, sp);
        };
        if (op == Op::Select) {
            // r0 = condition, r1 = value if true, memory operand = value if false.
            State in{Kind::I, k};
            emit(os, {op_stencil(op, in), in, {res, k}, bind("c", 0, Kind::I) + bind("a", 1, k) + bind_hole("b", k), "",
                      value, "a", true});
        } else if (info.arity == 2) {
            State in{k, k};
            emit(os, {op_stencil(op, in), in, {res, k}, bind("a", 0, k) + bind("b", 1, k), "", value, "b"});
            if (has_to1_variant(op, k))
                emit(os, {op_to1_stencil(op, in), in, {k, res}, bind("a", 0, k) + bind("b", 1, k), "", "a", value});
            if (has_rreg_variant(op, k))
                emit(os, {op_rreg_stencil(op, in), in, {res, k}, bind("b", 0, k) + bind("a", 1, k), "", value, "a"});
            // One operand from memory, r1 untouched: b = *hole (and, when
            // the order matters, a = *hole with b in r0).
            for (Kind other : {Kind::I, Kind::F}) {
                State m{k, other};
                emit(os, {op_mem_stencil(op, m), m, {res, other}, bind("a", 0, k) + bind_hole("b", k), "", value,
                          reg(1, other), true});
                if (!is_commutative(op))
                    emit(os, {op_rmem_stencil(op, m), m, {res, other}, bind("b", 0, k) + bind_hole("a", k), "", value,
                              reg(1, other), true});
            }
        } else {
            for (Kind other : {Kind::I, Kind::F}) {
                State in{k, other};
                emit(os, {op_stencil(op, in), in, {res, other}, bind("a", 0, k), "", value, reg(1, other)});
            }
            // The operand from memory: r0's old value is dead, r1 untouched.
            for (State st : kAllStates)
                emit(os, {unary_mem_stencil(op, k, st), st, {res, st.r1}, bind_hole("a", k), "", value, reg(1, st.r1),
                          true});
        }
    });
}

// Park registers per target: callee-saved FP registers in the platform ABI,
// reserved in every stencil as gcc global register variables, so a parked
// value survives every stencil and every library call (library code, built
// without the declarations, saves and restores them). The entry stencil saves
// the caller's values and the exit stencil restores them (kTargetPrelude).
// A new target adds a row; without one it has no parks (cp_park_f = 0).
struct ParkFile {
    const char* condition;  // preprocessor test for the target
    const char* prefix;     // register name prefix
    int first, count;       // prefix<first> ... prefix<first + count - 1>
};
constexpr ParkFile kFloatParks[] = {
    {"defined(__aarch64__)", "s", 8, 8},  // AAPCS64: d8-d15 (their low halves s8-s15) callee-saved
    {"defined(__arm__)", "s", 16, 16},    // AAPCS-VFP: s16-s31 callee-saved (also fpv4-sp-d16)
    {"defined(__riscv) && defined(__riscv_flen)", "fs", 0, 12},  // RISC-V psABI: fs0-fs11 callee-saved
};

void emit_park_registers(std::ostream& os) {
    const char* directive = "#if";
    for (const ParkFile& f : kFloatParks) {
        static_assert(sizeof(kFloatParks) / sizeof(kFloatParks[0]) > 0);
        if (f.count > kMaxParks) throw std::logic_error("more parks than kMaxParks");
        os << directive << " " << f.condition << "\n#define CP_NPARK_F " << f.count << "\n";
        for (int k = 0; k < f.count; ++k)
            os << "register float cp_pf" << k << " __asm__(\"" << f.prefix << f.first + k << "\");\n";
        directive = "#elif";
    }
    os << "#else\n#define CP_NPARK_F 0\n#endif\n"
          "__asm__(\".globl cp_park_f\\n.set cp_park_f, \" CP_STR(CP_NPARK_F) \"\\n\");\n\n";
}

// The stencils of park k, compiled only where the target has that park.
void emit_park(std::ostream& os, int k) {
    std::string park = "cp_pf";  // appended: GCC 12 warns falsely (-Wrestrict) about "cp_pf" + to_string(k)
    park += std::to_string(k);
    os << "#if CP_NPARK_F > " << k << "\n";
    for (State s : kAllStates) {
        const std::string r0 = reg(0, s.r0), r1 = reg(1, s.r1);
        emit(os, {park_get_stencil(0, k, s), s, {Kind::F, s.r1}, "", "", park, r1});
        emit(os, {park_get_stencil(1, k, s), s, {s.r0, Kind::F}, "", "", r0, park});
        if (s.r0 == Kind::F) emit(os, {park_put_stencil(0, k, s), s, s, "", park + " = " + r0 + "; ", r0, r1});
        if (s.r1 == Kind::F) emit(os, {park_put_stencil(1, k, s), s, s, "", park + " = " + r1 + "; ", r0, r1});
        emit(os, {park_store_stencil(k, s), s, s, "", "HOLE_F = " + park + "; ", r0, r1, true});
        emit(os, {park_load_stencil(k, s), s, s, "", park + " = HOLE_F; ", r0, r1, true});
    }
    // Multiply-add with a park operand (lib/ops/ops.hpp).
    const std::string acc = bind("c", 0, Kind::F);
    emit(os, {mla_r1_park_stencil(k), {Kind::F, Kind::F}, {Kind::F, Kind::F},
              acc + bind("a", 1, Kind::F) + "float b = " + park + "; ", "", "CP_MLA(c, a, b)", "f1"});
    emit(os, {mla_to1_park_stencil(k), {Kind::F, Kind::F}, {Kind::F, Kind::F},
              bind("a", 0, Kind::F) + bind("c", 1, Kind::F) + "float b = " + park + "; ", "", "f0", "CP_MLA(c, a, b)"});
    for (Kind other : {Kind::I, Kind::F}) {
        const State in{Kind::F, other};
        emit(os, {mla_park_mem_stencil(k, in), in, in, acc + "float a = " + park + "; " + bind_hole("b", Kind::F), "",
                  "CP_MLA(c, a, b)", reg(1, other), true});
    }
    for (int q = k + 1; q < kMaxParks; ++q) {  // r0 += park k * park q, where the target has both
        std::string other = "cp_pf";
        other += std::to_string(q);
        os << "#if CP_NPARK_F > " << q << "\n";
        emit(os, {mla_park_park_stencil(k, q), {Kind::F, Kind::F}, {Kind::F, Kind::F},
                  acc + "float a = " + park + ", b = " + other + "; ", "", "CP_MLA(c, a, b)", "f1"});
        os << "#endif\n";
    }
    for (Op op : kTableOps) {
        if (!has_park_variant(op) || !has_variant(op, Kind::F)) continue;
        const OpInfo& info = op_info(op);
        std::string value = "(";  // appended, as above
        value += info.float_body;
        value += ")";
        const Kind res = result_kind(op, Kind::F);
        if (op == Op::Select) {
            const State in{Kind::I, Kind::F};
            emit(os, {op_park_stencil(op, k, in), in, {Kind::F, Kind::F},
                      bind("c", 0, Kind::I) + bind("a", 1, Kind::F) + "float b = " + park + "; ", "", value, "a"});
            continue;
        }
        for (Kind other : {Kind::I, Kind::F}) {
            const State in{Kind::F, other};
            emit(os, {op_park_stencil(op, k, in), in, {res, other}, bind("a", 0, Kind::F) + "float b = " + park + "; ",
                      "", value, reg(1, other)});
            if (!is_commutative(op))
                emit(os, {op_rpark_stencil(op, k, in), in, {res, other},
                          bind("b", 0, Kind::F) + "float a = " + park + "; ", "", value, reg(1, other)});
        }
    }
    os << "#endif\n";
}

// Multiply-add without a park (lib/ops/ops.hpp): r0 = r0 + r1 * *hole.
void emit_mla(std::ostream& os) {
    emit(os, {mla_r1_mem_stencil(), {Kind::F, Kind::F}, {Kind::F, Kind::F},
              bind("c", 0, Kind::F) + bind("a", 1, Kind::F) + bind_hole("b", Kind::F), "", "CP_MLA(c, a, b)", "f1", true});
    emit(os, {mla_to1_mem_stencil(), {Kind::F, Kind::F}, {Kind::F, Kind::F},
              bind("a", 0, Kind::F) + bind("c", 1, Kind::F) + bind_hole("b", Kind::F), "", "f0", "CP_MLA(c, a, b)", true});
}

void emit_moves(std::ostream& os) {
    for (State s : kAllStates) {
        const std::string r0 = reg(0, s.r0), r1 = reg(1, s.r1);
        for (Kind k : {Kind::I, Kind::F}) {
            const std::string hole = k == Kind::F ? "HOLE_F" : "HOLE_I";
            emit(os, {load_stencil(0, k, s), s, {k, s.r1}, "", "", hole, r1, true});
            emit(os, {load_stencil(1, k, s), s, {s.r0, k}, "", "", r0, hole, true});
        }
        auto hole = [](Kind k) { return std::string(k == Kind::F ? "HOLE_F" : "HOLE_I"); };
        emit(os, {store_stencil(0, s), s, s, "", hole(s.r0) + " = " + r0 + "; ", r0, r1, true});
        emit(os, {store_stencil(1, s), s, s, "", hole(s.r1) + " = " + r1 + "; ", r0, r1, true});
        emit(os, {swap_stencil(s), s, {s.r1, s.r0}, "", "", r1, r0});
        emit(os, {dup_stencil(s), s, {s.r0, s.r0}, "", "", r0, r0});
        emit(os, {mov_stencil(s), s, {s.r1, s.r1}, "", "", r1, r1});
    }
}

// Per target: the base register (callee-saved in the platform ABI, so
// library code compiled without this declaration preserves it), the bias
// (base = data + bias, so that signed offset fields reach both ways), the
// marker offset of a memory operand (it must select an instruction form
// with an immediate field the target file recognises and can rewrite: on
// x86-64 a disp32; on Arm the largest offset of VLDR/VSTR, 1020, which also
// fits LDR/STR), and the entry and exit stencils, which set and restore the
// base register and save and restore the callee-saved registers that hold
// the parks (emit_park_registers). The bias and marker are also absolute symbols of the object
// (cp_data_bias, cp_near_marker), read by the compiler, and so is
// cp_far_relative: 1 if far stencils take the placeholder's address as an
// offset from the base register (resolved at compile time), 0 if as the
// operand's absolute address.
const char* kTargetPrelude = R"(
#if defined(__x86_64__) || defined(__i386__)
/* x86 (both): near operands are [base + disp8] (the marker 0x7c, a short
 * encoding: 3 bytes fewer than a disp32), reaching data + 0 ... 255 from
 * base = data + 128; far operands [base + disp32] (marker 0x7fffff7c, the
 * near marker in the low byte: lib/target/x86_64.cpp), reaching everything.
 * Neither needs a relocation. */
#define CP_BIAS 128
#define CP_NEAR 0x7c
#define CP_FAR_OFFSET ((uintptr_t)0x7fffff7c)
#define CP_FREG "=x"
#define CP_FAR_RELATIVE 0
#endif
#if defined(__x86_64__)
#define CP_BASE_REG "rbx"
/* The stack stays 16-byte aligned as at a function's entry: push + 8. */
#define CP_ENTRY_EXIT \
    ".section .text.cp_entry,\"ax\",@progbits\n.globl cp_entry\n.type cp_entry,@function\ncp_entry:\n" \
    "  pushq %rbx\n  subq $8, %rsp\n  leaq 128(%rdi), %rbx\n  jmp result_ii\n.size cp_entry, .-cp_entry\n" \
    ".section .text.cp_exit,\"ax\",@progbits\n.globl cp_exit\n.type cp_exit,@function\ncp_exit:\n" \
    "  addq $8, %rsp\n  popq %rbx\n  ret\n.size cp_exit, .-cp_exit\n"
#elif defined(__i386__)
/* Built with -mregparm=3 -msseregparm (stencils and libm alike): i0/i1 in
 * eax/edx, f0/f1 in xmm0/xmm1, as on x86-64. ebx is callee-saved and, with
 * -fno-pic, not the GOT pointer. The entry is called with the platform's
 * stack convention (cp_entry_fn): its argument is at 4(%esp). Each stencil
 * must find the stack as at a function's entry (esp + 4 16-byte aligned, the
 * psABI's rule): push + 12. */
#define CP_BASE_REG "ebx"
#define CP_ENTRY_EXIT \
    ".section .text.cp_entry,\"ax\",@progbits\n.globl cp_entry\n.type cp_entry,@function\ncp_entry:\n" \
    "  pushl %ebx\n  movl 8(%esp), %ebx\n  subl $-128, %ebx\n  subl $12, %esp\n  jmp result_ii\n.size cp_entry, .-cp_entry\n" \
    ".section .text.cp_exit,\"ax\",@progbits\n.globl cp_exit\n.type cp_exit,@function\ncp_exit:\n" \
    "  addl $12, %esp\n  popl %ebx\n  ret\n.size cp_exit, .-cp_exit\n"
#elif defined(__aarch64__)
#define CP_BASE_REG "x19"
#define CP_BIAS 0
#define CP_NEAR 1020
#define CP_FREG "=w"
#define CP_FAR_RELATIVE 0
/* Far operands: the offset from the base register in a movz/movk pair that
 * carries the marker and that the compiler rewrites like a near field (no
 * relocation, so no load-time patch), then a register-offset load/store. */
#define CP_FAR_OFFSET \
    ({ uintptr_t o_; __asm__("movz %x0, %1, lsl #16\n\tmovk %x0, %2" : "=r"(o_) : "i"(CP_NEAR >> 16), "i"(CP_NEAR & 0xffff)); o_; })
#define CP_ENTRY_EXIT \
    ".section .text.cp_entry,\"ax\",%progbits\n.p2align 2\n.globl cp_entry\n.type cp_entry,%function\ncp_entry:\n" \
    "  stp d8, d9, [sp, #-80]!\n  stp d10, d11, [sp, #16]\n  stp d12, d13, [sp, #32]\n  stp d14, d15, [sp, #48]\n" \
    "  stp x19, x30, [sp, #64]\n  mov x19, x0\n  b result_ii\n.size cp_entry, .-cp_entry\n" \
    ".section .text.cp_exit,\"ax\",%progbits\n.p2align 2\n.globl cp_exit\n.type cp_exit,%function\ncp_exit:\n" \
    "  ldp x19, x30, [sp, #64]\n  ldp d14, d15, [sp, #48]\n  ldp d12, d13, [sp, #32]\n  ldp d10, d11, [sp, #16]\n" \
    "  ldp d8, d9, [sp], #80\n  ret\n.size cp_exit, .-cp_exit\n"
#elif defined(__arm__) && defined(__thumb__)
#define CP_BASE_REG "r9"
/* Thumb-2 LDR/STR reach +4095 but only -255: a small bias. */
#define CP_BIAS 252
#define CP_NEAR 1020
#define CP_FREG "=t"
#define CP_FAR_RELATIVE 1
#define CP_ENTRY_EXIT \
    ".syntax unified\n.thumb\n" \
    ".section .text.cp_entry,\"ax\",%progbits\n.p2align 2\n.globl cp_entry\n.type cp_entry,%function\n.thumb_func\ncp_entry:\n" \
    "  push {r9, lr}\n  vpush {d8-d15}\n  add.w r9, r0, #252\n  b.w result_ii\n.size cp_entry, .-cp_entry\n" \
    ".section .text.cp_exit,\"ax\",%progbits\n.p2align 2\n.globl cp_exit\n.type cp_exit,%function\n.thumb_func\ncp_exit:\n" \
    "  vpop {d8-d15}\n  pop {r9, pc}\n.size cp_exit, .-cp_exit\n"
#elif defined(__arm__)
#define CP_BASE_REG "r9"
/* VLDR/VSTR reach +-1020: the base in the middle of that. */
#define CP_BIAS 1020
#define CP_NEAR 1020
#define CP_FREG "=t"
#define CP_FAR_RELATIVE 1
#define CP_ENTRY_EXIT \
    ".syntax unified\n.arm\n" \
    ".section .text.cp_entry,\"ax\",%progbits\n.p2align 2\n.globl cp_entry\n.type cp_entry,%function\ncp_entry:\n" \
    "  push {r9, lr}\n  vpush {d8-d15}\n  add r9, r0, #1020\n  b result_ii\n.size cp_entry, .-cp_entry\n" \
    ".section .text.cp_exit,\"ax\",%progbits\n.p2align 2\n.globl cp_exit\n.type cp_exit,%function\ncp_exit:\n" \
    "  vpop {d8-d15}\n  pop {r9, pc}\n.size cp_exit, .-cp_exit\n"
#elif defined(__riscv)
/* s11 (x27) is callee-saved and never a compressed register (x8-x15), so a
 * near operand is always the 32-bit flw/lw/fsw/sw with a 12-bit signed
 * offset: the base in the middle of that reach. Far operands: the offset
 * from the base register in a lui + addi pair that carries the marker and
 * that the compiler rewrites like a near field (uncompressed: norvc), then
 * added to s11, so no load-time patch. */
#define CP_BASE_REG "s11"
#define CP_BIAS 2040
#define CP_NEAR 2040
#define CP_FREG "=f"
#define CP_FAR_RELATIVE 0
#define CP_FAR_OFFSET \
    ({ uintptr_t o_; __asm__(".option push\n\t.option norvc\n\tlui %0, 0\n\taddi %0, %0, %1\n\t.option pop" \
                             : "=r"(o_) : "i"(CP_NEAR)); o_; })
#if __riscv_xlen == 64
#define CP_SAVE_BASE "  sd s11, 0(sp)\n"
#define CP_LOAD_BASE "  ld s11, 0(sp)\n"
#else
#define CP_SAVE_BASE "  sw s11, 0(sp)\n"
#define CP_LOAD_BASE "  lw s11, 0(sp)\n"
#endif
/* The parks fs0-fs11 (emit_park_registers), saved in 8-byte slots above s11's. */
#if defined(__riscv_flen) && __riscv_flen == 64
#define CP_FSAVE "fsd"
#define CP_FLOAD "fld"
#elif defined(__riscv_flen)
#define CP_FSAVE "fsw"
#define CP_FLOAD "flw"
#endif
#if defined(__riscv_flen)
#define CP_FRAME "112"
#define CP_PARKS(op) \
    "  " op " fs0, 16(sp)\n  " op " fs1, 24(sp)\n  " op " fs2, 32(sp)\n  " op " fs3, 40(sp)\n" \
    "  " op " fs4, 48(sp)\n  " op " fs5, 56(sp)\n  " op " fs6, 64(sp)\n  " op " fs7, 72(sp)\n" \
    "  " op " fs8, 80(sp)\n  " op " fs9, 88(sp)\n  " op " fs10, 96(sp)\n  " op " fs11, 104(sp)\n"
#else
#define CP_FRAME "16"
#define CP_PARKS(op) ""
#endif
/* The stack stays 16-byte aligned (both psABIs); .option norelax as the
 * stencils' -mno-relax: the compiler copies code and never relaxes it. */
#define CP_ENTRY_EXIT \
    ".option norelax\n" \
    ".section .text.cp_entry,\"ax\",@progbits\n.p2align 2\n.globl cp_entry\n.type cp_entry,@function\ncp_entry:\n" \
    "  addi sp, sp, -" CP_FRAME "\n" CP_SAVE_BASE CP_PARKS(CP_FSAVE) "  addi s11, a0, 2040\n  tail result_ii\n" \
    ".size cp_entry, .-cp_entry\n" \
    ".section .text.cp_exit,\"ax\",@progbits\n.p2align 2\n.globl cp_exit\n.type cp_exit,@function\ncp_exit:\n" \
    CP_LOAD_BASE CP_PARKS(CP_FLOAD) "  addi sp, sp, " CP_FRAME "\n  ret\n.size cp_exit, .-cp_exit\n"
#else
#error "no stencil ABI for this target"
#endif
/* c + a * b, the product rounded first. Arm's VMLA is exactly that (gcc
 * does not choose it for every CPU, e.g. not for the Cortex-M4). */
#if defined(__arm__)
#define CP_MLA(c, a, b) ({ float r_ = (c); __asm__("vmla.f32 %0, %1, %2" : "+t"(r_) : "t"(a), "t"(b)); r_; })
#else
#define CP_MLA(c, a, b) ((c) + (a) * (b))
#endif
#define CP_STR2(x) #x
#define CP_STR(x) CP_STR2(x)
register uint8_t *cp_base __asm__(CP_BASE_REG);
__asm__(CP_ENTRY_EXIT
        ".globl cp_data_bias\n.set cp_data_bias, " CP_STR(CP_BIAS) "\n"
        ".globl cp_near_marker\n.set cp_near_marker, " CP_STR(CP_NEAR) "\n"
        ".globl cp_far_relative\n.set cp_far_relative, " CP_STR(CP_FAR_RELATIVE) "\n");
#define CP_NEAR_F (*(float *)(cp_base + CP_NEAR))
#define CP_NEAR_I (*(int32_t *)(cp_base + CP_NEAR))
/* Far operands. AArch64, RISC-V: a far offset field (CP_FAR_OFFSET); x86: a
 * disp32 field (CP_FAR_OFFSET). Arm: the placeholder's "address" is the offset
 * from the base register (movw/movt of a constant the compiler writes). None
 * needs a load-time patch. */
#if defined(CP_FAR_OFFSET)
#define CP_FAR_F (*(float *)(cp_base + CP_FAR_OFFSET))
#define CP_FAR_I (*(int32_t *)(cp_base + CP_FAR_OFFSET))
#elif CP_FAR_RELATIVE
#define CP_FAR_F (*(float *)(cp_base + (uintptr_t)&cp_hole_f))
#define CP_FAR_I (*(int32_t *)(cp_base + (uintptr_t)&cp_hole_i))
#else
#define CP_FAR_F cp_hole_f
#define CP_FAR_I cp_hole_i
#endif
/* A value for a register the next stencil does not read: no instruction. */
static inline __attribute__((always_inline)) int32_t cp_dead_i(void) { int32_t u; __asm__ volatile("" : "=r"(u)); return u; }
static inline __attribute__((always_inline)) float cp_dead_f(void) { float u; __asm__ volatile("" : CP_FREG(u)); return u; }
#define CP_DEAD_I cp_dead_i()
#define CP_DEAD_F cp_dead_f()
)";

const char* bits_to(Kind k) { return k == Kind::F ? "cp_as_f" : "cp_as_i"; }
const char* to_bits(Kind k) { return k == Kind::F ? "cp_bits_f" : "cp_bits_i"; }

std::string fold_source() {
    std::ostringstream os;
    os << "/* Generated by gen_stencils from lib/ops/ops.def. Do not edit. */\n"
          "#include \"prelude.h\"\n\n"
          "static float cp_as_f(uint32_t u) { float f; __builtin_memcpy(&f, &u, 4); return f; }\n"
          "static int32_t cp_as_i(uint32_t u) { return (int32_t)u; }\n"
          "static uint32_t cp_bits_f(float f) { uint32_t u; __builtin_memcpy(&u, &f, 4); return u; }\n"
          "static uint32_t cp_bits_i(int32_t i) { return (uint32_t)i; }\n\n"
          "/* Evaluates op (numbered as copapy::Op) for operands of class kind (0 = int,\n"
          "   1 = float; for select the class of the selected values) on 32-bit patterns.\n"
          "   Returns 0 if the op has no such variant. */\n"
          "int cp_fold(int op, int kind, uint32_t x, uint32_t y, uint32_t z, uint32_t *out) {\n"
          "    (void)z;\n"
          "    switch (op * 2 + kind) {\n";
    for_each_variant([&](Op op, const OpInfo& info, Kind k, const std::string& body, Kind res) {
        if (info.flags & Io) return;  // a device access has no value at compile time
        os << "    case " << static_cast<int>(op) * 2 + (k == Kind::F) << ": { /* " << info.name << " "
           << kind_char(k) << " */\n";
        if (op == Op::Select) {
            os << "        int32_t c = cp_as_i(x); " << ctype(k) << " a = " << bits_to(k) << "(y), b = "
               << bits_to(k) << "(z);\n";
        } else {
            os << "        " << ctype(k) << " a = " << bits_to(k) << "(x)";
            if (info.arity == 2) os << ", b = " << bits_to(k) << "(y)";
            os << ";\n";
            if (info.arity == 1) os << "        (void)y;\n";
        }
        os << "        *out = " << to_bits(res) << "((" << ctype(res) << ")(" << body << "));\n        return 1;\n    }\n";
    });
    os << "    default: return 0;\n    }\n}\n";
    return os.str();
}

// Writes only if changed, so an unchanged table does not rebuild every target.
bool write_if_changed(const char* path, const std::string& text) {
    {
        std::ifstream old(path, std::ios::binary);
        std::stringstream cur;
        cur << old.rdbuf();
        if (old && cur.str() == text) return true;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
        std::cerr << "gen_stencils: error: cannot write '" << path << "'\n";
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: gen_stencils STENCILS.c FOLD.c\n";
        return 2;
    }
    std::ostringstream os;
    os << "/* Generated by gen_stencils from lib/ops/ops.def. Do not edit. */\n"
          "#include \"prelude.h\"\n"
       << kTargetPrelude << "\n";
    emit_park_registers(os);
    emit_ops(os);
    os << "\n";
    emit_moves(os);
    emit_mla(os);
    for (int k = 0; k < kMaxParks; ++k) emit_park(os, k);
    return write_if_changed(argv[1], os.str()) && write_if_changed(argv[2], fold_source()) ? 0 : 1;
}
