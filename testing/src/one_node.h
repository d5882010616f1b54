// One node of one operator, as the testing library runs it: a shape-inferred one-node graph, the
// parameters it runs with, and the kernel weft gives it (or the forced one, which must take it).
#pragma once

#include <string>
#include <vector>

#include "weft/graph.h"
#include "weft/kernel.h"
#include "weft/registry.h"
#include "weft/testing/op_check.h"

namespace weft::testing {

struct OneNode {
    Graph graph;        // single_node_graph: inputs x0, x1, ...; one node "node"
    WeightMap weights;  // "node.<param>", every parameter the schema declares

    const Node& node() const { return graph.nodes.at(0); }
    std::vector<TensorDesc> input_descs() const;
    std::vector<TensorDesc> output_descs() const;
    // The node's parameters in the schema's order.
    std::vector<Tensor> params() const;
};

// The call's node: shape-inferred, its parameters initialised from the call's seed and then
// replaced by those the call gives (a name the schema does not declare is an error).
OneNode one_node(const Registry& registry, const OpCall& call);

// What a kernel of the node is created from; refers to the node's attributes, so `node` must
// outlive it. `in_place`: output 0 shares memory with the input the schema may overwrite.
KernelConfig kernel_config(const OneNode& node, Device& device, bool training, bool in_place = false);

// The kernel the node gets on the call's backend: weft's choice, or the call's forced kernel —
// which must take the node itself (a forced kernel that declines is an error naming its reason,
// never a silent comparison of some other kernel with itself).
const RegisteredKernel& select_kernel(const Registry& registry, const OpCall& call, const KernelConfig& config);

// A kernel as a report names it: "name (library file)".
std::string kernel_label(const RegisteredKernel& kernel);

}  // namespace weft::testing
