// DAG reader: accepted files, and one rejected file per kind of error, each
// with the message a user would see.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <string>

#include "dag/dag.hpp"
#include "support/error.hpp"

using namespace copapy;

namespace {

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

Dag read(const std::string& s) { return read_dag(bytes_of(s)); }

std::string error_of(const std::string& s) {
    try {
        read(s);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Input);
        return e.what();
    }
    FAIL("no error for: " << s);
    return "";
}

std::string doc(const std::string& nodes, const std::string& outputs = R"([{"name":"y","node":2}])") {
    return R"({"format":"copapy-dag","version":1,"nodes":[)" + nodes + R"(],"outputs":)" + outputs + "}";
}

const std::string kAB = R"({"id":0,"op":"input","dtype":"float","name":"a","value":0.25},
                           {"id":1,"op":"const","dtype":"float","value":2.0})";

}  // namespace

TEST_CASE("reader accepts a small program in any node order") {
    Dag d = read(doc(R"({"id":2,"op":"mul","dtype":"float","args":[0,1]},)" + kAB));
    REQUIRE(d.nodes.size() == 3);
    REQUIRE(d.outputs.size() == 1);
    CHECK(d.names[d.outputs[0].name] == "y");
    // Operands come before users in the topological order.
    std::vector<size_t> pos(3);
    for (size_t i = 0; i < d.order.size(); ++i) pos[d.order[i]] = i;
    const DagNode& mul = d.nodes[d.outputs[0].node];
    CHECK(pos[mul.args[0]] < pos[d.outputs[0].node]);
    CHECK(pos[mul.args[1]] < pos[d.outputs[0].node]);
    CHECK(std::bit_cast<float>(d.nodes[mul.args[1]].bits) == 2.0f);
}

TEST_CASE("reader accepts CBOR with the same schema") {
    auto j = nlohmann::json::parse(doc(kAB + R"(,{"id":2,"op":"add","dtype":"float","args":[0,1]})"));
    std::vector<uint8_t> cbor = nlohmann::json::to_cbor(j);
    Dag d = read_dag(cbor);
    CHECK(d.nodes.size() == 3);
    CHECK(d.inputs.size() == 1);
}

