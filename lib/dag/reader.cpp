// Reading and validating a DAG file (docs/dag-format.md).
//
// Validation collects every problem of a phase (structure, then references
// and cycles, then types) before giving up, so a user fixes a file in one go.
//
// Parsing: CBOR with CborReader, JSON with JsonReader and, for the JSON it
// declines (escapes, non-ASCII text, malformed files), nlohmann's parser,
// all three driving one Sax that fills the Reader. Both readers of this file
// decode the small objects of the nodes/outputs/updates lists straight into
// a RawObject, which the general paths build from events.
#include <fmt/format.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

#include "dag.hpp"
#include "support/error.hpp"
#include "support/text.hpp"

namespace copapy {

namespace {

using json = nlohmann::json;
constexpr size_t kMaxErrors = 20;

class Diagnostics {
public:
    template <typename... Args>
    void add(fmt::format_string<Args...> f, Args&&... args) {
        if (lines_.size() < kMaxErrors) lines_.push_back(fmt::format(f, std::forward<Args>(args)...));
        ++count_;
    }
    bool empty() const { return count_ == 0; }
    // Throws if anything was reported.
    void check() const {
        if (empty()) return;
        std::string msg;
        for (const auto& l : lines_) msg += (msg.empty() ? "" : "\n") + l;
        if (count_ > lines_.size()) msg += fmt::format("\n{} more errors not shown", count_ - lines_.size());
        throw Error(ErrorKind::Input, msg);
    }

private:
    std::vector<std::string> lines_;
    size_t count_ = 0;
};

std::string where(const DagNode& n) { return fmt::format("node {} ('{}')", n.id, op_name(n.op)); }

constexpr std::string_view kDtypeNames[] = {"int", "float", "bool"};

// The op names a DAG may use, for "did you mean" (built on the first unknown op).
const std::vector<std::string_view>& dag_op_names() {
    static const std::vector<std::string_view> names = [] {
        std::vector<std::string_view> v;
        for (Op op : kTableOps)
            if (!(op_info(op).flags & Internal)) v.push_back(op_name(op));
        for (Op op : {Op::Input, Op::Const, Op::State}) v.push_back(op_name(op));
        return v;
    }();
    return names;
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 255) return false;
    auto head = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    auto tail = [&](char c) { return head(c) || (c >= '0' && c <= '9') || c == '.' || c == '[' || c == ']'; };
    if (!head(s[0])) return false;
    for (char c : s)
        if (!tail(c)) return false;
    return true;
}

// A value as it came from the file, before we know what it is for.
struct RawValue {
    enum Kind : uint8_t { Absent, Int, Uint, Float, Bool, Str, Other } kind = Absent;
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0;
    bool b = false;
    std::string s;          // a text (str() gives it)
    std::string_view view;  // or, when set, the text as it is in the file (the CBOR shortcut)
    std::string_view str() const { return view.data() ? view : std::string_view(s); }
    const char* other = "";  // type name of an unexpected object/array/null

