#include "ops.hpp"

#include <array>
#include <unordered_map>

namespace copapy {

namespace {
constexpr OpInfo kInfo[] = {
#define OP(id, name, arity, typing, flags, ibody, fbody) {name, arity, Typing::typing, flags, ibody, fbody},
#include "ops.def"
#undef OP
    {"input", 0, Typing::Cast, Internal, nullptr, nullptr},
    {"const", 0, Typing::Cast, Internal, nullptr, nullptr},
    {"state", 0, Typing::Cast, Internal, nullptr, nullptr},
};
}  // namespace

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

const OpInfo& op_info(Op op) { return kInfo[static_cast<size_t>(op)]; }

std::optional<Op> op_from_name(std::string_view name) {
    // Called for every node of every DAG file: a hash map, built once.
    static const std::unordered_map<std::string_view, Op> by_name = [] {
        std::unordered_map<std::string_view, Op> m{{"input", Op::Input}, {"const", Op::Const}, {"state", Op::State}};
        for (Op op : kTableOps)
            if (!(op_info(op).flags & Internal)) m.emplace(op_info(op).name, op);
        return m;
    }();
    auto it = by_name.find(name);
    return it == by_name.end() ? std::nullopt : std::optional<Op>(it->second);
}

Kind result_kind(Op op, Kind operand) {
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

}  // namespace copapy
