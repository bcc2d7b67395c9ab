// Automatic differentiation: expanding `grad` nodes (docs/dag-format.md,
// version 2) into ordinary DAG operations by reverse-mode accumulation.
#pragma once

#include "dag.hpp"

namespace copapy {

// Rewrites every `grad` node (d args[0] / d args[1]) into ordinary nodes:
// appends the derivative's nodes to dag.nodes (fresh ids above every existing
// id), makes every user of a grad node (operands, outputs, updates) refer to
// its derivative instead, and recomputes dag.order. The grad nodes stay in
// dag.nodes, so indices remain valid, but nothing refers to them any more and
// they are no longer in dag.order.
//
// Grad nodes with the same y share one reverse sweep over the nodes between y
// and their x's. Grads are expanded in topological order, so a grad whose
// y depends on an earlier grad's result sees that result as ordinary nodes
// and differentiates through them: grad(grad(y, x1), x2) is the second
// derivative, and so on to any order.
void expand_gradients(Dag& dag);

}  // namespace copapy