    // Node ids are 0 .. 2^53: exact in every JSON reader, and no arithmetic
    // on them (id + 1, say) can overflow.
    static constexpr uint64_t kMaxId = uint64_t{1} << 53;
    bool is_nonneg_int() const { return (kind == Uint && u <= kMaxId) || (kind == Int && i >= 0 && uint64_t(i) <= kMaxId); }
    // Any integer, clamped into int64 (ids beyond kMaxId never match a node).
    int64_t as_int() const { return kind == Uint ? static_cast<int64_t>(std::min<uint64_t>(u, INT64_MAX)) : i; }
    const char* type_name() const {
        switch (kind) {
            case Int:
            case Uint:
            case Float: return "number";
            case Bool: return "boolean";
            case Str: return "string";
            default: return other;
        }
    }
};

// Parses a const/input value of the given type into its 32-bit pattern.
// Returns an error message, or "" on success.
std::string parse_value(const RawValue& v, DType t, uint32_t& bits) {
    switch (t) {
        case DType::Int:
        case DType::Bool: {
            int64_t x;
            if (v.kind == RawValue::Bool) {
                x = v.b ? 1 : 0;
            } else if (v.kind == RawValue::Uint) {
                if (v.u > uint64_t(std::numeric_limits<int32_t>::max()))
                    return fmt::format("value {} does not fit in int32", v.u);
                x = static_cast<int64_t>(v.u);
            } else if (v.kind == RawValue::Int) {
                x = v.i;
                if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
                    return fmt::format("value {} does not fit in int32", x);
            } else {
                return fmt::format("value must be an integer or a bool, not {}", v.type_name());
            }
            if (t == DType::Bool && x != 0 && x != 1) return fmt::format("bool value must be 0 or 1, not {}", x);
            bits = static_cast<uint32_t>(static_cast<int32_t>(x));
            return "";
        }
        case DType::Float: {
            float f;
            if (v.kind == RawValue::Str) {
                if (v.str() == "inf") f = std::numeric_limits<float>::infinity();
                else if (v.str() == "-inf") f = -std::numeric_limits<float>::infinity();
                else if (v.str() == "nan") f = std::numeric_limits<float>::quiet_NaN();
                else return fmt::format("float value must be a number, \"inf\", \"-inf\" or \"nan\", not \"{}\"", v.str());
            } else if (v.kind == RawValue::Int || v.kind == RawValue::Uint || v.kind == RawValue::Float) {
                const double d = v.kind == RawValue::Float ? v.f : v.kind == RawValue::Int ? double(v.i) : double(v.u);
                // Converting a double beyond the float range is undefined in C++:
                // check first (values that round to FLT_MAX are fine).
                constexpr double kLimit = 3.4028235677973366e38;  // FLT_MAX + half an ulp
                if (std::isfinite(d) && std::fabs(d) >= kLimit) return fmt::format("value {} is out of binary32 range", d);
                f = static_cast<float>(d);
            } else {
                return fmt::format("value must be a number, not {}", v.type_name());
            }
            bits = std::bit_cast<uint32_t>(f);
            return "";
        }
    }
    return "bad type";
}

// The fields the schema knows, in nodes, outputs and updates.
enum Field : uint8_t { kId, kOp, kDtype, kValue, kName, kNode, kState, kFieldCount };
constexpr std::string_view kFieldNames[kFieldCount] = {"id", "op", "dtype", "value", "name", "node", "state"};

// Whether an array-valued field was seen, and as what.
enum class ListState : uint8_t { Absent, Array, NotArray };

// An array-valued field of non-negative integers: `args` (node ids) and
// `loc` ([file, line]), collected without a RawValue per element.
struct UintList {
    ListState state = ListState::Absent;
    std::vector<int64_t> items;  // the valid elements
    size_t count = 0;            // elements
    int64_t bad = -1;            // first element that is not a non-negative integer
    void clear() {
        state = ListState::Absent;
        items.clear();
        count = 0;
        bad = -1;
    }
    void add(const RawValue* v) {  // nullptr: a nested array/object
        if (v && v->is_nonneg_int()) items.push_back(v->as_int());
        else if (bad < 0) bad = static_cast<int64_t>(count);
        ++count;
    }
    void add_uint(uint64_t u) {  // add() of an unsigned integer
        if (u <= RawValue::kMaxId) items.push_back(static_cast<int64_t>(u));
        else if (bad < 0) bad = static_cast<int64_t>(count);
        ++count;
    }
};

// An array-valued field of scalars (`range`: [lo, hi]); rare, so plain RawValues.
struct ValueList {
    ListState state = ListState::Absent;
    std::vector<RawValue> items;
    bool nested = false;  // an element was an array or object
    void clear() {
        state = ListState::Absent;
        items.clear();
        nested = false;
    }
};

// The fields of one object in `nodes`, `outputs` or `updates`: a slot per
// known field (no per-field strings or searches on the hot path), other keys
// kept in order for the error messages.
struct RawObject {
    std::array<RawValue, kFieldCount> slot;
    uint8_t present = 0;               // bit per Field
    std::vector<std::string> unknown;  // keys the schema does not know
    UintList args, loc;
    ValueList range;
    void clear() {
        present = 0;
        unknown.clear();
        args.clear();
        loc.clear();
        range.clear();
    }
    // The slot of field f, reset to a fresh value (as set() would store),
    // and marked present: for decoders that fill values in place.
    // (Only what says which member holds the value is reset: every decoder
    // sets the kind and that member, and nothing reads the others.)
    RawValue& fresh_slot(Field f) {
        RawValue& v = slot[f];
        v.kind = RawValue::Absent;
        v.view = {};
        v.other = "";
        present |= static_cast<uint8_t>(1u << f);
        return v;
    }
    // Records a field (arrays and objects as values of kind Other). A key
    // given twice keeps its first value, like a search in file order would.
    void set(std::string& key, RawValue&& v) {
        for (uint8_t f = 0; f < kFieldCount; ++f) {
            if (key == kFieldNames[f]) {
                if (!(present & (1u << f))) slot[f] = std::move(v);
                present |= static_cast<uint8_t>(1u << f);
                return;
            }
        }
        unknown.push_back(std::move(key));
    }
    const RawValue* get(Field f) const { return (present & (1u << f)) ? &slot[f] : nullptr; }
    // Reports every field outside `allowed` (a bit per Field), then the unknown keys.
    template <typename Report>
    void check_fields(uint8_t allowed, Report report) const {
        for (uint8_t f = 0; f < kFieldCount; ++f)
            if ((present & (1u << f)) && !(allowed & (1u << f))) report(kFieldNames[f]);
        for (const std::string& k : unknown) report(std::string_view(k));
    }
};
constexpr uint8_t bit(Field f) { return static_cast<uint8_t>(1u << f); }

// An item of `outputs` (`first` is kName) or `updates` (kState), kept until
// every node is read: its two fields and the keys check_fields() reports,
// not the whole RawObject (a program may have 100,000s of outputs).
struct RawLink {
    Field first_field;
    uint8_t present;
    RawValue first, node;
    std::vector<std::string> reported;
    static RawLink of(RawObject& o, Field first) {
        RawLink l{first, o.present, std::move(o.slot[first]), std::move(o.slot[kNode]), {}};
        o.check_fields(bit(first) | bit(kNode), [&](std::string_view key) { l.reported.emplace_back(key); });
        return l;
    }
    const RawValue* get(Field f) const {
        if (!(present & (1u << f))) return nullptr;
        return f == kNode ? &node : f == first_field ? &first : nullptr;
    }
};

// The integer-list field `key` names in `obj` ("args", "loc"), or nullptr.
UintList* uint_list(RawObject& obj, std::string_view key) {
    // Per node: fixed-length compares the compiler inlines.
    if (key.size() == 4 && std::memcmp(key.data(), "args", 4) == 0) return &obj.args;
    if (key.size() == 3 && std::memcmp(key.data(), "loc", 3) == 0) return &obj.loc;
    return nullptr;
}

constexpr uint32_t kNoNode = UINT32_MAX;

// Node id -> index in Dag::nodes. Ids are usually dense (the tracer numbers
// 0..n-1): a flat vector then, a hash map for ids far beyond the node count.
class IdIndex {
public:
    // Records id -> index; returns the index already recorded, or kNoNode.
    uint32_t insert(int64_t id, uint32_t index) {
        if (id >= 0 && id < static_cast<int64_t>(dense_limit(index))) {
            // A page of slots at a time (the vector's capacity grows geometrically).
            if (static_cast<size_t>(id) >= dense_.size()) dense_.resize((static_cast<size_t>(id) + 1024) & ~size_t{1023}, kNoNode);
            uint32_t& slot = dense_[static_cast<size_t>(id)];
            if (slot != kNoNode) return slot;
            // The limit grows with the node count: an id seen earlier may sit in the sparse map.
            if (auto it = sparse_.find(id); it != sparse_.end()) return it->second;
            slot = index;
            return kNoNode;
        }
        auto [it, fresh] = sparse_.emplace(id, index);
        return fresh ? kNoNode : it->second;
    }
    void reserve(size_t ids) { dense_.reserve(ids); }
    uint32_t find(int64_t id) const {
        if (id >= 0 && static_cast<size_t>(id) < dense_.size() && dense_[static_cast<size_t>(id)] != kNoNode)
            return dense_[static_cast<size_t>(id)];
        auto it = sparse_.find(id);
        return it == sparse_.end() ? kNoNode : it->second;
    }

private:
    // Dense storage stays within a few words per node read so far.
    static size_t dense_limit(uint32_t nodes_so_far) { return 4 * size_t{nodes_so_far} + 4096; }
    std::vector<uint32_t> dense_;
    std::unordered_map<int64_t, uint32_t> sparse_;
};

// The Field a key names, or -1 (by length first: no call per comparison).
int field_of(std::string_view key) {
    auto is = [&](const char(&name)[sizeof("dtype")]) { return std::memcmp(key.data(), name, 5) == 0; };
    switch (key.size()) {
        case 2:
            if (key[0] == 'i' && key[1] == 'd') return kId;
            if (key[0] == 'o' && key[1] == 'p') return kOp;
            return -1;
        case 4:
            if (std::memcmp(key.data(), "name", 4) == 0) return kName;
            if (std::memcmp(key.data(), "node", 4) == 0) return kNode;
            return -1;
        case 5:
            if (is("dtype")) return kDtype;
            if (is("value")) return kValue;
            if (is("state")) return kState;
            return -1;
        default: return -1;
    }
}

class Reader;

// Streams the document (JSON or CBOR) into the Reader without building a DOM:
// memory stays proportional to the nodes, not to the text.
class Sax {
public:
    explicit Sax(Reader& r) : r_(r) {}
    bool null() { return scalar(other("null")); }
    bool boolean(bool b) {
        RawValue v;
        v.kind = RawValue::Bool;
        v.b = b;
        return scalar(std::move(v));
    }
    bool number_integer(int64_t i) {
        RawValue v;
        v.kind = RawValue::Int;
        v.i = i;
        return scalar(std::move(v));
    }
    bool number_unsigned(uint64_t u) {
        RawValue v;
        v.kind = RawValue::Uint;
        v.u = u;
        return scalar(std::move(v));
    }
    bool number_float(double f, const std::string&) {
        RawValue v;
        v.kind = RawValue::Float;
        v.f = f;
        return scalar(std::move(v));
    }
    bool string(std::string& s) {
        RawValue v;
        v.kind = RawValue::Str;
        v.s = std::move(s);
        return scalar(std::move(v));
    }
    bool binary(json::binary_t&) { return scalar(other("binary")); }
    bool key(std::string& k) {
        key_ = std::move(k);
        return true;
    }
    bool start_object(size_t);
    bool end_object();
    bool start_array(size_t);
    bool end_array();
    bool parse_error(size_t, const std::string&, const json::exception& e) {
        error_ = e.what();
        return false;
    }
    const std::string& error() const { return error_; }

    // For a decoder that reads the objects of a top-level list itself (the
    // CBOR reader's shortcut): the object to fill, if one is expected here,
    // and the hand-over, both as start_object/end_object would do them.
    RawObject* list_object() {
        if (at_ != At::List) return nullptr;
        obj_.clear();
        return &obj_;
    }
    bool list_object_done();

private:
    // Where in the document the parser is.
    // Ids: in an integer-list field of an item (ids_); Values: in `range`;
    // Files: in the top-level `files`.
    enum class At : uint8_t { Start, Top, List, Item, Ids, Values, Files, Skip };
    static RawValue other(const char* name) {
        RawValue v;
        v.kind = RawValue::Other;
        v.other = name;
        return v;
    }
    bool scalar(RawValue v);
    bool not_array(const std::string& key);
    // Ignores the array or object that starts here (its contents included).
    bool begin_skip() {
        skip_return_ = at_;
        at_ = At::Skip;
        skip_depth_ = 1;
        return true;
    }

