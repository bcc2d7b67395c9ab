// Checks --bind requests against the DAG before lowering (build_ir turns the
// bound names into io_load / io_store nodes).
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir.hpp"
#include "support/error.hpp"
#include "support/text.hpp"

namespace copapy {

void check_bindings(const Dag& dag, std::span<const Binding> bindings) {
    if (bindings.empty()) return;
    // name -> dtype and what it is ('i'nput, 'o'utput, 's'tate)
    std::unordered_map<std::string, std::pair<DType, char>> names;
    for (uint32_t v : dag.inputs)
        names.emplace(dag.names[dag.nodes[v].name], std::pair{dag.nodes[v].dtype, dag.nodes[v].op == Op::State ? 's' : 'i'});
    for (const DagOutput& o : dag.outputs) names.emplace(dag.names[o.name], std::pair{dag.nodes[o.node].dtype, 'o'});

    std::unordered_map<std::string, bool> ranged;  // inputs with a declared range
    for (const DagRange& r : dag.ranges) ranged.emplace(dag.names[dag.nodes[r.node].name], true);

    std::vector<std::string> problems;
    std::unordered_map<std::string, size_t> seen;
    std::vector<size_t> good;  // indices of bindings that passed, for the overlap check
    for (size_t i = 0; i < bindings.size(); ++i) {
        const Binding& b = bindings[i];
        const std::string at = fmt::format("--bind {}", quote(b.name));
        auto bad = [&](std::string what) { problems.push_back(fmt::format("{}: {}", at, what)); };
        if (auto [it, fresh] = seen.emplace(b.name, i); !fresh) {
            bad("the name is bound twice");
            continue;
        }
        auto it = names.find(b.name);
        if (it == names.end()) {
            bad("the DAG has no input or output of this name");
            continue;
        }
        const auto [dtype, what] = it->second;
        if (what == 's') {
            bad("a state cannot be bound: it keeps its value in the program's data between runs");
            continue;
        }
        if (ranged.count(b.name)) {
            bad("a bound input cannot have a declared range: the device, not the host, decides its values");
            continue;
        }
        if (b.width != 8 && b.width != 16 && b.width != 32) {
            bad(fmt::format("width {} is not 8, 16 or 32 bits", b.width));
            continue;
        }
        if (dtype == DType::Float && b.width != 32) {
            bad(fmt::format("a float binds at 32 bits, not {}", b.width));
            continue;
        }
        if (b.address > UINT32_MAX) {
            bad(fmt::format("address {:#x} is beyond 32 bits (bound addresses are 32-bit words on every target)", b.address));
            continue;
        }
        if (b.address % (b.width / 8) != 0) {
            bad(fmt::format("address {:#x} is not aligned for a {}-bit access", b.address, b.width));
            continue;
        }
        good.push_back(i);
    }
    // In address order, each binding against the one before it that reaches
    // farthest: every binding that overlaps an earlier one is named.
    std::stable_sort(good.begin(), good.end(),
                     [&](size_t x, size_t y) { return bindings[x].address < bindings[y].address; });
    const Binding* reach = nullptr;
    auto end = [](const Binding& b) { return b.address + b.width / 8; };
    for (size_t k : good) {
        const Binding& q = bindings[k];
        if (reach && end(*reach) > q.address)
            problems.push_back(fmt::format("--bind {}: bytes {:#x}..{:#x} overlap those of {} ({:#x}..{:#x})",
                                           quote(q.name), q.address, end(q) - 1, quote(reach->name), reach->address,
                                           end(*reach) - 1));
        if (!reach || end(q) > end(*reach)) reach = &q;
    }
    if (problems.empty()) return;
    std::string msg;
    for (const std::string& p : problems) msg += (msg.empty() ? "" : "\n") + p;
    throw Error(ErrorKind::Input, msg);
}

}  // namespace copapy