TEST_CASE("reader parses special float values and rounds to binary32") {
    Dag d = read(doc(R"({"id":0,"op":"const","dtype":"float","value":"nan"},
                       {"id":1,"op":"const","dtype":"float","value":"-inf"},
                       {"id":3,"op":"const","dtype":"float","value":0.1},
                       {"id":2,"op":"add","dtype":"float","args":[0,1]})"));
    CHECK(std::isnan(std::bit_cast<float>(d.nodes[0].bits)));
    CHECK(std::bit_cast<float>(d.nodes[1].bits) == -INFINITY);
    CHECK(std::bit_cast<float>(d.nodes[2].bits) == 0.1f);
}

TEST_CASE("reader reports malformed input with its position") {
    CHECK_THAT(error_of("{\"format\": }"), Catch::Contains("malformed JSON") && Catch::Contains("line 1"));
    CHECK_THAT(error_of(""), Catch::Contains("empty file"));
    CHECK_THAT(error_of("hello"), Catch::Contains("not a DAG file"));
    CHECK_THAT(error_of("[1,2]"), Catch::Contains("not a DAG file"));
}

TEST_CASE("reader checks the header") {
    CHECK_THAT(error_of(R"({"format":"other","version":1,"nodes":[],"outputs":[]})"), Catch::Contains("'format'"));
    CHECK_THAT(error_of(R"({"format":"copapy-dag","version":7,"nodes":[],"outputs":[]})"),
               Catch::Contains("unsupported version 7"));
    CHECK_THAT(error_of(R"({"format":"copapy-dag","version":1,"nodes":[],"outputs":[],"extra":1})"),
               Catch::Contains("unknown top-level field 'extra'"));
    CHECK_THAT(error_of(R"({"format":"copapy-dag","version":1,"outputs":[]})"), Catch::Contains("'nodes'"));
}

TEST_CASE("reader names the node and field of each error") {
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"frobnicate","dtype":"float","args":[0,1]})")),
               Catch::Contains("node 2: unknown op 'frobnicate'"));
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"add","dtype":"float","args":[0]})")),
               Catch::Contains("node 2 ('add'): expects 2 operands, got 1"));
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"add","dtype":"float","args":[0,9]})")),
               Catch::Contains("node 2 ('add'): args[1]: no node with id 9"));
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"add","dtype":"int","args":[0,1]})")),
               Catch::Contains("node 2 ('add'): dtype is 'int' but operands (float, float) give 'float'"));
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"and","dtype":"int","args":[0,1]})")),
               Catch::Contains("node 2 ('and'): 'and' needs int or bool operands"));
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":1,"op":"neg","dtype":"float","args":[0]})")),
               Catch::Contains("duplicate id"));
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"neg","dtype":"float","args":[0],"colour":"red"})")),
               Catch::Contains("node 2 ('neg'): unknown field 'colour'"));
    CHECK_THAT(error_of(doc(R"({"id":0,"op":"const","dtype":"int","value":4294967296},
                              {"id":2,"op":"neg","dtype":"int","args":[0]})")),
               Catch::Contains("node 0 ('const'): field 'value': value 4294967296 does not fit in int32"));
    CHECK_THAT(error_of(doc(R"({"id":0,"op":"const","dtype":"float","value":1e39},
                              {"id":2,"op":"neg","dtype":"float","args":[0]})")),
               Catch::Contains("out of binary32 range"));
    CHECK_THAT(error_of(doc(R"({"id":0,"op":"input","dtype":"float","value":1},
                              {"id":2,"op":"neg","dtype":"float","args":[0]})")),
               Catch::Contains("node 0 ('input'): field 'name'"));
    CHECK_THAT(error_of(doc(R"({"id":0,"op":"itof","dtype":"float","args":[]},
                              {"id":2,"op":"neg","dtype":"float","args":[0]})")),
               Catch::Contains("unknown op 'itof'"));
}

TEST_CASE("reader reports every error of a phase at once") {
    std::string e = error_of(doc(kAB + R"(,{"id":2,"op":"frob","dtype":"float"},{"id":3,"op":"blah","dtype":"int"})"));
    CHECK_THAT(e, Catch::Contains("unknown op 'frob'") && Catch::Contains("unknown op 'blah'"));
}

TEST_CASE("reader detects cycles and names the nodes on them") {
    std::string e = error_of(doc(R"({"id":5,"op":"neg","dtype":"float","args":[7]},
                                   {"id":7,"op":"neg","dtype":"float","args":[9]},
                                   {"id":9,"op":"neg","dtype":"float","args":[5]},
                                   {"id":2,"op":"neg","dtype":"float","args":[5]})"));
    CHECK_THAT(e, Catch::Contains("part of a cycle") && Catch::Contains("5 -> 7 -> 9 -> 5"));
    CHECK_THAT(error_of(doc(R"({"id":2,"op":"neg","dtype":"float","args":[2]})")),
               Catch::Contains("node 2 ('neg'): is part of a cycle"));
}

TEST_CASE("reader handles a deep chain without recursion") {
    std::string nodes = R"({"id":0,"op":"input","dtype":"int","name":"x","value":1})";
    const int n = 200000;
    for (int i = 1; i <= n; ++i) nodes += R"(,{"id":)" + std::to_string(i) + R"(,"op":"neg","dtype":"int","args":[)" + std::to_string(i - 1) + "]}";
    Dag d = read(doc(nodes, R"([{"name":"y","node":)" + std::to_string(n) + "}]"));
    CHECK(d.order.size() == n + 1);
    CHECK(d.order.front() == 0);
}

TEST_CASE("reader checks outputs") {
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"neg","dtype":"float","args":[0]})", R"([{"name":"y","node":8}])")),
               Catch::Contains("outputs[0] ('y'): no node with id 8"));
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"neg","dtype":"float","args":[0]})",
                            R"([{"name":"y","node":2},{"name":"y","node":0}])")),
               Catch::Contains("output name 'y' is already used"));
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"neg","dtype":"float","args":[0]})", R"([{"name":"a","node":2}])")),
               Catch::Contains("is the name of input node 0"));
    CHECK_THAT(error_of(doc(kAB + R"(,{"id":2,"op":"neg","dtype":"float","args":[0]})", R"([{"name":"9x","node":2}])")),
               Catch::Contains("valid name"));
}