    Reader& r_;
    At at_ = At::Start;
    std::string list_;       // which top-level array we are in
    std::string key_;
    size_t skip_depth_ = 0;  // nesting inside a skipped value
    At skip_return_ = At::Top;
    RawObject obj_;
    UintList* ids_ = nullptr;  // the list being read in At::Ids
    size_t index_ = 0;       // position of the object in its array
    std::string error_;
};

// A CBOR decoder (RFC 8949) that drives the same SAX interface as nlohmann's
// parsers, several times faster than nlohmann's binary reader on DAG files
// (which are millions of small maps). Definite and indefinite lengths, tags
// (skipped), half/single/double floats; nesting is limited so that no input
// can exhaust the stack.
class CborReader {
public:
    CborReader(std::span<const uint8_t> bytes, Sax& sax)
        : p_(bytes.data()), end_(bytes.data() + bytes.size()), begin_(p_), mark_(p_), sax_(sax) {}

    // Returns "" on success, else the error (sax errors stop it too).
    std::string parse() {
        if (!item(0)) return error_.empty() ? "stopped" : error_;
        if (p_ != end_) return fmt::format("trailing bytes after the top-level item at byte {}", p_ - begin_);
        return "";
    }

private:
    static constexpr int kMaxDepth = 64;

    // Errors name the offset of the initial byte being decoded (mark_), or
    // for a cut-off file, where the data ends.
    bool fail(std::string msg, const uint8_t* at = nullptr) {
        error_ = fmt::format("{} at byte {}", msg, (at ? at : mark_) - begin_);
        return false;
    }
    bool need(size_t n) { return static_cast<size_t>(end_ - p_) >= n || fail("unexpected end of input", end_); }
    uint8_t initial_byte() {
        mark_ = p_;
        return *p_++;
    }

    // The argument of an initial byte (the count, length or value);
    // `indefinite` is set for additional information 31 where it is allowed.
    bool argument(uint8_t info, uint64_t& v, bool* indefinite = nullptr) {
        if (indefinite) *indefinite = false;
        if (info < 24) {
            v = info;
            return true;
        }
        if (info == 31) {
            if (!indefinite) return fail("indefinite length not allowed here");
            *indefinite = true;
            v = 0;
            return true;
        }
        if (info > 27) return fail("reserved additional information");
        const size_t n = size_t{1} << (info - 24);
        if (!need(n)) return false;
        v = 0;
        for (size_t i = 0; i < n; ++i) v = (v << 8) | *p_++;
        return true;
    }

    // A text string (definite, or indefinite as definite chunks), which
    // must be UTF-8 (RFC 8949; names end up in JSON output).
    bool text(uint64_t len, bool indefinite, std::string& out) {
        out.clear();
        if (!indefinite) {
            if (!need(len)) return false;
            out.assign(reinterpret_cast<const char*>(p_), len);
            p_ += len;
            return valid_utf8(out) || fail("text string is not UTF-8");
        }
        while (true) {
            if (!need(1)) return false;
            const uint8_t b = initial_byte();
            if (b == 0xff) return valid_utf8(out) || fail("text string is not UTF-8");
            uint64_t n = 0;
            if ((b >> 5) != 3) return fail("bad text string chunk");
            if (!argument(b & 0x1f, n) || !need(n)) return false;
            out.append(reinterpret_cast<const char*>(p_), n);
            p_ += n;
        }
    }

    static bool valid_utf8(const std::string& s) {
        for (size_t i = 0; i < s.size();) {
            const auto c = static_cast<uint8_t>(s[i]);
            const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
            if (n == 0 || i + n > s.size()) return false;
            uint32_t cp = n == 1 ? c : c & (0x7f >> n);
            for (size_t k = 1; k < n; ++k) {
                const auto d = static_cast<uint8_t>(s[i + k]);
                if ((d >> 6) != 2) return false;
                cp = (cp << 6) | (d & 0x3f);
            }
            // No overlong forms, surrogates or values beyond U+10FFFF.
            if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                (cp >= 0xd800 && cp <= 0xdfff))
                return false;
            i += n;
        }
        return true;
    }

    static double half_to_double(unsigned h) {
        const int e = (h >> 10) & 0x1f;
        const double m = h & 0x3ff;
        double d = e == 0 ? std::ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(m + 1024, e - 25);
        return (h & 0x8000) ? -d : d;
    }

    // The shortcut for the objects of the top-level lists (DAG files are
    // millions of small maps): a definite-length map with known keys, each
    // once, whose values are integers, floats, booleans, null or ASCII text,
    // and "args" an array of unsigned integers, is decoded straight into the
    // Sax's RawObject, as the events of the general path would build it.
    // Anything else, or data that ends early, consumes nothing and returns
    // false: the general path then decodes the map and reports what is wrong.
    bool fast_object(uint64_t count, RawObject& obj) {
        const uint8_t* const start = p_;
        auto give_up = [&] {
            p_ = start;
            return false;
        };
        for (uint64_t i = 0; i < count; ++i) {
            if (p_ == end_ || (*p_ >> 5) != 3 || (*p_ & 0x1f) >= 24) return give_up();
            const size_t len = *p_ & 0x1f;
            if (static_cast<size_t>(end_ - p_) < len + 2) return give_up();  // the key, and the value's first byte
            const std::string_view key(reinterpret_cast<const char*>(p_ + 1), len);
            p_ += 1 + len;
            if (UintList* list = uint_list(obj, key)) {
                if (list->state != ListState::Absent || !fast_ids(*list)) return give_up();
                continue;
            }
            const int f = field_of(key);
            if (f < 0 || (obj.present & (1u << f))) return give_up();
            if (!fast_scalar(obj.fresh_slot(static_cast<Field>(f)))) return give_up();
        }
        return true;
    }

    // An argument (of additional information `info`) read at q, which moves
    // past it; false where argument() would fail or the data ends.
    bool fast_argument(uint8_t info, const uint8_t*& q, uint64_t& v) const {
        if (info < 24) {
            v = info;
            return true;
        }
        if (info > 27) return false;
        const size_t n = size_t{1} << (info - 24);
        if (static_cast<size_t>(end_ - q) < n) return false;
        v = 0;
        for (size_t k = 0; k < n; ++k) v = (v << 8) | *q++;
        return true;
    }

    bool fast_scalar(RawValue& v) {
        const uint8_t b = *p_;
        const uint8_t major = b >> 5, info = b & 0x1f;
        const uint8_t* q = p_ + 1;
        uint64_t x = 0;
        switch (major) {
            case 0:
            case 1:
                if (!fast_argument(info, q, x) || (major == 1 && x > uint64_t(INT64_MAX))) return false;
                if (major == 0) {
                    v.kind = RawValue::Uint;
                    v.u = x;
                } else {
                    v.kind = RawValue::Int;
                    v.i = -1 - static_cast<int64_t>(x);
                }
                p_ = q;
                return true;
            case 3:
                if (!fast_argument(info, q, x) || static_cast<uint64_t>(end_ - q) < x) return false;
                for (uint64_t k = 0; k < x; ++k)
                    if (q[k] >= 0x80) return false;  // not ASCII: the general path checks the UTF-8
                v.kind = RawValue::Str;
                v.view = {reinterpret_cast<const char*>(q), static_cast<size_t>(x)};  // the file outlives the read
                p_ = q + x;
                return true;
            case 7:
                switch (info) {
                    case 20:
                    case 21:
                        v.kind = RawValue::Bool;
                        v.b = info == 21;
                        p_ = q;
                        return true;
                    case 22:
                        v.kind = RawValue::Other;
                        v.other = "null";
                        p_ = q;
                        return true;
                    case 25:
                    case 26:
                    case 27:
                        if (!fast_argument(info, q, x)) return false;
                        v.kind = RawValue::Float;
                        v.f = info == 25   ? half_to_double(static_cast<unsigned>(x))
                              : info == 26 ? std::bit_cast<float>(static_cast<uint32_t>(x))
                                           : std::bit_cast<double>(x);
                        p_ = q;
                        return true;
                    default: return false;
                }
            default: return false;
        }
    }

