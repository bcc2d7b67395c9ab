// The optimized DAG as Graphviz (--emit dot): what the compiler computes
// after CSE, constant folding, algebraic simplification and dead-code
// removal, i.e. the graph the planner linearizes. Render it with
// `dot -Tsvg prog.dot -o prog.svg`.
#include <fmt/format.h>

#include <cstring>
#include <filesystem>

#include "emit/emit.hpp"

namespace copapy {

namespace {

// A Graphviz double-quoted string; a newline becomes the \n line break.
std::string dot_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + '"';
}

std::string_view kind_name(Kind k) { return k == Kind::F ? "float" : "int"; }

std::string constant_text(const IrNode& n) {
    if (n.kind == Kind::F) {
        float f;
        std::memcpy(&f, &n.bits, 4);
        return fmt::format("{}", f);
    }
    return fmt::format("{}", static_cast<int32_t>(n.bits));
}

}  // namespace

std::string format_dot(const EmitInput& in) {
    const Ir& ir = in.ir;
    // What the program keeps: the computed nodes, their operands, every input
    // (the host may write it even if unused) and what the outputs name.
    std::vector<bool> used(ir.nodes.size(), false);
    std::vector<size_t> step_of(ir.nodes.size(), 0);
    for (size_t k = 0; k < in.order.size(); ++k) {
        const IrNode& n = ir.nodes[in.order[k]];
        used[in.order[k]] = true;
        step_of[in.order[k]] = k + 1;
        for (uint8_t a = 0; a < n.nargs; ++a) used[n.args[a]] = true;
    }
    for (const IrInput& i : ir.inputs) used[i.node] = true;
    for (const IrOutput& o : ir.outputs) used[o.node] = true;

    std::vector<std::string> input_name(ir.nodes.size());
    for (const IrInput& i : ir.inputs) input_name[i.node] = ir.names[i.name];

    size_t ops = 0, leaves = 0;
    std::string body;
    for (uint32_t id = 0; id < ir.nodes.size(); ++id) {
        if (!used[id]) continue;
        const IrNode& n = ir.nodes[id];
        std::string origin = ir.dag_id(n) >= 0 ? fmt::format("node {}", ir.dag_id(n)) : "from lowering";
        const std::string loc = source_location(ir, id);
        if (!loc.empty()) origin += "\n" + loc;
        if (in.show_ranges && in.ranges) origin += "\nin " + in.ranges->ranges[id].str();
        if (n.op == Op::Input) {
            ++leaves;
            body += fmt::format("  n{} [label={}, shape=invhouse, style=filled, fillcolor=\"#d8e6f8\"];\n", id,
                                dot_string(fmt::format("{}\n{} input{}{}", input_name[id], kind_name(n.kind),
                                                       loc.empty() ? "" : "\n", loc)));
        } else if (n.op == Op::Const) {
            ++leaves;
            body += fmt::format("  n{} [label={}, shape=box, style=\"rounded,filled\", fillcolor=\"#eeeeee\"];\n", id,
                                dot_string(constant_text(n)));
        } else {
            ++ops;
            body += fmt::format("  n{} [label={}];\n", id,
                                dot_string(fmt::format("{}\n{} | {} | #{}", op_name(n.op), kind_name(n.kind), origin,
                                                   step_of[id])));
            for (uint8_t a = 0; a < n.nargs; ++a) {
                // Operand positions matter unless the op is commutative.
                const bool label = n.nargs > 1 && !is_commutative(n.op);
                body += fmt::format("  n{} -> n{}{};\n", n.args[a], id,
                                    label ? fmt::format(" [label=\"{}\"]", a) : "");
            }
        }
    }
    for (size_t k = 0; k < ir.outputs.size(); ++k) {
        const IrOutput& o = ir.outputs[k];
        body += fmt::format("  out{} [label={}, shape=house, style=filled, fillcolor=\"#dcefd6\"];\n", k,
                            dot_string(fmt::format("{}\n{} output", ir.names[o.name], dtype_name(o.dtype))));
        body += fmt::format("  n{} -> out{};\n", o.node, k);
    }

    return fmt::format(
        "// The optimized DAG of {} as copapy-cc compiles it: {} operations, {} inputs and constants, {} outputs.\n"
        "// Operations read \"op / type | DAG node | #position in the evaluation order\".\n"
        "// Render: dot -Tsvg FILE.dot -o FILE.svg\n"
        "digraph copapy {{\n"
        "  node [fontname=\"Helvetica\", fontsize=11, shape=ellipse];\n"
        "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n"
        "{}}}\n",
        std::filesystem::path(in.source).filename().string(), ops, leaves, ir.outputs.size(), body);
}

}  // namespace copapy