TEST_CASE("type rules follow the DAG format") {
    using D = DType;
    auto t = [](Op op, std::vector<D> a, bool nonneg = false) {
        TypeResult r = infer_type(op, a, D::Int, nonneg);
        REQUIRE(r.ok);
        return r.type;
    };
    CHECK(t(Op::Add, {D::Int, D::Int}) == D::Int);
    CHECK(t(Op::Add, {D::Int, D::Float}) == D::Float);
    CHECK(t(Op::Add, {D::Bool, D::Bool}) == D::Int);
    CHECK(t(Op::Div, {D::Int, D::Int}) == D::Float);
    CHECK(t(Op::Pow, {D::Int, D::Int}, true) == D::Int);
    CHECK(t(Op::Pow, {D::Int, D::Int}, false) == D::Float);
    CHECK(t(Op::Min, {D::Bool, D::Bool}) == D::Bool);
    CHECK(t(Op::Lt, {D::Float, D::Int}) == D::Bool);
    CHECK(t(Op::Xor, {D::Bool, D::Bool}) == D::Bool);
    CHECK(t(Op::Xor, {D::Bool, D::Int}) == D::Int);
    CHECK(t(Op::Neg, {D::Bool}) == D::Int);
    CHECK(t(Op::Sin, {D::Int}) == D::Float);
    // The roundings yield float even for int operands (they promote, like every math op).
    for (Op op : {Op::Tanh, Op::Floor, Op::Ceil, Op::Trunc, Op::Round}) {
        CHECK(t(op, {D::Int}) == D::Float);
        CHECK(t(op, {D::Bool}) == D::Float);
        CHECK(t(op, {D::Float}) == D::Float);
    }
    CHECK(t(Op::Hypot, {D::Int, D::Int}) == D::Float);
    CHECK(t(Op::Hypot, {D::Float, D::Bool}) == D::Float);
    CHECK(op_from_name("round") == Op::Round);
    CHECK(op_from_name("hypot") == Op::Hypot);
    CHECK(t(Op::Select, {D::Bool, D::Int, D::Float}) == D::Float);
    CHECK_FALSE(infer_type(Op::Lshift, std::vector<D>{D::Float, D::Int}, D::Int, false).ok);
}