    bool fast_ids(UintList& list) {
        const uint8_t* q = p_ + 1;
        uint64_t n = 0;
        if ((*p_ >> 5) != 4 || !fast_argument(*p_ & 0x1f, q, n) || static_cast<uint64_t>(end_ - q) < n) return false;
        list.state = ListState::Array;
        for (uint64_t k = 0; k < n; ++k) {
            uint64_t x = 0;
            if (q == end_ || (*q >> 5) != 0) return false;
            const uint8_t info = *q++ & 0x1f;
            if (!fast_argument(info, q, x)) return false;
            list.add_uint(x);
        }
        p_ = q;
        return true;
    }

    bool at_break() {
        if (p_ < end_ && *p_ == 0xff) {
            ++p_;
            return true;
        }
        return false;
    }

    bool item(int depth) {
        if (depth > kMaxDepth) return fail("nesting too deep");
        if (!need(1)) return false;
        const uint8_t b = initial_byte();
        const uint8_t major = b >> 5, info = b & 0x1f;
        uint64_t v = 0;
        bool indefinite = false;
        // Indefinite lengths exist for strings, arrays and maps only.
        if (major != 7 && !argument(info, v, major >= 2 && major <= 5 ? &indefinite : nullptr)) return false;
        switch (major) {
            case 0: return sax_.number_unsigned(v);
            case 1:
                if (v > uint64_t(INT64_MAX)) return fail("negative integer out of range");
                return sax_.number_integer(-1 - static_cast<int64_t>(v));
            case 2: {  // byte string: not part of the schema, reported as a wrong type
                if (!indefinite) {
                    if (!need(v)) return false;
                    p_ += v;
                } else {
                    while (!at_break()) {
                        if (!need(1)) return false;
                        uint64_t n = 0;
                        const uint8_t c = initial_byte();
                        if ((c >> 5) != 2) return fail("bad byte string chunk");
                        if (!argument(c & 0x1f, n) || !need(n)) return false;
                        p_ += n;
                    }
                }
                json::binary_t bin;
                return sax_.binary(bin);
            }
            case 3: {
                std::string s;
                return text(v, indefinite, s) && sax_.string(s);
            }
            case 4: {
                if (!sax_.start_array(indefinite ? std::size_t(-1) : v)) return false;
                if (indefinite) {
                    while (!at_break())
                        if (!item(depth + 1)) return false;
                } else {
                    for (uint64_t i = 0; i < v; ++i)
                        if (!item(depth + 1)) return false;
                }
                return sax_.end_array();
            }
            case 5: {
                if (!indefinite)
                    if (RawObject* obj = sax_.list_object(); obj && fast_object(v, *obj)) return sax_.list_object_done();
                if (!sax_.start_object(indefinite ? std::size_t(-1) : v)) return false;
                for (uint64_t i = 0; indefinite ? !at_break() : i < v; ++i) {
                    if (!need(1)) return false;
                    uint64_t n;
                    bool key_indefinite;
                    const uint8_t k = initial_byte();
                    if ((k >> 5) != 3) return fail("map key is not a text string");
                    if (!argument(k & 0x1f, n, &key_indefinite) || !text(n, key_indefinite, key_)) return false;
                    if (!sax_.key(key_) || !item(depth + 1)) return false;
                }
                return sax_.end_object();
            }
            case 6: return item(depth + 1);  // a tag: the tagged item counts
            default: break;
        }
        switch (info) {  // major 7: simple values and floats
            case 20: return sax_.boolean(false);
            case 21: return sax_.boolean(true);
            case 22: return sax_.null();
            case 25: {
                if (!need(2)) return false;
                const unsigned h = (p_[0] << 8) | p_[1];
                p_ += 2;
                return sax_.number_float(half_to_double(h), "");
            }
            case 26: {
                uint64_t bits;
                if (!argument(26, bits)) return false;
                return sax_.number_float(std::bit_cast<float>(static_cast<uint32_t>(bits)), "");
            }
            case 27: {
                uint64_t bits;
                if (!argument(27, bits)) return false;
                return sax_.number_float(std::bit_cast<double>(bits), "");
            }
            case 31: return fail("unexpected break");
            default: return fail("unsupported simple value");
        }
    }

    const uint8_t* p_;
    const uint8_t* end_;
    const uint8_t* begin_;
    const uint8_t* mark_ = nullptr;
    Sax& sax_;
    std::string key_;
    std::string error_;
};

// A JSON parser for DAG files: nlohmann's SAX parser reads some 60 MB/s, and
// DAG files are millions of small objects. It drives the Sax as nlohmann's
// sax_parse() does for the JSON it accepts: text of printable ASCII without
// escapes, numbers converted as nlohmann converts them (integers of up to 18
// digits exactly, longer ones and floats with strtoull/strtoll/strtod as it
// does). For anything else, and for malformed JSON, parse() returns false,
// and the file is read again with nlohmann's parser, whose results and
// messages are the reference. The objects of the top-level lists take a
// shortcut like CBOR's (decoded straight into the RawObject); an object it
// does not take is read again through the events.
class JsonReader {
public:
    JsonReader(std::span<const uint8_t> bytes, Sax& sax)
        : p_(reinterpret_cast<const char*>(bytes.data())), end_(p_ + bytes.size()), sax_(sax) {}

