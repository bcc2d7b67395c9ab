// Type rules of docs/dag-format.md ("Types and operations").
#include <fmt/format.h>

#include "dag.hpp"

namespace copapy {

namespace {
bool is_num(DType t) { return (t == DType::Int || t == DType::Float || t == DType::Bool); }
DType promote(DType a, DType b) { return (a == DType::Float || b == DType::Float) ? DType::Float : DType::Int; }
TypeResult ok(DType t) { return {true, t, {}}; }
TypeResult bad(std::string s) { return {false, DType::Int, std::move(s)}; }
}  // namespace

TypeResult infer_type(Op op, std::span<const DType> a, DType declared, bool exponent_nonneg_const) {
    const OpInfo& info = op_info(op);
    for (DType t : a)
        if (!is_num(t)) return bad("operand of unknown type");
    switch (info.typing) {
        case Typing::Num2: return ok(promote(a[0], a[1]));
        case Typing::Fdiv: return ok(DType::Float);
        case Typing::Pow:
            return ok(a[0] != DType::Float && a[1] != DType::Float && exponent_nonneg_const ? DType::Int
                                                                                            : DType::Float);
        case Typing::MinMax:
            if (a[0] == DType::Bool && a[1] == DType::Bool) return ok(DType::Bool);
            return ok(promote(a[0], a[1]));
        case Typing::Num1: return ok(a[0] == DType::Float ? DType::Float : DType::Int);
        case Typing::Cmp: return ok(DType::Bool);
        case Typing::Bits:
            if (a[0] == DType::Float || a[1] == DType::Float)
                return bad(fmt::format("'{}' needs int or bool operands, got ({}, {})", info.name, dtype_name(a[0]),
                                       dtype_name(a[1])));
            return ok(a[0] == DType::Bool && a[1] == DType::Bool ? DType::Bool : DType::Int);
        case Typing::Shift:
            if (a[0] == DType::Float || a[1] == DType::Float)
                return bad(fmt::format("'{}' needs int or bool operands, got ({}, {})", info.name, dtype_name(a[0]),
                                       dtype_name(a[1])));
            return ok(DType::Int);
        case Typing::Math: return ok(DType::Float);
        case Typing::Select:
            if (a[1] == DType::Bool && a[2] == DType::Bool) return ok(DType::Bool);
            return ok(promote(a[1], a[2]));
        case Typing::Cast: return ok(declared);
        case Typing::Grad:
            if (a[0] != DType::Float || a[1] != DType::Float)
                return bad(fmt::format("'grad' differentiates a float by a float, got ({}, {})", dtype_name(a[0]),
                                       dtype_name(a[1])));
            return ok(DType::Float);
        case Typing::Conv: break;
    }
    return bad("operation is internal to the compiler");
}

}  // namespace copapy