namespace {
// A CBOR text string.
std::vector<uint8_t> ctext(const std::string& s) {
    // Sized once and filled: inserting after a one-element vector makes GCC 12
    // warn about a memcpy out of bounds that cannot happen (-Warray-bounds).
    std::vector<uint8_t> v(1 + s.size());
    v[0] = static_cast<uint8_t>(0x60 + s.size());
    std::copy(s.begin(), s.end(), v.begin() + 1);
    return v;
}
void append(std::vector<uint8_t>& out, std::initializer_list<std::vector<uint8_t>> parts) {
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
}
// {"format":"copapy-dag","version":1,"nodes":[<nodes>],"outputs":[{"name":"y","node":<out>}]}
// with the nodes array written as given (definite or indefinite).
std::vector<uint8_t> cbor_doc(const std::vector<uint8_t>& nodes_array, uint8_t out_id) {
    std::vector<uint8_t> d{0xa4};
    append(d, {ctext("format"), ctext("copapy-dag"), ctext("version"), {0x01}, ctext("nodes"), nodes_array,
               ctext("outputs"), {0x81, 0xa2}, ctext("name"), ctext("y"), ctext("node"), {out_id}});
    return d;
}
std::string cbor_error(const std::vector<uint8_t>& bytes) {
    try {
        read_dag(bytes);
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}
}  // namespace

TEST_CASE("the CBOR reader handles indefinite lengths, tags and every float width") {
    // Node 0: input float "a" = half-float 1.5; node 1: const float = single 0.25 (tagged);
    // node 2: add; the nodes array and node 2's map are indefinite-length.
    std::vector<uint8_t> nodes{0x9f};
    append(nodes, {{0xa5}, ctext("id"), {0x00}, ctext("op"), ctext("input"), ctext("dtype"), ctext("float"),
                   ctext("name"), ctext("a"), ctext("value"), {0xf9, 0x3e, 0x00}});
    append(nodes, {{0xa4}, ctext("id"), {0x01}, ctext("op"), ctext("const"), ctext("dtype"), ctext("float"),
                   ctext("value"), {0xd8, 0x64, 0xfa, 0x3e, 0x80, 0x00, 0x00}});  // tag 100, then 0.25f
    append(nodes, {{0xbf}, ctext("id"), {0x02}, ctext("op"), {0x7f, 0x62, 'a', 'd', 0x61, 'd', 0xff},  // "add" in chunks
                   ctext("dtype"), ctext("float"), ctext("args"), {0x82, 0x00, 0x01}, {0xff}});
    nodes.push_back(0xff);
    Dag d = read_dag(cbor_doc(nodes, 2));
    REQUIRE(d.nodes.size() == 3);
    CHECK(std::bit_cast<float>(d.nodes[0].bits) == 1.5f);
    CHECK(std::bit_cast<float>(d.nodes[1].bits) == 0.25f);
    CHECK(d.nodes[2].op == Op::Add);
}

TEST_CASE("malformed CBOR is reported with its byte offset") {
    std::vector<uint8_t> nodes{0x80};
    auto good = cbor_doc(nodes, 0);
    CHECK_THAT(cbor_error({good.begin(), good.end() - 3}), Catch::Contains("malformed CBOR: unexpected end of input"));
    auto trailing = good;
    trailing.push_back(0x00);
    CHECK_THAT(cbor_error(trailing), Catch::Contains("trailing bytes after the top-level item at byte"));
    CHECK_THAT(cbor_error({0xa1, 0x01, 0x02}), Catch::Contains("map key is not a text string at byte 1"));
    CHECK_THAT(cbor_error({0xa1, 0x61, 'x', 0xff}), Catch::Contains("unexpected break"));
    CHECK_THAT(cbor_error({0xa1, 0x61, 'x', 0x1c}), Catch::Contains("reserved additional information"));
    std::vector<uint8_t> deep{0xa1, 0x64, 'm', 'e', 't', 'a'};
    for (int i = 0; i < 100; ++i) deep.push_back(0x81);  // [[[[...
    deep.push_back(0x00);
    CHECK_THAT(cbor_error(deep), Catch::Contains("nesting too deep"));
    // A 64-bit length larger than the file: no allocation, an error.
    CHECK_THAT(cbor_error({0xa1, 0x7b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
               Catch::Contains("unexpected end of input"));
}

TEST_CASE("review findings: ids, duplicates across the id index, key order, CBOR strictness") {
    // Ids beyond 2^53 are rejected, not wrapped into negative indices.
    CHECK_THAT(error_of(doc(R"({"id":18446744073709551615,"op":"const","dtype":"int","value":1})", "[]")),
               Catch::Contains("field 'id' must be a non-negative integer"));
    // A duplicate id is found even when the first one was stored sparsely.
    std::string nodes = R"({"id":5000,"op":"const","dtype":"int","value":1})";
    for (int i = 0; i < 300; ++i) nodes += R"(,{"id":)" + std::to_string(i) + R"(,"op":"const","dtype":"int","value":2})";
    nodes += R"(,{"id":5000,"op":"const","dtype":"int","value":3})";
    CHECK_THAT(error_of(doc(nodes, "[]")), Catch::Contains("node 5000 ('const'): duplicate id (also nodes[0])"));
    // "version" may come after "nodes" (sorted keys, deterministic CBOR).
    const std::string late = R"({"format":"copapy-dag","nodes":[{"id":0,"op":"state","dtype":"int","name":"s","value":0}],
                                 "outputs":[],"version":2})";
    CHECK(read(late).nodes.size() == 1);
    // A name is registered only for an accepted node.
    CHECK_THAT(error_of(doc(R"({"id":0,"op":"input","dtype":"int","name":"a","value":0},
                              {"id":0,"op":"input","dtype":"int","name":"b","value":0},
                              {"id":1,"op":"input","dtype":"int","name":"b","value":0})", "[]")),
               Catch::Contains("duplicate id") && !Catch::Contains("is already used"));
    // CBOR: text must be UTF-8; additional information 31 only where allowed.
    CHECK_THAT(cbor_error({0xa1, 0x62, 0xc0, 0x80, 0x00}), Catch::Contains("not UTF-8"));
    CHECK_THAT(cbor_error({0xa1, 0x61, 'x', 0x1f}), Catch::Contains("indefinite length not allowed here"));
}

namespace {
// CBOR with every map of indefinite length: the reader's general path (its
// shortcut takes definite-length maps only).
void indefinite_cbor(const nlohmann::json& j, std::vector<uint8_t>& out) {
    auto head = [&](uint8_t major, uint64_t v) {
        if (v < 24) return out.push_back(static_cast<uint8_t>(major << 5 | v));
        out.push_back(static_cast<uint8_t>(major << 5 | 27));
        for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
    };
    switch (j.type()) {
        case nlohmann::json::value_t::object:
            out.push_back(0xbf);
            for (const auto& [k, v] : j.items()) {
                head(3, k.size());
                out.insert(out.end(), k.begin(), k.end());
                indefinite_cbor(v, out);
            }
            out.push_back(0xff);
            return;
        case nlohmann::json::value_t::array:
            head(4, j.size());
            for (const auto& v : j) indefinite_cbor(v, out);
            return;
        case nlohmann::json::value_t::string: {
            const auto& s = j.get_ref<const std::string&>();
            head(3, s.size());
            out.insert(out.end(), s.begin(), s.end());
            return;
        }
        case nlohmann::json::value_t::number_unsigned: return head(0, j.get<uint64_t>());
        case nlohmann::json::value_t::number_integer: {
            const int64_t i = j.get<int64_t>();
            return i >= 0 ? head(0, static_cast<uint64_t>(i)) : head(1, static_cast<uint64_t>(-1 - i));
        }
        case nlohmann::json::value_t::number_float: {
            const uint64_t bits = std::bit_cast<uint64_t>(j.get<double>());
            out.push_back(0xfb);
            for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(bits >> s));
            return;
        }
        case nlohmann::json::value_t::boolean: return out.push_back(j.get<bool>() ? 0xf5 : 0xf4);
        default: return out.push_back(0xf6);
    }
}

// What reading gives: the error, or the nodes, names and outputs.
std::string outcome(std::span<const uint8_t> bytes) {
    try {
        const Dag d = read_dag(bytes);
        std::string s;
        for (const DagNode& n : d.nodes)
            s += fmt::format("{} {} {} {} {} {} {} {} {};", n.id, static_cast<int>(n.op), static_cast<int>(n.dtype),
                             n.nargs, n.args[0], n.args[1], n.args[2], n.bits, n.name);
        for (const std::string& name : d.names) s += name + ";";
        for (const DagOutput& o : d.outputs) s += fmt::format("{}={};", o.name, o.node);
        for (uint32_t v : d.order) s += fmt::format("{},", v);
        return s;
    } catch (const Error& e) {
        return e.what();
    }
}
}  // namespace

TEST_CASE("the readers' shortcuts read what the general paths read") {
    // CBOR: definite-length maps take the shortcut, indefinite ones do not.
    // JSON: the file's own parser (pretty-printed or not), and nlohmann's,
    // which reads a file with an escape in it (here in the ignored "meta").
    const std::string cases[] = {
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"float","args":[0,1]})"),
        doc(kAB + R"(,{"args":[1,0],"dtype":"float","op":"sub","id":2})"),                  // any key order
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"float","args":[0,9]})"),                  // no node 9
        doc(R"({"id":2,"op":"neg","dtype":"float","args":[0]},)" + kAB),                    // operand after its user
        doc(R"({"id":0,"op":"neg","dtype":"float","args":[0]})", "[]"),                     // a cycle
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"float","args":[0,-1]})"),                 // not an id
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"float","args":[0,1.0]})"),
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"float","args":[0,[1]]})"),                // nested: general path
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"float","args":0})"),
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"float","args":[0,1],"extra":null})"),     // unknown key
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"float","args":[0,1],"node":3})"),         // a field of outputs
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"float"})"),
        doc(kAB + R"(,{"id":-2,"op":"mul","dtype":"float","args":[0,1]})"),
        doc(kAB + R"(,{"id":9007199254740993,"op":"mul","dtype":"float","args":[0,1]})"),
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":"int","args":[0,1]})"),                   // wrong dtype
        doc(kAB + R"(,{"id":2,"op":"mul","dtype":5,"args":[0,1]})"),
        doc(kAB + R"(,{"id":2,"op":{"x":1},"dtype":"float","args":[0,1]})"),
        doc(kAB + R"(,{"id":2,"op":"m\u00fcl","dtype":"float","args":[0,1]})"),             // not ASCII: general path
        doc(R"({"id":0,"op":"const","dtype":"int","value":-7},{"id":1,"op":"const","dtype":"bool","value":true},
               {"id":2,"op":"const","dtype":"float","value":"-inf"},{"id":3,"op":"const","dtype":"float","value":1e300},
               {"id":4,"op":"const","dtype":"int","value":4294967296},{"id":5,"op":"const","dtype":"float","value":null})",
            "[]"),
        doc(R"({"id":0,"op":"input","dtype":"float","name":"a b","value":0})", "[]"),
        doc(kAB + R"(,{"id":2,"op":"add","dtype":"float","args":[0,1]})", R"([{"name":"y","node":2,"x":0}])"),
        doc(R"({"id":0,"op":"const","dtype":"float","value":1e38},{"id":1,"op":"const","dtype":"float","value":-0.0},
               {"id":2,"op":"const","dtype":"float","value":0.1000000000000000055511151231257827},
               {"id":3,"op":"const","dtype":"int","value":-9223372036854775808},
               {"id":4,"op":"const","dtype":"int","value":18446744073709551616},
               {"id":5,"op":"const","dtype":"float","value":2.5E-3})", "[]"),
    };
    // Malformed JSON: nlohmann's messages.
    CHECK_THAT(outcome(bytes_of(doc(R"({"id":0,"op":"const","dtype":"float","value":1e400})", "[]"))),
               Catch::Contains("malformed JSON: number overflow parsing '1e400'"));
    CHECK_THAT(outcome(bytes_of(doc(R"({"id":0,"op":"const","dtype":"float","value":1.5})", "[]") + " x")),
               Catch::Contains("malformed JSON: parse error at line 1, column 110: syntax error while parsing value"));
    for (const std::string& text : cases) {
        INFO(text);
        const nlohmann::json j = nlohmann::json::parse(text);
        const std::vector<uint8_t> definite = nlohmann::json::to_cbor(j);
        std::vector<uint8_t> indefinite;
        indefinite_cbor(j, indefinite);
        const std::string by_nlohmann = "{\"meta\":\"\\u00e9\"," + text.substr(1);
        const std::string expected = outcome(bytes_of(by_nlohmann));
        CHECK(outcome(bytes_of(text)) == expected);
        CHECK(outcome(bytes_of(j.dump(2))) == expected);
        CHECK(outcome(definite) == expected);
        CHECK(outcome(indefinite) == expected);
    }
}