    bool parse() {
        std::vector<char> open;  // '{' or '[' for each container being read
        skip_ws();
        while (true) {
            // A value.
            if (p_ == end_) return false;
            if (*p_ == '{') {
                const char* start = p_;
                if (RawObject* obj = sax_.list_object()) {
                    if (fast_object(*obj)) {
                        if (!sax_.list_object_done()) return false;
                        if (!after_value(open)) return false;
                        if (open.empty()) return at_end();
                        continue;
                    }
                    p_ = start;
                }
                ++p_;
                if (!sax_.start_object(std::size_t(-1))) return false;
                skip_ws();
                if (peek() == '}') {
                    ++p_;
                    if (!sax_.end_object()) return false;
                } else {
                    open.push_back('{');
                    if (!key()) return false;
                    continue;
                }
            } else if (*p_ == '[') {
                ++p_;
                if (!sax_.start_array(std::size_t(-1))) return false;
                skip_ws();
                if (peek() == ']') {
                    ++p_;
                    if (!sax_.end_array()) return false;
                } else {
                    open.push_back('[');
                    continue;
                }
            } else if (!scalar()) {
                return false;
            }
            if (!after_value(open)) return false;
            if (open.empty()) return at_end();
        }
    }

private:
    int peek() const { return p_ < end_ ? static_cast<unsigned char>(*p_) : -1; }
    static bool digit(int c) { return c >= '0' && c <= '9'; }
    void skip_ws() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }
    bool at_end() {
        skip_ws();
        return p_ == end_;
    }

    // After a value: closes the containers that end here; leaves p_ at the
    // next value (after a comma, and after the key in an object), or false.
    bool after_value(std::vector<char>& open) {
        while (!open.empty()) {
            skip_ws();
            const int c = peek();
            if (c == ',') {
                ++p_;
                skip_ws();
                return open.back() == '[' || key();
            }
            if (c != (open.back() == '{' ? '}' : ']')) return false;
            ++p_;
            const bool ok = open.back() == '{' ? sax_.end_object() : sax_.end_array();
            open.pop_back();
            if (!ok) return false;
        }
        return true;
    }

    // A string of printable ASCII without escapes, as a view (p_ at its quote).
    bool text(std::string_view& out) {
        if (peek() != '"') return false;
        const char* start = ++p_;
        while (p_ < end_) {
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                out = {start, static_cast<size_t>(p_ - start)};
                ++p_;
                return true;
            }
            if (c < 0x20 || c >= 0x80 || c == '\\') return false;
            ++p_;
        }
        return false;
    }

    // "key" : (then the value follows)
    bool key() {
        std::string_view k;
        if (!text(k)) return false;
        skip_ws();
        if (peek() != ':') return false;
        ++p_;
        skip_ws();
        buf_.assign(k);
        return sax_.key(buf_);
    }

    // A number as nlohmann reads it: its kind and value.
    bool number(RawValue& v) {
        const char* start = p_;
        const bool negative = peek() == '-';
        if (negative) ++p_;
        if (peek() == '0') {
            ++p_;
        } else if (digit(peek()) ) {
            while (digit(peek())) ++p_;
        } else {
            return false;
        }
        const size_t digits = static_cast<size_t>(p_ - start) - negative;
        bool is_float = false;
        if (peek() == '.') {
            ++p_;
            if (!digit(peek())) return false;
            while (digit(peek())) ++p_;
            is_float = true;
        }
        if (peek() == 'e' || peek() == 'E') {
            ++p_;
            if (peek() == '+' || peek() == '-') ++p_;
            if (!digit(peek())) return false;
            while (digit(peek())) ++p_;
            is_float = true;
        }
        if (!is_float && digits <= 18) {  // exact in 64 bits
            uint64_t x = 0;
            for (const char* q = start + negative; q < p_; ++q) x = x * 10 + static_cast<uint64_t>(*q - '0');
            if (negative) {
                v.kind = RawValue::Int;
                v.i = -static_cast<int64_t>(x);
            } else {
                v.kind = RawValue::Uint;
                v.u = x;
            }
            return true;
        }
        token_.assign(start, p_);
        char* stop = nullptr;
        if (!is_float) {
            errno = 0;
            if (negative) {
                const long long x = std::strtoll(token_.c_str(), &stop, 10);
                if (errno == 0) {
                    v.kind = RawValue::Int;
                    v.i = x;
                    return true;
                }
            } else {
                const unsigned long long x = std::strtoull(token_.c_str(), &stop, 10);
                if (errno == 0) {
                    v.kind = RawValue::Uint;
                    v.u = x;
                    return true;
                }
            }
        }
        v.kind = RawValue::Float;
        v.f = std::strtod(token_.c_str(), &stop);
        return std::isfinite(v.f);  // nlohmann reports "number overflow"
    }

    // A string, number or literal: one event.
    bool scalar() {
        const int c = peek();
        if (c == '"') {
            std::string_view t;
            if (!text(t)) return false;
            buf_.assign(t);
            return sax_.string(buf_);
        }
        if (c == '-' || digit(c)) {
            RawValue v;
            if (!number(v)) return false;
            switch (v.kind) {
                case RawValue::Int: return sax_.number_integer(v.i);
                case RawValue::Uint: return sax_.number_unsigned(v.u);
                default: return sax_.number_float(v.f, token_);
            }
        }
        if (literal("true")) return sax_.boolean(true);
        if (literal("false")) return sax_.boolean(false);
        if (literal("null")) return sax_.null();
        return false;
    }

    template <size_t N>
    bool literal(const char (&word)[N]) {
        if (static_cast<size_t>(end_ - p_) < N - 1 || std::memcmp(p_, word, N - 1) != 0) return false;
        p_ += N - 1;
        return true;
    }

    // The shortcut (see the class comment): known keys, each once, with
    // text, numbers, booleans or null, and "args" an array of unsigned
    // integers of up to 18 digits. False: nothing is decided, p_ is anywhere.
    bool fast_object(RawObject& obj) {
        ++p_;  // {
        skip_ws();
        if (peek() == '}') {
            ++p_;
            return true;
        }
        while (true) {
            std::string_view k;
            if (!text(k)) return false;
            skip_ws();
            if (peek() != ':') return false;
            ++p_;
            skip_ws();
            if (UintList* list = uint_list(obj, k)) {
                if (list->state != ListState::Absent || !fast_ids(*list)) return false;
            } else {
                const int f = field_of(k);
                if (f < 0 || (obj.present & (1u << f))) return false;
                RawValue& v = obj.fresh_slot(static_cast<Field>(f));
                const int c = peek();
                if (c == '"') {
                    std::string_view t;
                    if (!text(t)) return false;
                    v.kind = RawValue::Str;
                    v.view = t;  // the file outlives the read
                } else if (c == '-' || digit(c)) {
                    if (!number(v)) return false;
                } else if (literal("true")) {
                    v.kind = RawValue::Bool;
                    v.b = true;
                } else if (literal("false")) {
                    v.kind = RawValue::Bool;
                    v.b = false;
                } else if (literal("null")) {
                    v.kind = RawValue::Other;
                    v.other = "null";
                } else {
                    return false;
                }
            }
            skip_ws();
            if (peek() == '}') {
                ++p_;
                return true;
            }
            if (peek() != ',') return false;
            ++p_;
            skip_ws();
        }
    }

    bool fast_ids(UintList& list) {
        if (peek() != '[') return false;
        ++p_;
        list.state = ListState::Array;
        skip_ws();
        if (peek() == ']') {
            ++p_;
            return true;
        }
        while (true) {
            const char* start = p_;
            if (!digit(peek())) return false;
            uint64_t x = 0;
            while (digit(peek())) x = x * 10 + static_cast<uint64_t>(*p_++ - '0');
            const size_t digits = static_cast<size_t>(p_ - start);
            if (digits > 18 || (digits > 1 && *start == '0') || peek() == '.' || peek() == 'e' || peek() == 'E')
                return false;
            list.add_uint(x);
            skip_ws();
            if (peek() == ']') {
                ++p_;
                return true;
            }
            if (peek() != ',') return false;
            ++p_;
            skip_ws();
        }
    }

    const char* p_;
    const char* end_;
    Sax& sax_;
    std::string buf_, token_;
};

class Reader {
public:
    // JSON through JsonReader; nullopt where it declines (the caller then
    // reads the file with read(), nlohmann's parser, in a new Reader).
    std::optional<Dag> read_json_fast(std::span<const uint8_t> bytes) {
        reserve(bytes, false);
        Sax sax(*this);
        if (!JsonReader(bytes, sax).parse() || !sax.error().empty()) return std::nullopt;
        return finish();
    }

    Dag read(std::span<const uint8_t> bytes, bool cbor) {
        reserve(bytes, cbor);
        Sax sax(*this);
        if (cbor) {
            if (std::string e = CborReader(bytes, sax).parse(); !e.empty()) fail(ErrorKind::Input, "malformed CBOR: {}", e);
        } else if (!json::sax_parse(bytes.begin(), bytes.end(), &sax) || !sax.error().empty()) {
            std::string what = sax.error();
            // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
            if (auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos)
                what = what.substr(p + 2);
            // nlohmann quotes the token it stopped at ("last read: '...'"), which is the user's text.
            if (auto p = what.find("last read: '"); p != std::string::npos) {
                const size_t from = p + 12, to = what.rfind('\'');
                if (to != std::string::npos && to >= from)
                    what = what.substr(0, p + 11) + quote(std::string_view(what).substr(from, to - from)) + what.substr(to + 1);
            }
            what = shorten(what, 4 * kQuoteLimit);
            fail(ErrorKind::Input, "malformed JSON: {}", what);
        }
        return finish();
    }

    // Room for as many nodes as the file can hold (a node takes at least
    // ~25 bytes of CBOR, ~40 of JSON): address space only, as untouched
    // capacity costs no memory, and the nodes are never copied to grow.
    void reserve(std::span<const uint8_t> bytes, bool cbor) {
        const size_t most = bytes.size() / (cbor ? 24 : 40) + 16;
        dag_.nodes.reserve(most);
        ids_.reserve(most);  // ids are usually 0 .. n-1
    }

    // The checks after parsing.
    Dag finish() {
        if (!top_object_) fail(ErrorKind::Input, "top level must be an object");
        check_header();
        check_locations();
        diag_.check();
        resolve_args();
        diag_.check();
        sort_and_find_cycles();
        diag_.check();
        check_types();
        resolve_outputs();
        resolve_updates();
        diag_.check();
        dag_.version = static_cast<int>(version_);
        return std::move(dag_);
    }

