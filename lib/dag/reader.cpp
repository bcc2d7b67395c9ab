// Reading and validating a DAG file (docs/dag-format.md).
//
// Validation collects every problem of a phase (structure, then references
// and cycles, then types) before giving up, so a user fixes a file in one go.
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "dag.hpp"
#include "support/error.hpp"

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

bool valid_name(const std::string& s) {
    if (s.empty() || s.size() > 255) return false;
    auto head = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    auto tail = [&](char c) { return head(c) || (c >= '0' && c <= '9') || c == '.' || c == '[' || c == ']'; };
    if (!head(s[0])) return false;
    for (char c : s)
        if (!tail(c)) return false;
    return true;
}

const char* json_kind(const json& v) { return v.type_name(); }

// Parses a const/input value of the given type into its 32-bit pattern.
// Returns an error message, or "" on success.
std::string parse_value(const json& v, DType t, uint32_t& bits) {
    switch (t) {
        case DType::Int:
        case DType::Bool: {
            int64_t x;
            if (v.is_boolean()) {
                x = v.get<bool>() ? 1 : 0;
            } else if (v.is_number_unsigned()) {
                uint64_t u = v.get<uint64_t>();
                if (u > uint64_t(std::numeric_limits<int32_t>::max()))
                    return fmt::format("value {} does not fit in int32", u);
                x = static_cast<int64_t>(u);
            } else if (v.is_number_integer()) {
                x = v.get<int64_t>();
                if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
                    return fmt::format("value {} does not fit in int32", x);
            } else {
                return fmt::format("value must be an integer or a bool, not {}", json_kind(v));
            }
            if (t == DType::Bool && x != 0 && x != 1) return fmt::format("bool value must be 0 or 1, not {}", x);
            bits = static_cast<uint32_t>(static_cast<int32_t>(x));
            return "";
        }
        case DType::Float: {
            float f;
            if (v.is_string()) {
                const auto& s = v.get_ref<const std::string&>();
                if (s == "inf") f = std::numeric_limits<float>::infinity();
                else if (s == "-inf") f = -std::numeric_limits<float>::infinity();
                else if (s == "nan") f = std::numeric_limits<float>::quiet_NaN();
                else return fmt::format("float value must be a number, \"inf\", \"-inf\" or \"nan\", not \"{}\"", s);
            } else if (v.is_number()) {
                const double d = v.get<double>();
                f = static_cast<float>(d);
                if (std::isinf(f) && std::isfinite(d)) return fmt::format("value {} is out of binary32 range", d);
            } else {
                return fmt::format("value must be a number, not {}", json_kind(v));
            }
            bits = std::bit_cast<uint32_t>(f);
            return "";
        }
    }
    return "bad type";
}

json parse_document(std::span<const uint8_t> bytes) {
    size_t i = 0;
    while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\n' || bytes[i] == '\r')) ++i;
    if (i == bytes.size()) fail(ErrorKind::Input, "empty file");
    try {
        if (bytes[i] == '{') return json::parse(bytes.begin(), bytes.end());
        if (bytes[i] >= 0xa0 && bytes[i] <= 0xbf) return json::from_cbor(bytes.begin(), bytes.end());
    } catch (const json::exception& e) {
        // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
        std::string what = e.what();
        if (auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos)
            what = what.substr(p + 2);
        fail(ErrorKind::Input, "malformed {}: {}", bytes[i] == '{' ? "JSON" : "CBOR", what);
    }
    fail(ErrorKind::Input, "not a DAG file: expected a JSON object or a CBOR map");
}

