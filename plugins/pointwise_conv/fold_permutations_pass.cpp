// Training and inference pass: the channel permutations before and after a pointwise_conv (an IGC
// block's P^T and P, Eq. 2 and 4, around its secondary convolution) become the node's input_map
// and output_map, and the permutation nodes die. The direct kernel then reads each input channel
// from where it lies and writes each output to where it belongs: no channel is copied to move it,
// forward or backward, and training keeps no permuted copy of an activation.
//
// Only where the maps can be read: every backend usable here must have pointwise_conv's `direct`
// kernel (a GPU host keeps the permutations until its backend has one), and the node must be one
// that kernel computes (stride 1, at most 64 channels per group; others stay with oneDNN, which
// reads tensors in order). It runs after fold_batch_norm and fuse_igc_block, which see through
// the permutations themselves and take the blocks they fuse.
#include "fold_permutations_pass.h"

#include <cstdint>
#include <string>
#include <vector>

#include "pointwise_maps.h"
#include "weft/channel_permutation.h"
#include "weft/convolution.h"
#include "weft/registry.h"

namespace weft::pointwise {
namespace {

// The kernels that read channel maps: pointwise_conv's `direct` (oneDNN and cuDNN decline them).
bool reads_maps(const Registry& registry, const std::string& backend) {
    for (const RegisteredKernel* kernel : registry.kernels("pointwise_conv", backend))
        if (kernel->factory.name == "direct") return true;
    return false;
}

std::vector<std::int64_t> in_order(std::int64_t channels) {
    std::vector<std::int64_t> map(static_cast<std::size_t>(channels));
    for (std::int64_t c = 0; c < channels; ++c) map[static_cast<std::size_t>(c)] = c;
    return map;
}

bool fold_one(PassContext& c, int index) {
    Graph& g = c.graph;
    const Node& node = g.nodes[index];
    const ConvolutionGeometry conv = convolution_geometry(node.attrs, g.values[node.inputs.at(0)].desc);
    if (!direct_declines_geometry(conv).empty()) return false;  // a node oneDNN will run
    if (!node.attrs.get_ints("input_map").empty() || !node.attrs.get_ints("output_map").empty()) return false;

    // Backwards: convolution input i reads channel input_map[i] of the value before the permutations.
    const channel_permutation::Trace trace = channel_permutation::trace_back(c, node.inputs[0]);
    std::vector<std::int64_t> input_map;
    if (!trace.permutes.empty()) {
        input_map.resize(trace.position.size());
        for (std::size_t s = 0; s < trace.position.size(); ++s)
            input_map[static_cast<std::size_t>(trace.position[s])] = static_cast<std::int64_t>(s);
    }

    // Forwards through permutations, each value read by that node alone: output q lands on
    // channel output_map[q] of the last one.
    std::vector<std::int64_t> output_map = in_order(conv.out_channels);
    int end = node.outputs.at(0);
    bool moved = false;
    for (;;) {
        const std::vector<int> readers = readers_of(c, end);
        if (readers.size() != 1 || uses_of(c, end) != 1) break;
        const auto destination = channel_permutation::of_node(g, c.registry, readers[0]);
        if (!destination) break;
        for (std::int64_t& position : output_map)
            position = (*destination)[static_cast<std::size_t>(position)];
        end = g.nodes[readers[0]].outputs.at(0);
        moved = true;
    }
    if (input_map.empty() && !moved) return false;

    // The permutations die with nothing reading them; the node reads the value before them and
    // writes the value after them.
    if (!input_map.empty()) replace_uses(c, node.inputs[0], trace.source);
    Node& folded = g.nodes[index];
    folded.attrs.set("input_map", input_map);
    folded.attrs.set("output_map", moved ? output_map : std::vector<std::int64_t>{});
    const int output = folded.outputs.at(0);
    if (end != output) {
        g.values[output].desc = g.values[end].desc;
        replace_uses(c, end, output);
    }
    return true;
}

}  // namespace

GraphPass fold_permutations_pass() {
    GraphPass pass;
    pass.name = "fold_permutations";
    pass.doc = "the channel permutations around a pointwise_conv become its input and output channel maps, "
               "read by the direct kernel (training too), where every usable backend has that kernel";
    pass.order = 40;
    pass.inference_only = false;
    pass.run = [](PassContext& c) {
        const auto has_kernel = [&](const std::string& b) { return reads_maps(c.registry, b); };
        if (!every_usable_backend(c.registry, has_kernel)) return 0;
        return rewrite_each(c, "pointwise_conv", fold_one);
    };
    return pass;
}

}  // namespace weft::pointwise