    // Called by Sax.
    void top_level_object() { top_object_ = true; }
    void top_field(const std::string& key, const RawValue* v, bool is_list) {
        if (key == "format") {
            seen_format_ = true;
            format_ok_ = v && v->kind == RawValue::Str && v->str() == "copapy-dag";
        } else if (key == "version") {
            seen_version_ = v && (v->kind == RawValue::Int || v->kind == RawValue::Uint);
            if (seen_version_) version_ = v->as_int();
        } else if (key == "nodes" || key == "outputs" || key == "updates") {
            if (!is_list) diag_.add("field {} must be an array", quote(key));
            (key == "nodes" ? seen_nodes_ : key == "outputs" ? seen_outputs_ : seen_updates_) = is_list;
        } else if (key == "files") {
            if (!is_list) diag_.add("field 'files' must be an array of file names");
            if (!first_v3_) first_v3_ = "field 'files'";
            seen_files_ = true;
        } else if (key != "meta") {
            diag_.add("unknown top-level field {}", quote(key));
        }
    }
    // An element of `files` (nullptr: an array or object).
    void file_entry(const RawValue* v) {
        const size_t i = dag_.files.size();
        if (!v || v->kind != RawValue::Str || v->str().empty() || v->str().size() > 4096) {
            diag_.add("files[{}]: must be a file name (a non-empty string of at most 4096 bytes)", i);
            dag_.files.emplace_back();
            return;
        }
        auto [it, fresh] = file_index_.emplace(std::string(v->str()), i);
        if (!fresh) diag_.add("files[{}]: {} is already files[{}]", i, quote(v->str()), it->second);
        dag_.files.emplace_back(v->str());
    }
    void list_item(const std::string& list, size_t pos, RawObject* obj) {
        if (!obj) {
            diag_.add("{}[{}]: must be an object", list, pos);
            return;
        }
        if (list == "nodes") read_node(*obj, pos);
        else if (list == "outputs") raw_outputs_.push_back(RawLink::of(*obj, kName));
        else raw_updates_.push_back(RawLink::of(*obj, kState));
    }

private:
    void check_header() {
        if (!format_ok_) diag_.add("field 'format' must be \"copapy-dag\"");
        if (!seen_version_) diag_.add("field 'version' must be an integer");
        else if (version_ < 1 || version_ > 3)
            diag_.add("unsupported version {} (this compiler reads versions 1, 2 and 3)", version_);
        if (!seen_nodes_) diag_.add("field 'nodes' must be an array");
        if (!seen_outputs_) diag_.add("field 'outputs' must be an array");
        if (seen_updates_ && version_ == 1) diag_.add("field 'updates' needs version 2");
        if (first_v2_node_ && version_ == 1)
            diag_.add("{}: op '{}' needs version 2", where(*first_v2_node_), op_name(first_v2_node_->op));
        if (first_v3_ && version_ >= 1 && version_ < 3) diag_.add("{} needs version 3", first_v3_);
    }

    // Version 3: every `loc` names an entry of `files` (which may come after
    // the nodes in the file).
    void check_locations() {
        if (dag_.locs.empty()) return;
        dag_.locs.resize(dag_.nodes.size());  // nodes after the last `loc` have none
        for (uint32_t v = 0; v < dag_.locs.size(); ++v) {
            const SourceLoc& l = dag_.locs[v];
            if (l.line != 0 && l.file >= dag_.files.size())
                diag_.add("{}: field 'loc': file {} is not in 'files' ({} entr{})", where(dag_.nodes[v]), l.file,
                          dag_.files.size(), dag_.files.size() == 1 ? "y" : "ies");
        }
    }

    // "model.py:42: node 17 ('mul')": a node in a message, with where the
    // user's code made it when the file says (checked locations only).
    std::string where_at(uint32_t v) const {
        if (v < dag_.locs.size() && dag_.locs[v].line != 0 && dag_.locs[v].file < dag_.files.size())
            return fmt::format("{}:{}: {}", dag_.files[dag_.locs[v].file], dag_.locs[v].line, where(dag_.nodes[v]));
        return where(dag_.nodes[v]);
    }

    void read_node(const RawObject& j, size_t pos) {
        DagNode n;
        const RawValue* id = j.get(kId);
        if (!id || !id->is_nonneg_int()) {
            diag_.add("nodes[{}]: field 'id' must be a non-negative integer", pos);
            return;
        }
        n.id = id->as_int();
        const RawValue* op = j.get(kOp);
        if (!op || op->kind != RawValue::Str) {
            diag_.add("node {}: field 'op' must be a string", n.id);
            return;
        }
        auto parsed_op = op_from_name(op->str());
        if (!parsed_op) {
            diag_.add("node {}: unknown op {}{}", n.id, quote(op->str()), did_you_mean(op->str(), dag_op_names()));
            return;
        }
        n.op = *parsed_op;
        auto w = [&n] { return where(n); };  // only formatted for an error
        if ((n.op == Op::State || n.op == Op::Grad) && !first_v2_node_) first_v2_node_ = n;  // checked with the header
        const bool leaf = is_leaf(n.op);
        const bool named = n.op == Op::Input || n.op == Op::State;
        j.check_fields(bit(kId) | bit(kOp) | bit(kDtype) | (leaf ? bit(kValue) : 0) | (named ? bit(kName) : 0),
                       [&](std::string_view key) { diag_.add("{}: unknown field {}", w(), quote(key)); });
        if (j.range.state != ListState::Absent && !named) {
            diag_.add("{}: field 'range' is only allowed on 'input' and 'state' nodes", w());
            return;
        }
        SourceLoc loc;
        if (j.loc.state != ListState::Absent) {
            if (!first_v3_) first_v3_ = "field 'loc'";
            if (j.loc.state != ListState::Array || j.loc.count != 2 || j.loc.bad >= 0 || j.loc.items[0] > UINT32_MAX ||
                j.loc.items[1] > UINT32_MAX || j.loc.items[1] < 1) {
                diag_.add("{}: field 'loc' must be [file, line]: a file index and a line number >= 1", w());
                return;
            }
            loc = {static_cast<uint32_t>(j.loc.items[0]), static_cast<uint32_t>(j.loc.items[1])};
        }
        const RawValue* dt = j.get(kDtype);
        std::optional<DType> dtype;
        if (!dt || dt->kind != RawValue::Str || !(dtype = dtype_from_name(dt->str()))) {
            const std::string got = !dt                          ? std::string("it is missing")
                                    : dt->kind == RawValue::Str ? "not " + quote(dt->str())
                                                                : fmt::format("not a {}", dt->type_name());
            diag_.add("{}: field 'dtype' must be \"int\", \"float\" or \"bool\", {}{}", w(), got,
                      dt && dt->kind == RawValue::Str ? did_you_mean(dt->str(), kDtypeNames) : "");
            return;
        }
        n.dtype = *dtype;

        const unsigned arity = leaf ? 0 : op_info(n.op).arity;
        if (j.args.state == ListState::NotArray) {
            diag_.add("{}: field 'args' must be an array of node ids", w());
            return;
        }
        if (j.args.count != arity) {
            diag_.add("{}: expects {} operand{}, got {}", w(), arity, arity == 1 ? "" : "s", j.args.count);
            return;
        }
        if (j.args.bad >= 0) {
            diag_.add("{}: args[{}] must be a node id (non-negative integer)", w(), j.args.bad);
            return;
        }
        n.nargs = static_cast<uint8_t>(arity);

        if (leaf) {
            const RawValue* v = j.get(kValue);
            if (!v) {
                diag_.add("{}: missing field 'value'", w());
                return;
            }
            if (auto e = parse_value(*v, n.dtype, n.bits); !e.empty()) {
                diag_.add("{}: field 'value': {}", w(), e);
                return;
            }
        }
        std::optional<DagRange> range;
        if (j.range.state != ListState::Absent) {
            if (!first_v3_) first_v3_ = "field 'range'";
            std::string e = parse_range(j.range, n, range.emplace());
            if (!e.empty()) {
                diag_.add("{}: field 'range': {}", w(), e);
                return;
            }
        }
        if (const uint32_t first = ids_.find(n.id); first != kNoNode) {
            diag_.add("{}: duplicate id (also nodes[{}])", w(), first);
            return;
        }
        if (named) {
            const RawValue* name = j.get(kName);
            if (!name || name->kind != RawValue::Str || !valid_name(name->str())) {
                diag_.add("{}: field 'name' must be a name matching [A-Za-z_][A-Za-z0-9_.[\\]]* (at most 255 bytes)",
                          w());
                return;
            }
            auto [it, fresh] = input_names_.emplace(name->str(), static_cast<uint32_t>(dag_.nodes.size()));
            if (!fresh) {
                diag_.add("{}: input name {} is already used by node {}", w(), quote(name->str()), dag_.nodes[it->second].id);
                return;
            }
            n.name = static_cast<uint32_t>(dag_.names.size());
            dag_.names.emplace_back(name->str());
            dag_.inputs.push_back(static_cast<uint32_t>(dag_.nodes.size()));
        }
        // Operands that are already known (in a file written in order, all
        // of them) are resolved now; the others once every node is read.
        const uint32_t index = static_cast<uint32_t>(dag_.nodes.size());
        for (unsigned k = 0; k < arity; ++k) {
            n.args[k] = ids_.find(j.args.items[k]);
            if (n.args[k] == kNoNode) {
                n.args[k] = 0;
                later_args_.push_back({index, k, j.args.items[k]});
            }
        }
        ids_.insert(n.id, index);  // not yet present: checked above
        dag_.nodes.push_back(n);
        if (loc.line != 0) {
            dag_.locs.resize(index);  // nodes before the first `loc` have none
            dag_.locs.push_back(loc);
        }
        if (range) {
            range->node = index;
            dag_.ranges.push_back(*range);
        }
    }

