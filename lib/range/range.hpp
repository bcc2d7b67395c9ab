// Value ranges: what each node of the compiler's graph may evaluate to in
// any run, given the ranges of its inputs (issue 12: prove a program free of
// domain errors before it flies).
//
// A Range over-approximates a node's values: an int range is a closed
// interval of int32 values; a float range a closed interval of binary32
// values (the bounds may be infinite) plus whether NaN is possible. Signed
// zeros are not told apart: an interval containing 0 contains both. Every
// transfer function is sound: if the operands' values lie in their ranges,
// the stencil's result lies in the result's range (the randomized test
// test/unit/test_range.cpp checks that against the stencils' own C bodies).
//
// The analysis runs forward over the IR in its topological order. States
// (inputs that keep their value across runs) start from their initial value
// or declared range and are iterated to a fixed point: after a few rounds
// without convergence a state is widened to its declared range or its type's
// whole range.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ir/ir.hpp"

namespace copapy {

struct Range {
    Kind kind = Kind::F;
    // (The flags next to the kind: 40 bytes rather than 48, one per IR node.)
    bool nan = false;
    bool empty = false;  // floats only: NaN or nothing
    // Kind::I: [ilo, ihi] within int32.
    int64_t ilo = 0, ihi = 0;
    // Kind::F: [flo, fhi] (binary32 values held exactly in doubles, maybe
    // infinite), `empty` if no non-NaN value is possible; `nan` if NaN is.
    double flo = 0, fhi = 0;

    static Range ints(int64_t lo, int64_t hi);
    static Range floats(double lo, double hi, bool nan = false);
    static Range only_nan();
    static Range whole(Kind k);          // every value of the class (floats: with NaN)
    static Range of_bits(Kind k, uint32_t bits);  // one constant

    bool contains_bits(uint32_t bits) const;  // is this 32-bit pattern a member?
    bool may_be_zero() const;
    bool may_be_inf() const;
    bool operator==(const Range&) const = default;
    std::string str() const;  // "[-2, 3]", "[0, inf] or NaN", "NaN"
};

Range join(const Range& a, const Range& b);
// `next` (which holds `old`) with every bound that moved pushed to the
// type's limit (-inf/inf, INT_MIN/INT_MAX): what makes the fixed point end.
Range widen(const Range& old, const Range& next);

// The range of `op` applied to operands in `args` (1 to 3 of them, for
// select the condition first), producing class `kind`.
Range transfer(Op op, Kind kind, std::span<const Range> args);

// One thing the analysis cannot rule out.
enum class RangeIssue : uint8_t {
    DivByZero,     // integer // or % by a divisor that may be 0 (the result is then 0)
    Domain,        // sqrt/log/asin/acos/pow argument that may be outside the domain
    FloatToInt,    // float -> int conversion that may overflow int32 or see NaN
    IntWrap,       // int + - * neg abs ** that may wrap around
    FloatSpecial,  // a float result that may be inf or NaN while its operands cannot
    ShiftCount,    // a shift count that may lie outside [0, 31]
    StateRange,    // a state with a declared range whose next value may leave it
};

struct RangeFinding {
    uint32_t node;     // IR node
    RangeIssue issue;
    std::string what;  // short, with the derived range: "divisor in [-2, 3] includes 0"
};

// One Range per IR node, stored in 12 bytes instead of 40: the bounds as
// int32 or binary32 (a Range's bounds always are such values; a float bound
// that is not is rounded outward, which keeps the range sound). A 10M-node
// program's table is then 110 MB rather than 370, which the analysis reads
// at random (operands) and the kernel does not have to zero.
class RangeTable {
public:
    void assign(size_t n, const Range& r);
    size_t size() const { return packed_.size(); }
    Range operator[](size_t i) const;
    void set(size_t i, const Range& r) { packed_[i] = pack(r); }

private:
    struct Packed {
        uint32_t lo, hi;  // int32 or binary32 bit patterns
        Kind kind;
        uint8_t flags;    // kNan, kEmpty
    };
    static Packed pack(const Range& r);
    std::vector<Packed> packed_;
};

struct RangeAnalysis {
    RangeTable ranges;                   // per IR node
    std::vector<RangeFinding> findings;  // in node order, at most one per node
};

// The range the host promises for an input or state (its declared range,
// else every value of its type).
Range declared_range(const IrInput& in);

// Records in ir.inputs the invariant of every state without a declared range
// whose proven range can be written down (no NaN, not the whole type), so
// that the image makes hosts keep to it: the analysis assumed that the state
// holds only values the program itself gives it. Returns how many.
size_t adopt_state_invariants(Ir& ir, const RangeAnalysis& analysis);

// -O2 with proven ranges: makes users of a node that cannot change its
// operand's value use the operand itself: a min or max that never binds
// (one side always chosen, so a clamp whose bounds are never reached), abs
// of a value that is never negative (ints >= 0; floats > 0 and never NaN,
// as abs(-0.0) is +0.0), a select whose condition is decided. Bit-exact for
// every run inside the ranges. Rewrites operands, outputs and updates in
// place (the nodes left unused drop out of the next linearize()); returns
// how many nodes were bypassed.
size_t simplify_by_ranges(Ir& ir, const RangeAnalysis& analysis);

// Ranges of every node; findings for the nodes of `order` (the computed
// nodes the program runs: linearize(ir)). Inputs range over their declared
// range (IrInput::declared) or their whole type; a declared state holds its
// declared range at the start of every run (a finding says where an update
// may leave it), an undeclared one starts from its initial value and is
// iterated to a fixed point.
RangeAnalysis analyze_ranges(const Ir& ir, std::span<const uint32_t> order);

}  // namespace copapy
