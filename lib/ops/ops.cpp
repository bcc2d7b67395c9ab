#include "ops.hpp"

#include <array>

namespace copapy {

std::string_view dtype_name(DType t) {
    switch (t) {
        case DType::Int: return "int";
        case DType::Float: return "float";
        case DType::Bool: return "bool";
    }
    return "?";
}

std::optional<DType> dtype_from_name(std::string_view s) {
    if (s == "int") return DType::Int;
    if (s == "float") return DType::Float;
    if (s == "bool") return DType::Bool;
    return std::nullopt;
}

std::optional<Op> op_from_name(std::string_view name) {
    // Called for every node of every DAG file: open addressing over a small
    // table of op numbers (0: empty), built once; FNV-1a of the name.
    constexpr size_t kSlots = 256;
    static_assert(static_cast<size_t>(Op::State) + 1 < kSlots / 2, "the op table is at most half full");
    auto hash = [](std::string_view s) {
        uint32_t h = 2166136261u;
        for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
        return h;
    };
    static const std::array<uint8_t, kSlots> table = [&] {
        std::array<uint8_t, kSlots> t{};
        auto add = [&](Op op) {
            size_t i = hash(op_info(op).name) % kSlots;
            while (t[i]) i = (i + 1) % kSlots;
            t[i] = static_cast<uint8_t>(static_cast<size_t>(op) + 1);
        };
        for (Op op : kTableOps)
            if (!(op_info(op).flags & Internal)) add(op);
        add(Op::Input);
        add(Op::Const);
        add(Op::State);
        return t;
    }();
    for (size_t i = hash(name) % kSlots; table[i]; i = (i + 1) % kSlots) {
        const Op op = static_cast<Op>(table[i] - 1);
        if (op_info(op).name == name) return op;
    }
    return std::nullopt;
}

bool has_variant(Op op, Kind operand) {
    const OpInfo& info = op_info(op);
    return (operand == Kind::I ? info.int_body : info.float_body) != nullptr;
}

std::string state_suffix(State s) { return {kind_char(s.r0), kind_char(s.r1)}; }
std::string continuation_symbol(State s) { return "result_" + state_suffix(s); }
std::string_view hole_symbol(Kind k) { return k == Kind::F ? "cp_hole_f" : "cp_hole_i"; }

std::string op_stencil(Op op, State s) { return std::string(op_name(op)) + "_" + state_suffix(s); }
std::string load_stencil(int reg, Kind k, State s) {
    return "ld" + std::to_string(reg) + "_" + kind_char(k) + "_" + state_suffix(s);
}
std::string store_stencil(int reg, State s) { return "st" + std::to_string(reg) + "_" + state_suffix(s); }
std::string swap_stencil(State s) { return "swap_" + state_suffix(s); }
std::string dup_stencil(State s) { return "dup_" + state_suffix(s); }
std::string mov_stencil(State s) { return "mov_" + state_suffix(s); }
std::string op_mem_stencil(Op op, State s) { return std::string(op_name(op)) + "_m_" + state_suffix(s); }
std::string op_rmem_stencil(Op op, State s) { return std::string(op_name(op)) + "_rm_" + state_suffix(s); }
std::string unary_mem_stencil(Op op, Kind k, State s) {
    return std::string(op_name(op)) + "_m_" + kind_char(k) + "_" + state_suffix(s);
}

namespace {
// (Appended, not "p" + to_string(): GCC 12 warns falsely (-Wrestrict) about that.)
std::string park_name(int park) {
    std::string name = "p";
    name += std::to_string(park);
    return name;
}
}  // namespace

std::string park_get_stencil(int reg, int park, State s) {
    return "get" + std::to_string(reg) + "_" + park_name(park) + "_" + state_suffix(s);
}
std::string park_put_stencil(int reg, int park, State s) {
    return "put" + std::to_string(reg) + "_" + park_name(park) + "_" + state_suffix(s);
}
std::string park_store_stencil(int park, State s) { return "st" + park_name(park) + "_" + state_suffix(s); }
std::string park_load_stencil(int park, State s) { return "ld" + park_name(park) + "_" + state_suffix(s); }

bool has_park_variant(Op op) {
    if (op == Op::Select) return true;
    const OpInfo& info = op_info(op);
    return info.arity == 2 && info.float_body && !(info.flags & (Libm | Lowered | Internal)) && op != Op::Floordiv &&
           op != Op::Mod;
}
std::string op_park_stencil(Op op, int park, State s) {
    return std::string(op_name(op)) + "_" + park_name(park) + "_" + state_suffix(s);
}
std::string op_rpark_stencil(Op op, int park, State s) {
    return std::string(op_name(op)) + "_r" + park_name(park) + "_" + state_suffix(s);
}

std::string mla_r1_park_stencil(int park) { return "mla_r1_" + park_name(park) + "_ff"; }
std::string mla_r1_mem_stencil() { return "mla_r1_m_ff"; }
std::string mla_park_mem_stencil(int park, State s) { return "mla_" + park_name(park) + "_m_" + state_suffix(s); }
std::string mla_to1_park_stencil(int park) { return "mla_to1_" + park_name(park) + "_ff"; }
std::string mla_to1_mem_stencil() { return "mla_to1_m_ff"; }
std::string mla_park_park_stencil(int p, int q) { return "mla_" + park_name(p) + "_" + park_name(q) + "_ff"; }

namespace {
// Scans the stencil body's C text: done once per op and class (the planner
// asks for every node).
bool body_calls(Op op, Kind operand) {
    const OpInfo& info = op_info(op);
    if (info.flags & Libm) return true;
    const char* body = operand == Kind::I ? info.int_body : info.float_body;
    if (!body) return false;
    const std::string_view text(body);
    for (std::string_view f : {"cp_mod_", "cp_floordiv_", "floorf", "ceilf", "truncf", "cp_round_f"})
        if (text.find(f) != std::string_view::npos) return true;
    return false;
}
}  // namespace

bool op_calls(Op op, Kind operand) {
    constexpr size_t kOps = std::size(kOpInfo);
    static const std::array<std::array<bool, 2>, kOps> table = [] {
        std::array<std::array<bool, 2>, kOps> t{};
        for (size_t i = 0; i < kOps; ++i)
            for (Kind k : {Kind::I, Kind::F}) t[i][static_cast<size_t>(k)] = body_calls(static_cast<Op>(i), k);
        return t;
    }();
    return table[static_cast<size_t>(op)][static_cast<size_t>(operand)];
}

bool has_to1_variant(Op op, Kind operand) {
    // Not for I/O: a store's result is never used, so r1 gains nothing.
    return op != Op::Select && !is_io(op) && op_info(op).arity == 2 && has_variant(op, operand) && !op_calls(op, operand);
}
std::string op_to1_stencil(Op op, State s) { return std::string(op_name(op)) + "_to1_" + state_suffix(s); }
bool has_rreg_variant(Op op, Kind operand) { return has_to1_variant(op, operand) && !is_commutative(op); }
std::string op_rreg_stencil(Op op, State s) { return std::string(op_name(op)) + "_rr_" + state_suffix(s); }

std::string far_stencil(std::string_view name) { return std::string(kFarPrefix) + std::string(name); }

}  // namespace copapy