    // `range` of leaf n (its value already parsed into n.bits): [lo, hi] of
    // the node's dtype, lo <= hi, no NaN, holding the value. "" or the problem.
    static std::string parse_range(const ValueList& list, const DagNode& n, DagRange& out) {
        if (list.state != ListState::Array || list.nested || list.items.size() != 2)
            return fmt::format("must be [lo, hi], two {} values", dtype_name(n.dtype));
        std::array<uint32_t, 2> bits{};
        for (size_t k = 0; k < 2; ++k)
            if (std::string e = parse_value(list.items[k], n.dtype, bits[k]); !e.empty())
                return fmt::format("{}: {}", k == 0 ? "lo" : "hi", e);
        out.lo = bits[0];
        out.hi = bits[1];
        auto text = [&](uint32_t b) {
            return n.dtype == DType::Float ? fmt::format("{}", std::bit_cast<float>(b))
                                           : fmt::format("{}", static_cast<int32_t>(b));
        };
        if (n.dtype == DType::Float) {
            const float lo = std::bit_cast<float>(bits[0]), hi = std::bit_cast<float>(bits[1]);
            const float value = std::bit_cast<float>(n.bits);
            if (std::isnan(lo) || std::isnan(hi)) return "a range cannot include NaN";
            if (lo > hi) return fmt::format("lo {} is above hi {}", text(bits[0]), text(bits[1]));
            if (!(value >= lo && value <= hi))
                return fmt::format("the value {} lies outside [{}, {}]", text(n.bits), text(bits[0]), text(bits[1]));
        } else {
            const auto lo = static_cast<int32_t>(bits[0]), hi = static_cast<int32_t>(bits[1]);
            const auto value = static_cast<int32_t>(n.bits);
            if (lo > hi) return fmt::format("lo {} is above hi {}", lo, hi);
            if (value < lo || value > hi) return fmt::format("the value {} lies outside [{}, {}]", value, lo, hi);
        }
        return "";
    }

    void resolve_args() {
        for (const LaterArg& a : later_args_) {
            DagNode& n = dag_.nodes[a.node];
            const uint32_t it = ids_.find(a.id);
            if (it == kNoNode) {
                diag_.add("{}: args[{}]: no node with id {}", where_at(a.node), a.k, a.id);
                continue;
            }
            n.args[a.k] = it;
        }
    }

    // Iterative depth-first search (a deep chain must not overflow the stack):
    // yields a topological order and reports a cycle if one exists.
    void sort_and_find_cycles() {
        enum : uint8_t { White, Grey, Black };
        const size_t n = dag_.nodes.size();
        // Usual case: every operand comes before its user in the file. The
        // search below then yields the file order, found in one pass.
        bool in_order = true;
        for (uint32_t v = 0; v < n && in_order; ++v)
            for (unsigned k = 0; k < dag_.nodes[v].nargs; ++k) in_order = in_order && dag_.nodes[v].args[k] < v;
        if (in_order) {
            dag_.order.resize(n);
            for (uint32_t v = 0; v < n; ++v) dag_.order[v] = v;
            return;
        }
        std::vector<uint8_t> color(n, White);
        std::vector<std::pair<uint32_t, uint8_t>> stack;  // node, next operand to visit
        dag_.order.reserve(n);
        for (uint32_t root = 0; root < n; ++root) {
            if (color[root] != White) continue;
            stack.push_back({root, 0});
            color[root] = Grey;
            while (!stack.empty()) {
                auto& [v, k] = stack.back();
                const DagNode& node = dag_.nodes[v];
                if (k < node.nargs) {
                    const uint32_t w = node.args[k++];
                    if (color[w] == White) {
                        color[w] = Grey;
                        stack.push_back({w, 0});
                    } else if (color[w] == Grey) {
                        report_cycle(stack, w);
                        return;
                    }
                } else {
                    color[v] = Black;
                    dag_.order.push_back(v);
                    stack.pop_back();
                }
            }
        }
    }

    void report_cycle(const std::vector<std::pair<uint32_t, uint8_t>>& stack, uint32_t w) {
        std::string path;
        size_t start = stack.size();
        while (start > 0 && stack[start - 1].first != w) --start;
        if (start > 0) --start;
        size_t shown = 0;
        for (size_t i = start; i < stack.size() && shown < 8; ++i, ++shown)
            path += fmt::format("{} -> ", dag_.nodes[stack[i].first].id);
        if (stack.size() - start > 8) path += "... -> ";
        path += fmt::format("{}", dag_.nodes[w].id);
        diag_.add("{}: is part of a cycle: {}", where_at(w), path);
    }

    void check_types() {
        for (uint32_t v : dag_.order) {
            const DagNode& n = dag_.nodes[v];
            if (is_leaf(n.op)) continue;
            std::array<DType, 3> types{};
            for (unsigned k = 0; k < n.nargs; ++k) types[k] = dag_.nodes[n.args[k]].dtype;
            bool nonneg_const = false;
            if (n.op == Op::Pow) {
                const DagNode& e = dag_.nodes[n.args[1]];
                nonneg_const = e.op == Op::Const && e.dtype != DType::Float && static_cast<int32_t>(e.bits) >= 0;
            }
            TypeResult r = infer_type(n.op, std::span(types.data(), n.nargs), n.dtype, nonneg_const);
            if (!r.ok) {
                diag_.add("{}: {}", where_at(v), r.error);
            } else if (r.type != n.dtype) {
                std::string ops;
                for (unsigned k = 0; k < n.nargs; ++k) ops += (k ? ", " : "") + std::string(dtype_name(types[k]));
                diag_.add("{}: dtype is '{}' but operands ({}) give '{}'", where_at(v), dtype_name(n.dtype), ops,
                          dtype_name(r.type));
            }
        }
    }

    void resolve_outputs() {
        std::unordered_map<std::string, size_t> seen;
        for (size_t i = 0; i < raw_outputs_.size(); ++i) {
            const RawLink& o = raw_outputs_[i];
            for (const std::string& key : o.reported) diag_.add("outputs[{}]: unknown field {}", i, quote(key));
            const RawValue* name = o.get(kName);
            const RawValue* node = o.get(kNode);
            if (!name || name->kind != RawValue::Str || !valid_name(name->str())) {
                diag_.add("outputs[{}]: field 'name' must be a valid name", i);
                continue;
            }
            const std::string s(name->str());
            if (!node || !(node->kind == RawValue::Int || node->kind == RawValue::Uint)) {
                diag_.add("outputs[{}] ({}): field 'node' must be a node id", i, quote(s));
                continue;
            }
            const uint32_t it = ids_.find(node->as_int());
            if (it == kNoNode) {
                diag_.add("outputs[{}] ({}): no node with id {}", i, quote(s), node->as_int());
                continue;
            }
            if (!seen.emplace(s, i).second) {
                diag_.add("outputs[{}]: output name {} is already used by outputs[{}]", i, quote(s), seen[s]);
                continue;
            }
            if (auto in = input_names_.find(s); in != input_names_.end() && in->second != it) {
                diag_.add("outputs[{}]: output name {} is the name of input node {}, but refers to node {}", i, quote(s),
                          dag_.nodes[in->second].id, node->as_int());
                continue;
            }
            dag_.outputs.push_back({static_cast<uint32_t>(dag_.names.size()), it});
            dag_.names.push_back(s);
        }
    }