class Reader {
public:
    Dag read(const json& doc) {
        if (!doc.is_object()) fail(ErrorKind::Input, "top level must be an object");
        for (const auto& [key, value] : doc.items()) {
            if (key != "format" && key != "version" && key != "nodes" && key != "outputs" && key != "meta")
                diag_.add("unknown top-level field '{}'", key);
        }
        auto fmt_it = doc.find("format");
        if (fmt_it == doc.end() || !fmt_it->is_string() || fmt_it->get<std::string>() != "copapy-dag")
            diag_.add("field 'format' must be \"copapy-dag\"");
        auto ver = doc.find("version");
        if (ver == doc.end() || !ver->is_number_integer())
            diag_.add("field 'version' must be an integer");
        else if (ver->get<int64_t>() != 1)
            diag_.add("unsupported version {} (this compiler reads version 1)", ver->get<int64_t>());
        auto nodes = doc.find("nodes");
        if (nodes == doc.end() || !nodes->is_array()) diag_.add("field 'nodes' must be an array");
        auto outputs = doc.find("outputs");
        if (outputs == doc.end() || !outputs->is_array()) diag_.add("field 'outputs' must be an array");
        diag_.check();

        dag_.nodes.reserve(nodes->size());
        index_.reserve(nodes->size());
        raw_args_.reserve(nodes->size());
        for (size_t i = 0; i < nodes->size(); ++i) read_node((*nodes)[i], i);
        diag_.check();
        resolve_args();
        diag_.check();
        sort_and_find_cycles();
        diag_.check();
        check_types();
        read_outputs(*outputs);
        diag_.check();
        return std::move(dag_);
    }

private:
    void read_node(const json& j, size_t pos) {
        DagNode n;
        if (!j.is_object()) {
            diag_.add("nodes[{}]: must be an object", pos);
            return;
        }
        auto id = j.find("id");
        if (id == j.end() || !(id->is_number_unsigned() || (id->is_number_integer() && id->get<int64_t>() >= 0))) {
            diag_.add("nodes[{}]: field 'id' must be a non-negative integer", pos);
            return;
        }
        n.id = id->get<int64_t>();
        auto op = j.find("op");
        if (op == j.end() || !op->is_string()) {
            diag_.add("node {}: field 'op' must be a string", n.id);
            return;
        }
        auto parsed_op = op_from_name(op->get_ref<const std::string&>());
        if (!parsed_op) {
            diag_.add("node {}: unknown op '{}'", n.id, op->get_ref<const std::string&>());
            return;
        }
        n.op = *parsed_op;
        const std::string w = where(n);
        const bool leaf = n.op == Op::Input || n.op == Op::Const;
        for (const auto& [key, value] : j.items()) {
            if (key == "id" || key == "op" || key == "dtype" || key == "args") continue;
            if (key == "value" && leaf) continue;
            if (key == "name" && n.op == Op::Input) continue;
            diag_.add("{}: unknown field '{}'", w, key);
        }
        auto dt = j.find("dtype");
        std::optional<DType> dtype;
        if (dt == j.end() || !dt->is_string() || !(dtype = dtype_from_name(dt->get_ref<const std::string&>()))) {
            diag_.add("{}: field 'dtype' must be \"int\", \"float\" or \"bool\"", w);
            return;
        }
        n.dtype = *dtype;

        std::array<int64_t, 3> raw{};
        auto args = j.find("args");
        const unsigned arity = leaf ? 0 : op_info(n.op).arity;
        if (args != j.end() && !args->is_array()) {
            diag_.add("{}: field 'args' must be an array of node ids", w);
            return;
        }
        const size_t given = args == j.end() ? 0 : args->size();
        if (given != arity) {
            diag_.add("{}: expects {} operand{}, got {}", w, arity, arity == 1 ? "" : "s", given);
            return;
        }
        for (size_t k = 0; k < given; ++k) {
            const json& a = (*args)[k];
            if (!(a.is_number_unsigned() || (a.is_number_integer() && a.get<int64_t>() >= 0))) {
                diag_.add("{}: args[{}] must be a node id (non-negative integer)", w, k);
                return;
            }
            raw[k] = a.get<int64_t>();
        }
        n.nargs = static_cast<uint8_t>(arity);

        if (leaf) {
            auto v = j.find("value");
            if (v == j.end()) {
                diag_.add("{}: missing field 'value'", w);
                return;
            }
            if (auto e = parse_value(*v, n.dtype, n.bits); !e.empty()) {
                diag_.add("{}: field 'value': {}", w, e);
                return;
            }
        }
        if (n.op == Op::Input) {
            auto name = j.find("name");
            if (name == j.end() || !name->is_string() || !valid_name(name->get<std::string>())) {
                diag_.add("{}: field 'name' must be a name matching [A-Za-z_][A-Za-z0-9_.[\\]]* (at most 255 bytes)",
                          w);
                return;
            }
            const std::string& s = name->get_ref<const std::string&>();
            auto [it, fresh] = input_names_.emplace(s, static_cast<uint32_t>(dag_.nodes.size()));
            if (!fresh) {
                diag_.add("{}: input name '{}' is already used by node {}", w, s, dag_.nodes[it->second].id);
                return;
            }
            n.name = static_cast<uint32_t>(dag_.names.size());
            dag_.names.push_back(s);
            dag_.inputs.push_back(static_cast<uint32_t>(dag_.nodes.size()));
        }
        auto [it, fresh] = index_.emplace(n.id, static_cast<uint32_t>(dag_.nodes.size()));
        if (!fresh) {
            diag_.add("{}: duplicate id (also nodes[{}])", w, it->second);
            return;
        }
        dag_.nodes.push_back(n);
        raw_args_.push_back(raw);
    }

