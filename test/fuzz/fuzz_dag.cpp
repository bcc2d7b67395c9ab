// The DAG reader (lib/dag/reader.cpp) and gradient expansion (lib/dag/grad.cpp)
// on arbitrary bytes, JSON or CBOR (chosen by the first byte, as the reader
// does): every input is either read or rejected with an Error.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz.hpp"
#include "support/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace copapy;
    try {
        Dag dag = read_dag(std::span<const uint8_t>(data, size));
        // What the reader promises the later stages.
        FUZZ_CHECK(dag.order.size() == dag.nodes.size(), "order %zu nodes %zu", dag.order.size(), dag.nodes.size());
        for (const DagNode& n : dag.nodes)
            for (unsigned i = 0; i < n.nargs; ++i) FUZZ_CHECK(n.args[i] < dag.nodes.size(), "operand out of range");
        for (const DagOutput& o : dag.outputs)
            FUZZ_CHECK(o.node < dag.nodes.size() && o.name < dag.names.size(), "output out of range");
        expand_gradients(dag);
    } catch (const Error&) {
        // Rejected with a message: what the reader must do with bad input.
    }
    return 0;
}
