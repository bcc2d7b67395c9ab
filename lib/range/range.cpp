#include "range/range.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "support/text.hpp"

namespace copapy {

namespace {

constexpr int64_t kIntMin = INT32_MIN, kIntMax = INT32_MAX;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kPi = 3.14159265358979323846;

float as_float(uint32_t bits) { return std::bit_cast<float>(bits); }

// x rounded to binary32 (to nearest), out of line: gcc 12 at -O3 vectorizes
// the two int64 -> double -> float -> double conversions of Itof's bounds
// into one cvtpd2ps and then stores the unrounded doubles (seen in the
// object code; test_range.cpp caught it).
[[gnu::noinline]] double to_binary32(double x) { return static_cast<float>(x); }

// The largest binary32 value <= x and the smallest >= x (x may be infinite).
double down(double x) {
    if (std::isnan(x)) return -kInf;
    float f = static_cast<float>(to_binary32(x));
    if (static_cast<double>(f) > x) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
    return f;
}
double up(double x) {
    if (std::isnan(x)) return kInf;
    float f = static_cast<float>(to_binary32(x));
    if (static_cast<double>(f) < x) f = std::nextafter(f, std::numeric_limits<float>::infinity());
    return f;
}
// Bounds of a binary32 operation's result from the exact result's bounds:
// rounding to nearest is monotone, so the rounded bounds are bounds of the
// rounded result. `exact` says whether the double computing a bound is the
// exact result; if not, the exact one lies within one double ulp of it.
double lo_of(double x, bool exact = true) {
    if (std::isnan(x)) return -kInf;
    return to_binary32(exact || !std::isfinite(x) ? x : std::nextafter(x, -kInf));
}
double hi_of(double x, bool exact = true) {
    if (std::isnan(x)) return kInf;
    return to_binary32(exact || !std::isfinite(x) ? x : std::nextafter(x, kInf));
}
// Whether a double operation on binary32 operands was exact (round to nearest).
bool sum_exact(double a, double b, double s) {
    if (!std::isfinite(s) || !std::isfinite(a) || !std::isfinite(b)) return true;
    const double bb = s - a;  // Knuth's TwoSum: the error of s = a + b
    return (a - (s - bb)) + (b - bb) == 0;
}
bool quotient_exact(double x, double y, double q) {
    return !std::isfinite(q) || q == 0 || !std::isfinite(x) || std::fma(q, y, -x) == 0;
}
double down_inexact(double x) { return lo_of(x, false); }
double up_inexact(double x) { return hi_of(x, false); }
// libm results: musl's and picolibc's single-precision functions are within
// a few ulp of the true value and monotone where the function is; 4 binary32
// ulp each way covers that.
double down_libm(double x) {
    double d = down_inexact(x);
    for (int i = 0; i < 4 && std::isfinite(d); ++i) d = std::nextafter(static_cast<float>(d), -HUGE_VALF);
    return d;
}
double up_libm(double x) {
    double d = up_inexact(x);
    for (int i = 0; i < 4 && std::isfinite(d); ++i) d = std::nextafter(static_cast<float>(d), HUGE_VALF);
    return d;
}

// Hull of the non-NaN candidate values; NaN candidates set `nan`.
struct Hull {
    double lo = kInf, hi = -kInf;
    bool nan = false;
    void add(double lo_candidate, double hi_candidate) {
        if (std::isnan(lo_candidate) || std::isnan(hi_candidate)) {
            nan = true;
            return;
        }
        lo = std::min(lo, lo_candidate);
        hi = std::max(hi, hi_candidate);
    }
    Range range(bool more_nan) const {
        if (lo > hi) return Range::only_nan();  // every candidate was NaN
        return Range::floats(lo, hi, nan || more_nan);
    }
};

Range clamp_int(int64_t lo, int64_t hi, bool* wrapped) {
    if (lo < kIntMin || hi > kIntMax) {
        if (wrapped) *wrapped = true;
        return Range::whole(Kind::I);
    }
    return Range::ints(lo, hi);
}

// Python's floor division on int64 (no zero divisor).
int64_t floordiv64(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

Range bool_range(bool can_be_false, bool can_be_true) {
    return Range::ints(can_be_false ? 0 : 1, can_be_true ? 1 : 0);
}

// ---- Floats ------------------------------------------------------------------------

Range f_add(const Range& a, const Range& b) {
    if (a.empty || b.empty) return Range::only_nan();
    // inf + -inf is NaN; otherwise the sum is monotone in both operands.
    const bool nan = a.nan || b.nan || (a.fhi == kInf && b.flo == -kInf) || (a.flo == -kInf && b.fhi == kInf);
    const double lo = a.flo + b.flo, hi = a.fhi + b.fhi;
    return Range::floats(lo_of(lo, sum_exact(a.flo, b.flo, lo)), hi_of(hi, sum_exact(a.fhi, b.fhi, hi)), nan);
}

Range f_neg(const Range& a) {
    Range r = a;
    if (!a.empty) {
        r.flo = -a.fhi;
        r.fhi = -a.flo;
    }
    return r;
}

Range f_mul(const Range& a, const Range& b) {
    if (a.empty || b.empty) return Range::only_nan();
    Hull h;
    for (double x : {a.flo, a.fhi})
        for (double y : {b.flo, b.fhi}) {
            const double p = x * y;  // exact in double for binary32 operands
            // 0 * inf at a corner is NaN, but the finite values next to the
            // infinite bound give 0 there: [-inf, inf] * [0] holds 0.
            const Range& infinite = std::isinf(x) ? a : b;
            if (std::isnan(p) && infinite.flo != infinite.fhi) h.add(0, 0);
            h.add(p, p);
        }
    // 0 * inf inside the intervals is NaN even when no corner is.
    const bool zero_inf = (a.may_be_zero() && b.may_be_inf()) || (b.may_be_zero() && a.may_be_inf());
    Range r = h.range(a.nan || b.nan || zero_inf);
    if (!r.empty) {
        r.flo = lo_of(r.flo);
        r.fhi = hi_of(r.fhi);
    }
    return r;
}

Range f_div(const Range& a, const Range& b) {
    if (a.empty || b.empty) return Range::only_nan();
    if (b.may_be_zero()) {
        // x / +-0 is +-inf (either sign: zeros are not told apart), 0 / 0 NaN.
        return Range::floats(-kInf, kInf, a.nan || b.nan || a.may_be_zero() || (a.may_be_inf() && b.may_be_inf()));
    }
    Hull h;
    for (double x : {a.flo, a.fhi})
        for (double y : {b.flo, b.fhi}) {
            const double q = x / y;
            // inf / inf at a corner is NaN; a finite value next to the
            // infinite dividend gives 0 there: [-inf, inf] / [inf] holds 0.
            if (std::isnan(q)) {
                if (a.flo != a.fhi) h.add(0, 0);
                h.add(q, q);
                continue;
            }
            const bool exact = quotient_exact(x, y, q);
            h.add(lo_of(q, exact), hi_of(q, exact));
        }
    return h.range(a.nan || b.nan || (a.may_be_inf() && b.may_be_inf()));
}

// Monotone non-decreasing f over [lo, hi], with libm's error margin.
template <typename F>
Range f_monotone(const Range& a, F f, bool libm, double min_result = -kInf, double max_result = kInf) {
    if (a.empty) return Range::only_nan();
    double lo = f(a.flo), hi = f(a.fhi);  // exact where not libm: floor, ceil, trunc, round
    lo = libm ? down_libm(lo) : lo_of(lo);
    hi = libm ? up_libm(hi) : hi_of(hi);
    return Range::floats(std::max(lo, min_result), std::min(hi, max_result), a.nan);
}

double float_pi_up() { return up(kPi); }
double float_half_pi_up() { return up(kPi / 2); }

Range f_math(Op op, std::span<const Range> args) {
    const Range& a = args[0];
    switch (op) {
        case Op::Sqrt: {
            if (a.empty || a.fhi < 0) return Range::only_nan();
            // sqrt is correctly rounded; sqrt(-0) = -0 is within [0, ...] here.
            auto bound = [](double x, bool up) {
                const double q = std::sqrt(x);
                const bool exact = !std::isfinite(q) || std::fma(q, q, -x) == 0;
                return up ? hi_of(q, exact) : lo_of(q, exact);
            };
            Range r = Range::floats(bound(std::max(a.flo, 0.0), false), bound(a.fhi, true), a.nan || a.flo < 0);
            r.flo = std::max(r.flo, 0.0);
            return r;
        }
        case Op::Exp:
            return f_monotone(a, [](double x) { return std::exp(x); }, true, 0.0);
        case Op::Log: {
            if (a.empty || a.fhi < 0) return Range::only_nan();
            const double lo = a.flo <= 0 ? -kInf : down_libm(std::log(a.flo));
            return Range::floats(lo, up_libm(std::log(a.fhi)), a.nan || a.flo < 0);
        }
        case Op::Sin:
        case Op::Cos:
            return a.empty ? Range::only_nan() : Range::floats(-1.0, 1.0, a.nan || a.may_be_inf());
        case Op::Tan:
            // Increasing between the poles at +-pi/2; 1.5 keeps clear of the
            // binary32 values next to them, where tanf jumps sign.
            if (!a.empty && a.flo >= -1.5 && a.fhi <= 1.5) return f_monotone(a, [](double x) { return std::tan(x); }, true);
            return a.empty ? Range::only_nan() : Range::floats(-kInf, kInf, a.nan || a.may_be_inf());
        case Op::Asin:
        case Op::Acos: {
            if (a.empty || a.flo > 1 || a.fhi < -1) return Range::only_nan();
            const double lo = std::max(a.flo, -1.0), hi = std::min(a.fhi, 1.0);
            const bool nan = a.nan || a.flo < -1 || a.fhi > 1;
            if (op == Op::Asin)
                return Range::floats(std::max(down_libm(std::asin(lo)), -float_half_pi_up()),
                                     std::min(up_libm(std::asin(hi)), float_half_pi_up()), nan);
            return Range::floats(std::max(down_libm(std::acos(hi)), 0.0), std::min(up_libm(std::acos(lo)), float_pi_up()),
                                 nan);
        }
        case Op::Atan:
            return f_monotone(a, [](double x) { return std::atan(x); }, true, -float_half_pi_up(), float_half_pi_up());
        case Op::Tanh:
            return f_monotone(a, [](double x) { return std::tanh(x); }, true, -1.0, 1.0);
        case Op::Atan2: {
            const Range& b = args[1];
            if (a.empty || b.empty) return Range::only_nan();
            return Range::floats(-float_pi_up(), float_pi_up(), a.nan || b.nan);
        }
        case Op::Hypot: {
            const Range& b = args[1];
            // hypot(+-inf, NaN) is inf: the upper bound covers it through the
            // other operand's magnitude.
            const double ma = a.empty ? 0 : std::max(std::fabs(a.flo), std::fabs(a.fhi));
            const double mb = b.empty ? 0 : std::max(std::fabs(b.flo), std::fabs(b.fhi));
            return Range::floats(0.0, up_libm(std::hypot(ma, mb)), a.nan || b.nan);
        }
        case Op::Floor:
            return f_monotone(a, [](double x) { return std::floor(x); }, false);
        case Op::Ceil:
            return f_monotone(a, [](double x) { return std::ceil(x); }, false);
        case Op::Trunc:
            return f_monotone(a, [](double x) { return std::trunc(x); }, false);
        case Op::Round:
            return f_monotone(a, [](double x) { return std::nearbyint(x); }, false);
        default:
            return Range::whole(Kind::F);
    }
}

Range f_binary(Op op, const Range& a, const Range& b) {
    switch (op) {
        case Op::Add: return f_add(a, b);
        case Op::Sub: return f_add(a, f_neg(b));
        case Op::Mul: return f_mul(a, b);
        case Op::Div: return f_div(a, b);
        case Op::Floordiv: {
            // cp_floordiv_f is floor(a / b) up to the rounding of a / b.
            const Range q = f_div(a, b);
            if (q.empty) return q;
            const bool nan = q.nan || a.may_be_inf() || b.may_be_inf();
            return Range::floats(down(std::floor(q.flo) - 1), up(std::ceil(q.fhi) + 1), nan);
        }
        case Op::Mod: {
            // Python's float %: the sign of the divisor, magnitude below it;
            // x % 0 and inf % y are NaN, and -5 % inf is inf.
            if (a.empty || b.empty) return Range::only_nan();
            const bool nan = a.nan || b.nan || b.may_be_zero() || a.may_be_inf();
            const double lo = b.flo < 0 ? b.flo : 0.0, hi = b.fhi > 0 ? b.fhi : 0.0;
            return Range::floats(lo, hi, nan);
        }
        case Op::Pow: {
            // pow(1, NaN) and pow(NaN, 0) are 1; other NaN operands give NaN.
            if (a.empty || b.empty) return Range::floats(1, 1, true);
            if (a.flo > 0) return Range::floats(0.0, kInf, a.nan || b.nan);
            return Range::floats(-kInf, kInf, true);
        }
        case Op::Min:
        case Op::Max: {
            // (b < a ? b : a) / (b > a ? b : a): a NaN `a` is the result, a NaN
            // `b` leaves `a`.
            if (a.empty) return a;
            if (b.empty) return a;
            Range r = op == Op::Min ? Range::floats(std::min(a.flo, b.flo), std::min(a.fhi, b.fhi), a.nan)
                                    : Range::floats(std::max(a.flo, b.flo), std::max(a.fhi, b.fhi), a.nan);
            return b.nan ? join(r, a) : r;
        }
        default:
            return Range::whole(Kind::F);
    }
}

// ---- Ints --------------------------------------------------------------------------

Range i_binary(Op op, const Range& a, const Range& b) {
    switch (op) {
        case Op::Add: return clamp_int(a.ilo + b.ilo, a.ihi + b.ihi, nullptr);
        case Op::Sub: return clamp_int(a.ilo - b.ihi, a.ihi - b.ilo, nullptr);
        case Op::Mul: {
            const int64_t c[] = {a.ilo * b.ilo, a.ilo * b.ihi, a.ihi * b.ilo, a.ihi * b.ihi};
            return clamp_int(*std::min_element(c, c + 4), *std::max_element(c, c + 4), nullptr);
        }
        case Op::Floordiv: {
            int64_t lo = INT64_MAX, hi = INT64_MIN;
            auto add = [&](int64_t v) { lo = std::min(lo, v); hi = std::max(hi, v); };
            if (b.ilo <= 0 && 0 <= b.ihi) add(0);  // b == 0 gives 0
            // floor(a / b) is monotone in a, and in b on each side of zero:
            // the extremes lie at the ends of a and of each side of b.
            for (int64_t y : {b.ilo, b.ihi, int64_t{-1}, int64_t{1}}) {
                if (y == 0 || y < b.ilo || y > b.ihi) continue;
                for (int64_t x : {a.ilo, a.ihi}) add(floordiv64(x, y));
            }
            if (lo > hi) return Range::ints(0, 0);
            return clamp_int(lo, hi, nullptr);  // INT_MIN // -1 wraps (prelude)
        }
        case Op::Mod: {
            int64_t lo = 0, hi = 0;  // b == 0 (and b == -1) give 0
            if (b.ihi > 0) hi = b.ihi - 1;
            if (b.ilo < 0) lo = b.ilo + 1;
            if (a.ilo >= 0 && b.ilo > 0) hi = std::min(hi, a.ihi);
            return Range::ints(lo, hi);
        }
        case Op::Pow: {
            if (b.ilo != b.ihi || b.ilo < 0) return b.ihi < 0 ? Range::ints(0, 0) : Range::whole(Kind::I);
            const int64_t k = b.ilo;
            if (k == 0) return Range::ints(1, 1);
            if (a.ilo >= -1 && a.ihi <= 1)  // powers of -1, 0 and 1
                return k % 2 == 1 ? a : Range::ints(a.ilo <= 0 && 0 <= a.ihi ? 0 : 1, a.ilo == 0 && a.ihi == 0 ? 0 : 1);
            // |a|^k beyond int32 wraps; otherwise even powers are >= 0 and odd
            // ones monotone.
            const double m = std::max(std::fabs(static_cast<double>(a.ilo)), std::fabs(static_cast<double>(a.ihi)));
            if (std::pow(m, static_cast<double>(k)) > static_cast<double>(kIntMax)) return Range::whole(Kind::I);
            auto p = [k](int64_t x) {
                int64_t r = 1;
                for (int64_t i = 0; i < k; ++i) r *= x;
                return r;
            };
            if (k % 2 == 1) return Range::ints(p(a.ilo), p(a.ihi));
            const int64_t lo = (a.ilo <= 0 && 0 <= a.ihi) ? 0 : std::min(p(a.ilo), p(a.ihi));
            return Range::ints(lo, std::max(p(a.ilo), p(a.ihi)));
        }
        case Op::Min: return Range::ints(std::min(a.ilo, b.ilo), std::min(a.ihi, b.ihi));
        case Op::Max: return Range::ints(std::max(a.ilo, b.ilo), std::max(a.ihi, b.ihi));
        case Op::And:
            if (a.ilo >= 0 && b.ilo >= 0) return Range::ints(0, std::min(a.ihi, b.ihi));
            if (a.ilo >= 0) return Range::ints(0, a.ihi);
            if (b.ilo >= 0) return Range::ints(0, b.ihi);
            return Range::whole(Kind::I);
        case Op::Or:
        case Op::Xor:
            if (a.ilo >= 0 && b.ilo >= 0) {
                const uint32_t m = static_cast<uint32_t>(std::max(a.ihi, b.ihi));
                const int64_t ones = m == 0 ? 0 : static_cast<int64_t>((uint64_t{1} << std::bit_width(m)) - 1);
                return Range::ints(op == Op::Or ? std::max(a.ilo, b.ilo) : 0, ones);
            }
            return Range::whole(Kind::I);
        case Op::Lshift:
        case Op::Rshift: {
            // The count is taken modulo 32.
            int64_t klo = 0, khi = 31;
            if (b.ilo >= 0 && b.ihi <= 31) klo = b.ilo, khi = b.ihi;
            if (op == Op::Rshift) {
                const int64_t c[] = {a.ilo >> klo, a.ilo >> khi, a.ihi >> klo, a.ihi >> khi};
                return Range::ints(*std::min_element(c, c + 4), *std::max_element(c, c + 4));
            }
            if (a.ilo >= 0 && (a.ihi << khi) <= kIntMax) return Range::ints(a.ilo << klo, a.ihi << khi);
            return Range::whole(Kind::I);
        }
        default:
            return Range::whole(Kind::I);
    }
}

Range compare(Op op, const Range& a, const Range& b) {
    if (a.kind == Kind::I) {
        switch (op) {
            case Op::Gt: return bool_range(!(a.ilo > b.ihi), a.ihi > b.ilo);
            case Op::Ge: return bool_range(!(a.ilo >= b.ihi), a.ihi >= b.ilo);
            case Op::Eq: return bool_range(!(a.ilo == a.ihi && b.ilo == b.ihi && a.ilo == b.ilo),
                                           a.ilo <= b.ihi && b.ilo <= a.ihi);
            default: return bool_range(a.ilo <= b.ihi && b.ilo <= a.ihi,  // Ne
                                       !(a.ilo == a.ihi && b.ilo == b.ihi && a.ilo == b.ilo));
        }
    }
    // Comparisons with NaN are false (ne: true).
    const bool nan = a.nan || b.nan;
    const bool both = !a.empty && !b.empty;
    switch (op) {
        case Op::Gt: return bool_range(nan || !both || !(a.flo > b.fhi), both && a.fhi > b.flo);
        case Op::Ge: return bool_range(nan || !both || !(a.flo >= b.fhi), both && a.fhi >= b.flo);
        case Op::Eq: {
            const bool overlap = both && a.flo <= b.fhi && b.flo <= a.fhi;
            const bool single = both && a.flo == a.fhi && b.flo == b.fhi && a.flo == b.flo;
            return bool_range(nan || !single, overlap);
        }
        default: {  // Ne
            const bool overlap = both && a.flo <= b.fhi && b.flo <= a.fhi;
            const bool single = both && a.flo == a.fhi && b.flo == b.fhi && a.flo == b.flo;
            return bool_range(overlap, nan || !single);
        }
    }
}

}  // namespace

// ---- Range -------------------------------------------------------------------------

Range Range::ints(int64_t lo, int64_t hi) {
    Range r;
    r.kind = Kind::I;
    r.ilo = lo;
    r.ihi = hi;
    return r;
}

Range Range::floats(double lo, double hi, bool nan) {
    Range r;
    r.kind = Kind::F;
    r.flo = lo;
    r.fhi = hi;
    r.nan = nan;
    r.empty = lo > hi;
    if (r.empty) r.flo = r.fhi = 0;
    return r;
}

Range Range::only_nan() {
    Range r = floats(0, 0, true);
    r.empty = true;
    return r;
}

Range Range::whole(Kind k) { return k == Kind::I ? ints(kIntMin, kIntMax) : floats(-kInf, kInf, true); }

Range Range::of_bits(Kind k, uint32_t bits) {
    if (k == Kind::I) return ints(static_cast<int32_t>(bits), static_cast<int32_t>(bits));
    const float f = as_float(bits);
    if (std::isnan(f)) return only_nan();
    return floats(f, f, false);
}

bool Range::contains_bits(uint32_t bits) const {
    if (kind == Kind::I) {
        const int64_t v = static_cast<int32_t>(bits);
        return ilo <= v && v <= ihi;
    }
    const float f = as_float(bits);
    if (std::isnan(f)) return nan;
    return !empty && flo <= f && f <= fhi;
}

bool Range::may_be_zero() const { return kind == Kind::I ? ilo <= 0 && 0 <= ihi : !empty && flo <= 0 && 0 <= fhi; }
bool Range::may_be_inf() const { return kind == Kind::F && !empty && (flo == -kInf || fhi == kInf); }

namespace {
std::string number(double x) {
    if (x == kInf) return "inf";
    if (x == -kInf) return "-inf";
    return fmt::format("{}", static_cast<float>(x));
}
}  // namespace

std::string Range::str() const {
    if (kind == Kind::I) return ilo == ihi ? fmt::format("[{}]", ilo) : fmt::format("[{}, {}]", ilo, ihi);
    if (empty) return "NaN";
    const std::string s = flo == fhi ? fmt::format("[{}]", number(flo)) : fmt::format("[{}, {}]", number(flo), number(fhi));
    return nan ? fmt::format("{} or NaN", s) : s;
}

Range join(const Range& a, const Range& b) {
    if (a.kind == Kind::I) return Range::ints(std::min(a.ilo, b.ilo), std::max(a.ihi, b.ihi));
    if (a.empty) {
        Range r = b;
        r.nan = a.nan || b.nan;
        return r;
    }
    if (b.empty) {
        Range r = a;
        r.nan = a.nan || b.nan;
        return r;
    }
    return Range::floats(std::min(a.flo, b.flo), std::max(a.fhi, b.fhi), a.nan || b.nan);
}

Range widen(const Range& old, const Range& next) {
    if (old.kind == Kind::I)
        return Range::ints(next.ilo < old.ilo ? kIntMin : old.ilo, next.ihi > old.ihi ? kIntMax : old.ihi);
    if (next.empty) return next;
    if (old.empty) return Range::floats(-kInf, kInf, next.nan);
    return Range::floats(next.flo < old.flo ? -kInf : old.flo, next.fhi > old.fhi ? kInf : old.fhi, next.nan);
}

Range transfer(Op op, Kind kind, std::span<const Range> args) {
    switch (op) {
        // A device register holds anything of its width (loads zero-extend).
        case Op::IoLoad8: return Range::ints(0, 0xff);
        case Op::IoLoad16: return Range::ints(0, 0xffff);
        case Op::IoLoad32: return Range::whole(kind);
        case Op::IoStore8:
        case Op::IoStore16:
        case Op::IoStore32: return args[0];  // the value passes through
        case Op::Gt:
        case Op::Ge:
        case Op::Eq:
        case Op::Ne:
            return compare(op, args[0], args[1]);
        case Op::Select: {
            const Range& c = args[0];
            if (!c.may_be_zero()) return args[1];
            if (c.ilo == 0 && c.ihi == 0) return args[2];
            return join(args[1], args[2]);
        }
        case Op::Itof:
            return Range::floats(lo_of(static_cast<double>(args[0].ilo)), hi_of(static_cast<double>(args[0].ihi)));
        case Op::Ftoi: {
            const Range& a = args[0];
            // cp_ftoi: truncation, saturating at the int32 bounds, NaN -> 0.
            auto conv = [](double x) {
                if (x >= 2147483648.0) return kIntMax;
                if (x <= -2147483648.0) return kIntMin;
                return static_cast<int64_t>(std::trunc(x));
            };
            if (a.empty) return Range::ints(0, 0);
            Range r = Range::ints(conv(a.flo), conv(a.fhi));
            return a.nan ? join(r, Range::ints(0, 0)) : r;
        }
        case Op::Itob:
            return bool_range(args[0].may_be_zero(), !(args[0].ilo == 0 && args[0].ihi == 0));
        case Op::Ftob:
            return bool_range(args[0].may_be_zero(),
                              args[0].nan || (!args[0].empty && !(args[0].flo == 0 && args[0].fhi == 0)));
        case Op::Neg:
            if (kind == Kind::I) return clamp_int(-args[0].ihi, -args[0].ilo, nullptr);
            return f_neg(args[0]);
        case Op::Abs: {
            const Range& a = args[0];
            if (kind == Kind::I) {
                if (a.ilo >= 0) return a;
                if (a.ihi <= 0) return clamp_int(-a.ihi, -a.ilo, nullptr);
                return clamp_int(0, std::max(-a.ilo, a.ihi), nullptr);
            }
            if (a.empty) return a;
            if (a.flo >= 0) return a;
            if (a.fhi <= 0) return f_neg(a);
            return Range::floats(0.0, std::max(-a.flo, a.fhi), a.nan);
        }
        case Op::Sign: {
            const Range& a = args[0];
            if (kind == Kind::I) return Range::ints(a.ilo > 0 ? 1 : a.ilo < 0 ? -1 : 0, a.ihi > 0 ? 1 : a.ihi < 0 ? -1 : 0);
            if (a.empty) return a;
            return Range::floats(a.flo > 0 ? 1.0 : a.flo < 0 ? -1.0 : 0.0, a.fhi > 0 ? 1.0 : a.fhi < 0 ? -1.0 : 0.0, a.nan);
        }
        default:
            break;
    }
    if (op_info(op).typing == Typing::Math) return f_math(op, args);
    if (args.size() == 2) return kind == Kind::F ? f_binary(op, args[0], args[1]) : i_binary(op, args[0], args[1]);
    return Range::whole(kind);
}

// ---- Findings ----------------------------------------------------------------------

namespace {

std::optional<RangeFinding> check(uint32_t id, const IrNode& n, std::span<const Range> args, const Range& result) {
    if (is_io(n.op)) return std::nullopt;  // a device access computes nothing that could go wrong
    auto finding = [&](RangeIssue issue, std::string what) { return RangeFinding{id, issue, std::move(what)}; };
    const Kind operand = n.nargs ? args[n.op == Op::Select ? 1 : 0].kind : n.kind;
    const std::string name(op_name(n.op));
    if (operand == Kind::I && n.kind == Kind::I) {
        switch (n.op) {
            case Op::Floordiv:
            case Op::Mod:
                if (args[1].may_be_zero())
                    return finding(RangeIssue::DivByZero, fmt::format("divisor in {} includes 0", args[1].str()));
                if (n.op == Op::Floordiv && args[0].ilo == kIntMin && args[1].ilo <= -1 && -1 <= args[1].ihi)
                    return finding(RangeIssue::IntWrap, fmt::format("{} // -1 wraps around (dividend in {})", kIntMin,
                                                                    args[0].str()));
                return std::nullopt;
            case Op::Lshift:
            case Op::Rshift:
                if (args[1].ilo < 0 || args[1].ihi > 31)
                    return finding(RangeIssue::ShiftCount,
                                   fmt::format("shift count in {} leaves [0, 31] (it is taken modulo 32)", args[1].str()));
                return std::nullopt;
            case Op::Add:
            case Op::Sub:
            case Op::Mul:
            case Op::Neg:
            case Op::Abs:
            case Op::Pow: {
                // Recompute the exact bounds without wrapping.
                const Range& a = args[0];
                int64_t lo = 0, hi = 0;
                bool known = true;
                if (n.op == Op::Add) lo = a.ilo + args[1].ilo, hi = a.ihi + args[1].ihi;
                else if (n.op == Op::Sub) lo = a.ilo - args[1].ihi, hi = a.ihi - args[1].ilo;
                else if (n.op == Op::Mul) {
                    const int64_t c[] = {a.ilo * args[1].ilo, a.ilo * args[1].ihi, a.ihi * args[1].ilo, a.ihi * args[1].ihi};
                    lo = *std::min_element(c, c + 4), hi = *std::max_element(c, c + 4);
                } else if (n.op == Op::Neg) lo = -a.ihi, hi = -a.ilo;
                else if (n.op == Op::Abs) lo = 0, hi = std::max(-a.ilo, a.ihi);
                else known = false;
                if (known && (lo < kIntMin || hi > kIntMax))
                    return finding(RangeIssue::IntWrap, fmt::format("{} of {}{} may wrap around int32 (exact result in "
                                                                    "[{}, {}])", name, a.str(),
                                                                    n.nargs == 2 ? fmt::format(" and {}", args[1].str()) : std::string(), lo, hi));
                if (!known && result == Range::whole(Kind::I) && !(a == Range::whole(Kind::I)))
                    return finding(RangeIssue::IntWrap, fmt::format("pow of {} may wrap around int32", a.str()));
                return std::nullopt;
            }
            default:
                return std::nullopt;
        }
    }
    if (n.op == Op::Ftoi) {
        const Range& a = args[0];
        if (a.nan) return finding(RangeIssue::FloatToInt, fmt::format("float to int of {} may see NaN (gives 0)", a.str()));
        if (!a.empty && (a.flo <= -2147483649.0 || a.fhi >= 2147483648.0))
            return finding(RangeIssue::FloatToInt,
                           fmt::format("float to int of {} may overflow int32 (saturates)", a.str()));
        return std::nullopt;
    }
    if (n.kind != Kind::F) return std::nullopt;
    const Range& a = args[0];
    switch (n.op) {
        case Op::Sqrt:
            if (!a.empty && a.flo < 0)
                return finding(RangeIssue::Domain, fmt::format("sqrt argument in {} may be negative", a.str()));
            break;
        case Op::Log:
            if (!a.empty && a.flo <= 0)
                return finding(RangeIssue::Domain, fmt::format("log argument in {} includes values <= 0", a.str()));
            break;
        case Op::Asin:
        case Op::Acos:
            if (!a.empty && (a.flo < -1 || a.fhi > 1))
                return finding(RangeIssue::Domain, fmt::format("{} argument in {} leaves [-1, 1]", name, a.str()));
            break;
        case Op::Pow: {
            const Range& b = args[1];
            const bool integral_exponent = !b.empty && !b.nan && b.flo == b.fhi && std::trunc(b.flo) == b.flo;
            if (!a.empty && a.flo < 0 && !integral_exponent)
                return finding(RangeIssue::Domain, fmt::format("pow base in {} may be negative with an exponent in {}",
                                                               a.str(), b.str()));
            if (a.may_be_zero() && !b.empty && b.flo < 0)
                return finding(RangeIssue::Domain,
                               fmt::format("pow base in {} may be 0 with a negative exponent in {}", a.str(), b.str()));
            break;
        }
        case Op::Div:
        case Op::Floordiv:
        case Op::Mod:
            if (args[1].may_be_zero())
                return finding(RangeIssue::FloatSpecial,
                               fmt::format("{} may give inf or NaN: divisor in {} includes 0", name, args[1].str()));
            break;
        default:
            break;
    }
    // A float result that may be inf or NaN although no operand may be.
    bool operands_special = false;
    for (const Range& r : args)
        if (r.kind == Kind::F && (r.nan || r.may_be_inf())) operands_special = true;
    if (!operands_special && (result.nan || result.may_be_inf()) && n.op != Op::Select)
        return finding(RangeIssue::FloatSpecial, fmt::format("{} of {}{} may give {}", name, a.str(),
                                                             n.nargs == 2 ? fmt::format(" and {}", args[1].str()) : std::string(),
                                                             result.nan ? (result.may_be_inf() ? "inf or NaN" : "NaN")
                                                                        : "inf"));
    return std::nullopt;
}

// x * x: never negative, which interval multiplication of two independent
// operands cannot see.
Range square(Kind kind, const Range& a) {
    const Range r = transfer(Op::Mul, kind, std::array<Range, 2>{a, a});
    if (kind == Kind::I) {
        if (r == Range::whole(Kind::I)) return r;  // wrapped
        const int64_t lo = a.may_be_zero() ? 0 : std::min(a.ilo * a.ilo, a.ihi * a.ihi);
        return Range::ints(lo, r.ihi);
    }
    if (r.empty) return r;
    const double lo = a.may_be_zero() ? 0.0 : lo_of(std::min(a.flo * a.flo, a.fhi * a.fhi));
    return Range::floats(std::max(r.flo, lo), r.fhi, r.nan);
}

// The range of node n from its operands' ranges.
Range node_range(const IrNode& n, std::span<const Range> args) {
    if (n.op == Op::Mul && n.args[0] == n.args[1]) return square(n.kind, args[0]);
    return transfer(n.op, n.kind, args);
}

std::array<Range, 3> operands(const IrNode& n, const RangeTable& ranges) {
    std::array<Range, 3> args{};
    for (size_t k = 0; k < args.size() && k < n.nargs; ++k) args[k] = ranges[n.args[k]];
    return args;
}

// One forward pass over the computed nodes the program runs (`order` is
// topological; dead nodes keep no range worth computing).
void propagate(const Ir& ir, std::span<const uint32_t> order, RangeTable& ranges) {
    for (uint32_t i : order) {
        const IrNode& n = ir.nodes[i];
        const std::array<Range, 3> args = operands(n, ranges);
        ranges.set(i, node_range(n, std::span<const Range>(args.data(), n.nargs)));
    }
}

}  // namespace

// ---- RangeTable ---------------------------------------------------------------

namespace {
constexpr uint8_t kNan = 1, kEmpty = 2;

// The largest binary32 value <= x (rounding down), or the smallest >= x.
float float_below(double x) {
    float f = static_cast<float>(x);
    if (static_cast<double>(f) > x) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
    return f;
}
float float_above(double x) {
    float f = static_cast<float>(x);
    if (static_cast<double>(f) < x) f = std::nextafter(f, std::numeric_limits<float>::infinity());
    return f;
}

// [lo, hi] of r as its kind's 32-bit patterns (int32 or binary32), as the
// table and the image's symbol ranges hold them.
std::pair<uint32_t, uint32_t> bound_bits(const Range& r) {
    if (r.kind == Kind::I)
        return {static_cast<uint32_t>(static_cast<int32_t>(std::clamp<int64_t>(r.ilo, kIntMin, kIntMax))),
                static_cast<uint32_t>(static_cast<int32_t>(std::clamp<int64_t>(r.ihi, kIntMin, kIntMax)))};
    return {std::bit_cast<uint32_t>(float_below(r.flo)), std::bit_cast<uint32_t>(float_above(r.fhi))};
}
}  // namespace

RangeTable::Packed RangeTable::pack(const Range& r) {
    const auto [lo, hi] = bound_bits(r);
    return {lo, hi, r.kind, static_cast<uint8_t>((r.nan ? kNan : 0) | (r.empty ? kEmpty : 0))};
}

Range RangeTable::operator[](size_t i) const {
    const Packed& p = packed_[i];
    Range r;
    r.kind = p.kind;
    r.nan = p.flags & kNan;
    r.empty = p.flags & kEmpty;
    if (p.kind == Kind::I) {
        r.ilo = static_cast<int32_t>(p.lo);
        r.ihi = static_cast<int32_t>(p.hi);
    } else {
        r.flo = std::bit_cast<float>(p.lo);
        r.fhi = std::bit_cast<float>(p.hi);
    }
    return r;
}

void RangeTable::assign(size_t n, const Range& r) { packed_.assign(n, pack(r)); }

Range declared_range(const IrInput& in) {
    if (!in.declared) return in.dtype == DType::Bool ? Range::ints(0, 1) : Range::whole(kind_of(in.dtype));
    if (in.dtype == DType::Float) return Range::floats(std::bit_cast<float>(in.lo), std::bit_cast<float>(in.hi));
    return Range::ints(static_cast<int32_t>(in.lo), static_cast<int32_t>(in.hi));
}

RangeAnalysis analyze_ranges(const Ir& ir, std::span<const uint32_t> order) {
    RangeAnalysis out;
    out.ranges.assign(ir.nodes.size(), Range{});
    for (uint32_t i = 0; i < ir.nodes.size(); ++i) {
        const IrNode& n = ir.nodes[i];
        if (n.op == Op::Const) out.ranges.set(i, Range::of_bits(n.kind, n.bits));
        if (n.op != Op::Input) continue;
        const IrInput& in = ir.inputs[n.input];
        // A state without a declared range starts from its initial value and
        // grows by the fixed point below; everything else is what the host
        // may write (a declared state also holds its updates: checked below).
        out.ranges.set(i, in.state && !in.declared ? Range::of_bits(n.kind, n.bits) : declared_range(in));
    }
    // Undeclared states: the value at the start of a run is the initial
    // value or the last run's update. Iterate to a post-fixpoint, widening
    // bounds that still move after a few rounds to the type's limits (the
    // NaN flag can change only once, so this ends within a few more rounds).
    constexpr int kRounds = 8;
    for (int round = 0; !ir.updates.empty(); ++round) {
        propagate(ir, order, out.ranges);
        bool changed = false;
        for (const IrUpdate& u : ir.updates) {
            const IrInput& in = ir.inputs[u.input];
            if (in.declared) continue;
            const Range old = out.ranges[in.node];
            const Range next = join(old, out.ranges[u.node]);
            if (next == old) continue;
            changed = true;
            out.ranges.set(in.node, round < kRounds ? next : widen(old, next));
        }
        if (!changed) break;
    }
    // Narrowing: S holds every state's start values and F(S) = initial value
    // joined with the update computed from S lies inside S, so F(S) holds
    // them too (F is monotone); a widened clamp comes back to its bounds.
    constexpr int kNarrowings = 2;
    for (int round = 0; round < kNarrowings && !ir.updates.empty(); ++round) {
        bool changed = false;
        for (const IrUpdate& u : ir.updates) {
            const IrInput& in = ir.inputs[u.input];
            if (in.declared) continue;
            const IrNode& n = ir.nodes[in.node];
            const Range next = join(Range::of_bits(n.kind, n.bits), out.ranges[u.node]);
            changed = changed || next != out.ranges[in.node];
            out.ranges.set(in.node, next);
        }
        if (!changed) break;
        propagate(ir, order, out.ranges);
    }
    // A state's invariant is kept by the program, but the host may also write
    // the state (a reset). The image records an invariant without NaN as the
    // state's range, which hosts enforce (adopt_state_invariants); one with
    // NaN cannot be written down, so the host may write anything there.
    bool unbounded = false;
    for (const IrUpdate& u : ir.updates) {
        const IrInput& in = ir.inputs[u.input];
        if (!in.declared && out.ranges[in.node].nan) {
            out.ranges.set(in.node, declared_range(in));
            unbounded = true;
        }
    }
    if (unbounded) propagate(ir, order, out.ranges);
    // The final ranges (without states: the only pass), and the findings.
    const bool final = !ir.updates.empty();  // the ranges are final already
    for (uint32_t i : order) {
        const IrNode& n = ir.nodes[i];
        const std::array<Range, 3> args = operands(n, out.ranges);
        const std::span<const Range> operand_ranges(args.data(), n.nargs);
        const Range r = final ? out.ranges[i] : node_range(n, operand_ranges);
        if (!final) out.ranges.set(i, r);
        if (auto f = check(i, n, operand_ranges, r)) out.findings.push_back(std::move(*f));
    }
    // A declared state is assumed to hold its range at the start of every
    // run; that is sound only if every update stays inside it.
    for (const IrUpdate& u : ir.updates) {
        const IrInput& in = ir.inputs[u.input];
        const Range next = out.ranges[u.node];
        if (in.declared && join(next, declared_range(in)) != declared_range(in))
            out.findings.push_back({u.node, RangeIssue::StateRange,
                                    fmt::format("state {} may leave its declared range {}: its next value is in {}",
                                                quote(ir.names[in.name]), declared_range(in).str(), next.str())});
    }
    return out;
}

namespace {

// The node `n` (operands already rewritten) equals, if it always gives one
// of its operands' values bit for bit; else kNone.
uint32_t same_as_operand(const IrNode& n, const RangeTable& r) {
    auto never_less = [&](uint32_t x, uint32_t y) {  // x < y is false in every run
        const Range a = r[x], b = r[y];
        if (a.kind == Kind::I) return a.ilo >= b.ihi;
        return a.empty || b.empty || a.flo >= b.fhi;  // NaN compares false
    };
    auto always_less = [&](uint32_t x, uint32_t y) {  // x < y in every run
        const Range a = r[x], b = r[y];
        if (a.kind == Kind::I) return a.ihi < b.ilo;
        return !a.nan && !b.nan && !a.empty && !b.empty && a.fhi < b.flo;
    };
    const uint32_t a = n.args[0], b = n.args[1];
    switch (n.op) {
        case Op::Min:  // b if b < a else a
            if (never_less(b, a)) return a;
            if (always_less(b, a)) return b;
            return kNone;
        case Op::Max:  // b if b > a else a
            if (never_less(a, b)) return a;
            if (always_less(a, b)) return b;
            return kNone;
        case Op::Abs: {
            const Range x = r[a];
            if (x.kind == Kind::I) return x.ilo >= 0 ? a : kNone;
            return !x.nan && !x.empty && x.flo > 0 ? a : kNone;
        }
        case Op::Select: {  // the condition is an int (lowering made it one)
            const Range c = r[a];
            if (c.ilo == 0 && c.ihi == 0) return n.args[2];
            if (!c.may_be_zero()) return b;
            return kNone;
        }
        default: return kNone;
    }
}

}  // namespace

size_t simplify_by_ranges(Ir& ir, const RangeAnalysis& analysis) {
    std::vector<uint32_t> repl(ir.nodes.size());
    size_t bypassed = 0;
    // Nodes are in topological order: operands are final before their users.
    for (uint32_t i = 0; i < ir.nodes.size(); ++i) {
        IrNode& n = ir.nodes[i];
        for (unsigned k = 0; k < n.nargs; ++k) n.args[k] = repl[n.args[k]];
        const uint32_t same = same_as_operand(n, analysis.ranges);
        repl[i] = same == kNone ? i : same;
        bypassed += same != kNone;
    }
    for (IrOutput& o : ir.outputs) o.node = repl[o.node];
    for (IrUpdate& u : ir.updates) u.node = repl[u.node];
    return bypassed;
}

size_t adopt_state_invariants(Ir& ir, const RangeAnalysis& analysis) {
    size_t adopted = 0;
    for (const IrUpdate& u : ir.updates) {
        IrInput& in = ir.inputs[u.input];
        const Range r = analysis.ranges[in.node];
        if (in.declared || r.nan || r.empty || r == declared_range(in)) continue;
        in.proven = true;
        std::tie(in.lo, in.hi) = bound_bits(r);
        ++adopted;
    }
    return adopted;
}

}  // namespace copapy