    void resolve_args() {
        for (size_t i = 0; i < dag_.nodes.size(); ++i) {
            DagNode& n = dag_.nodes[i];
            for (unsigned k = 0; k < n.nargs; ++k) {
                auto it = index_.find(raw_args_[i][k]);
                if (it == index_.end()) {
                    diag_.add("{}: args[{}]: no node with id {}", where(n), k, raw_args_[i][k]);
                    continue;
                }
                n.args[k] = it->second;
            }
        }
    }

    // Iterative depth-first search (a deep chain must not overflow the stack):
    // yields a topological order and reports a cycle if one exists.
    void sort_and_find_cycles() {
        enum : uint8_t { White, Grey, Black };
        const size_t n = dag_.nodes.size();
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
        diag_.add("{}: is part of a cycle: {}", where(dag_.nodes[w]), path);
    }

    void check_types() {
        for (uint32_t v : dag_.order) {
            const DagNode& n = dag_.nodes[v];
            if (n.op == Op::Input || n.op == Op::Const) continue;
            std::array<DType, 3> types{};
            for (unsigned k = 0; k < n.nargs; ++k) types[k] = dag_.nodes[n.args[k]].dtype;
            bool nonneg_const = false;
            if (n.op == Op::Pow) {
                const DagNode& e = dag_.nodes[n.args[1]];
                nonneg_const = e.op == Op::Const && e.dtype != DType::Float && static_cast<int32_t>(e.bits) >= 0;
            }
            TypeResult r = infer_type(n.op, std::span(types.data(), n.nargs), n.dtype, nonneg_const);
            if (!r.ok) {
                diag_.add("{}: {}", where(n), r.error);
            } else if (r.type != n.dtype) {
                std::string ops;
                for (unsigned k = 0; k < n.nargs; ++k) ops += (k ? ", " : "") + std::string(dtype_name(types[k]));
                diag_.add("{}: dtype is '{}' but operands ({}) give '{}'", where(n), dtype_name(n.dtype), ops,
                          dtype_name(r.type));
            }
        }
    }

    void read_outputs(const json& outs) {
        std::unordered_map<std::string, size_t> seen;
        for (size_t i = 0; i < outs.size(); ++i) {
            const json& o = outs[i];
            if (!o.is_object()) {
                diag_.add("outputs[{}]: must be an object {{\"name\", \"node\"}}", i);
                continue;
            }
            for (const auto& [key, value] : o.items())
                if (key != "name" && key != "node") diag_.add("outputs[{}]: unknown field '{}'", i, key);
            auto name = o.find("name");
            auto node = o.find("node");
            if (name == o.end() || !name->is_string() || !valid_name(name->get<std::string>())) {
                diag_.add("outputs[{}]: field 'name' must be a valid name", i);
                continue;
            }
            const std::string& s = name->get_ref<const std::string&>();
            if (node == o.end() || !(node->is_number_unsigned() || node->is_number_integer())) {
                diag_.add("outputs[{}] ('{}'): field 'node' must be a node id", i, s);
                continue;
            }
            auto it = index_.find(node->get<int64_t>());
            if (it == index_.end()) {
                diag_.add("outputs[{}] ('{}'): no node with id {}", i, s, node->get<int64_t>());
                continue;
            }
            if (!seen.emplace(s, i).second) {
                diag_.add("outputs[{}]: output name '{}' is already used by outputs[{}]", i, s, seen[s]);
                continue;
            }
            if (auto in = input_names_.find(s); in != input_names_.end() && in->second != it->second) {
                diag_.add("outputs[{}]: output name '{}' is the name of input node {}, but refers to node {}", i, s,
                          dag_.nodes[in->second].id, node->get<int64_t>());
                continue;
            }
            dag_.outputs.push_back({static_cast<uint32_t>(dag_.names.size()), it->second});
            dag_.names.push_back(s);
        }
    }

    Dag dag_;
    Diagnostics diag_;
    std::unordered_map<int64_t, uint32_t> index_;
    std::unordered_map<std::string, uint32_t> input_names_;
    std::vector<std::array<int64_t, 3>> raw_args_;
};

}  // namespace

Dag read_dag(std::span<const uint8_t> bytes) {
    json doc = parse_document(bytes);
    return Reader().read(doc);
}

}  // namespace copapy