    void resolve_updates() {
        std::unordered_map<uint32_t, size_t> seen;
        for (size_t i = 0; i < raw_updates_.size(); ++i) {
            const RawLink& o = raw_updates_[i];
            for (const std::string& key : o.reported) diag_.add("updates[{}]: unknown field {}", i, quote(key));
            const RawValue* st = o.get(kState);
            const RawValue* node = o.get(kNode);
            if (!st || !node || !(st->kind == RawValue::Int || st->kind == RawValue::Uint) ||
                !(node->kind == RawValue::Int || node->kind == RawValue::Uint)) {
                diag_.add("updates[{}]: fields 'state' and 'node' must be node ids", i);
                continue;
            }
            const uint32_t s = ids_.find(st->as_int());
            const uint32_t v = ids_.find(node->as_int());
            if (s == kNoNode || v == kNoNode) {
                diag_.add("updates[{}]: no node with id {}", i, s == kNoNode ? st->as_int() : node->as_int());
                continue;
            }
            const DagNode& sn = dag_.nodes[s];
            if (sn.op != Op::State) {
                diag_.add("updates[{}]: node {} is not a state", i, sn.id);
                continue;
            }
            if (!seen.emplace(s, i).second) {
                diag_.add("updates[{}]: state node {} is already updated by updates[{}]", i, sn.id, seen[s]);
                continue;
            }
            const DagNode& vn = dag_.nodes[v];
            if (vn.dtype != sn.dtype) {
                diag_.add("updates[{}]: state node {} is '{}' but node {} is '{}'", i, sn.id, dtype_name(sn.dtype), vn.id,
                          dtype_name(vn.dtype));
                continue;
            }
            dag_.updates.push_back({s, v});
        }
    }

    Dag dag_;
    Diagnostics diag_;
    IdIndex ids_;
    std::unordered_map<std::string, uint32_t> input_names_;
    struct LaterArg {
        uint32_t node;
        unsigned k;
        int64_t id;
    };
    std::vector<LaterArg> later_args_;  // operands that referred to nodes not read yet, in file order
    std::vector<RawLink> raw_outputs_, raw_updates_;
    bool top_object_ = false, format_ok_ = false, seen_format_ = false, seen_version_ = false;
    bool seen_nodes_ = false, seen_outputs_ = false, seen_updates_ = false;
    int64_t version_ = 0;
    std::optional<DagNode> first_v2_node_;  // a state or grad node (the header may come after the nodes)
    const char* first_v3_ = nullptr;        // the first version 3 field seen ("field 'loc'"), for the header check
    bool seen_files_ = false;
    std::unordered_map<std::string, size_t> file_index_;  // files[] entries, for duplicates
};

bool Sax::scalar(RawValue v) {
    switch (at_) {
        case At::Start: return false;  // not an object: reported by the caller
        case At::Top: r_.top_field(key_, &v, false); return true;
        case At::List: r_.list_item(list_, index_++, nullptr); return true;
        case At::Item:
            if (!not_array(key_)) obj_.set(key_, std::move(v));
            return true;
        case At::Ids: ids_->add(&v); return true;
        case At::Values: obj_.range.items.push_back(std::move(v)); return true;
        case At::Files: r_.file_entry(&v); return true;
        case At::Skip: return true;
    }
    return true;
}

// A scalar or object where an item's array-valued field belongs: records
// that the field is not an array (true), or false for any other key.
bool Sax::not_array(const std::string& key) {
    if (UintList* list = uint_list(obj_, key)) {
        list->state = ListState::NotArray;
        return true;
    }
    if (key == "range") {
        obj_.range.state = ListState::NotArray;
        return true;
    }
    return false;
}

bool Sax::list_object_done() {
    r_.list_item(list_, index_++, &obj_);
    return true;
}

bool Sax::start_object(size_t) {
    switch (at_) {
        case At::Start:
            r_.top_level_object();
            at_ = At::Top;
            return true;
        case At::List:
            obj_.clear();
            at_ = At::Item;
            return true;
        case At::Top:
            if (key_ != "meta") r_.top_field(key_, nullptr, false);
            break;
        case At::Item:
            if (!not_array(key_)) obj_.set(key_, other("object"));
            break;
        case At::Ids: ids_->add(nullptr); break;
        case At::Values: obj_.range.nested = true; break;
        case At::Files: r_.file_entry(nullptr); break;
        case At::Skip: ++skip_depth_; return true;
    }
    return begin_skip();
}

bool Sax::end_object() {
    switch (at_) {
        case At::Item:
            r_.list_item(list_, index_++, &obj_);
            at_ = At::List;
            return true;
        case At::Skip:
            if (--skip_depth_ == 0) at_ = skip_return_;
            return true;
        default: at_ = At::Start; return true;  // end of the document
    }
}

bool Sax::start_array(size_t) {
    switch (at_) {
        case At::Start: return false;
        case At::Top:
            if (key_ == "nodes" || key_ == "outputs" || key_ == "updates") {
                r_.top_field(key_, nullptr, true);
                list_ = key_;
                index_ = 0;
                at_ = At::List;
                return true;
            }
            if (key_ == "files") {
                r_.top_field(key_, nullptr, true);
                at_ = At::Files;
                return true;
            }
            if (key_ != "meta") r_.top_field(key_, nullptr, false);
            break;
        case At::List: r_.list_item(list_, index_++, nullptr); break;
        case At::Item:
            if (UintList* list = uint_list(obj_, key_); list && list->state == ListState::Absent) {
                list->state = ListState::Array;
                ids_ = list;
                at_ = At::Ids;
                return true;
            }
            if (key_ == "range" && obj_.range.state == ListState::Absent) {
                obj_.range.state = ListState::Array;
                at_ = At::Values;
                return true;
            }
            obj_.set(key_, other("array"));
            break;
        case At::Ids: ids_->add(nullptr); break;
        case At::Values: obj_.range.nested = true; break;
        case At::Files: r_.file_entry(nullptr); break;
        case At::Skip: ++skip_depth_; return true;
    }
    return begin_skip();
}

bool Sax::end_array() {
    switch (at_) {
        case At::List:
        case At::Files: at_ = At::Top; return true;
        case At::Ids:
        case At::Values: at_ = At::Item; return true;
        case At::Skip:
            if (--skip_depth_ == 0) at_ = skip_return_;
            return true;
        default: return true;
    }
}

}  // namespace

Dag read_dag(std::span<const uint8_t> bytes) {
    // A UTF-8 byte order mark, as some Windows editors write, starts a JSON
    // text (RFC 8259 lets a parser ignore it); no CBOR file starts with 0xef.
    // nlohmann's parser skips it itself (keeping its byte positions right);
    // JsonReader is given the text after it.
    const bool bom = bytes.size() >= 3 && bytes[0] == 0xef && bytes[1] == 0xbb && bytes[2] == 0xbf;
    size_t i = bom ? 3 : 0;
    while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\n' || bytes[i] == '\r')) ++i;
    if (i == bytes.size()) fail(ErrorKind::Input, "empty file");
    if (bytes[i] == '{') {
        if (std::optional<Dag> dag = Reader().read_json_fast(bytes.subspan(bom ? 3 : 0))) return std::move(*dag);
        return Reader().read(bytes, false);
    }
    if (bom) fail(ErrorKind::Input, "not a DAG file: expected a JSON object after the UTF-8 byte order mark");
    if (bytes[i] >= 0xa0 && bytes[i] <= 0xbf) return Reader().read(bytes, true);
    fail(ErrorKind::Input, "not a DAG file: expected a JSON object or a CBOR map");
}

}  // namespace copapy
