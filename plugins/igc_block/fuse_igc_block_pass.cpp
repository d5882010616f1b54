// Inference pass: an IGC block as written — a group_conv, channel permutations, a pointwise_conv,
// channel permutations and optionally a ReLU, each value on the way read by the next node alone —
// becomes one igc_block node. The permutations (any op with the permutation trait) become the
// block's two index maps, so no channel is ever copied to move it; batch norm has been folded into
// the convolutions by then (fold_batch_norm runs first).
//
// It fuses only what the machine can run fused and what pays: every backend usable here must have
// an igc_block kernel (a GPU host keeps the separate nodes until the CUDA backend has one), and
// the primary's groups must be small (at most 16 channels in and out, where the small-group tile
// computes them; wider groups go to oneDNN as before). It runs after fuse_relu, which leaves an
// IGC block's ReLU alone (pointwise_conv has no fused_relu).
#include "fuse_igc_block_pass.h"

#include <cstdint>
#include <string>
#include <vector>

#include "weft/channel_permutation.h"
#include "weft/convolution.h"
#include "weft/error.h"
#include "weft/registry.h"

namespace weft::igc_block {
namespace {

constexpr std::int64_t kMaxChannelsPerGroup = 16;  // the small-group tile's reach

// The primary the fused kernel computes with the small-group tile: groups of few channels, a
// horizontal stride the tile has (1 or 2), no ReLU of its own between the two convolutions.
bool primary_fits(const Graph& g, const Node& conv) {
    if (conv.op != "group_conv" || conv.inputs.size() != 1) return false;
    const ConvolutionGeometry geometry = convolution_geometry(conv.attrs, g.values[conv.inputs[0]].desc);
    return !geometry.fused_relu && geometry.in_per_group() <= kMaxChannelsPerGroup &&
           geometry.out_per_group() <= kMaxChannelsPerGroup && geometry.stride_w <= 2;
}

// The block's name: the two convolutions' common scope ("stage1.block0" of
// "stage1.block0.primary" and "stage1.block0.secondary") with ".igc", unless taken.
std::string fused_name(const Graph& g, const std::string& primary, const std::string& secondary) {
    std::size_t common = 0;
    for (std::size_t i = 0; i < primary.size() && i < secondary.size() && primary[i] == secondary[i]; ++i)
        if (primary[i] == '.') common = i;
    std::string name = (common > 0 ? primary.substr(0, common) : primary) + ".igc";
    while (g.find_node(name) >= 0) name += "_";
    return name;
}

bool fuse_one(PassContext& c, int secondary_index) {
    Graph& g = c.graph;
    const Node& secondary = g.nodes[secondary_index];
    const ConvolutionGeometry second =
        convolution_geometry(secondary.attrs, g.values[secondary.inputs.at(0)].desc);
    if (second.stride_h != 1 || second.stride_w != 1) return false;

    // Backwards to the primary: channel k of its output is secondary input position[k].
    const auto producer = channel_permutation::exclusive_producer(c, secondary.inputs[0]);
    if (!producer || !primary_fits(g, g.nodes[producer->node])) return false;
    const int primary_index = producer->node;
    std::vector<std::int64_t> secondary_input(producer->trace.position.size());
    for (std::size_t k = 0; k < secondary_input.size(); ++k)
        secondary_input[static_cast<std::size_t>(producer->trace.position[k])] = static_cast<std::int64_t>(k);

    // Forwards through permutations and at most one ReLU, each value read by that node alone.
    const std::int64_t out_channels = second.out_channels;
    std::vector<std::int64_t> output_channel(static_cast<std::size_t>(out_channels));
    for (std::int64_t q = 0; q < out_channels; ++q) output_channel[q] = q;
    int end = secondary.outputs.at(0);
    bool relu = false;
    for (;;) {
        const std::vector<int> readers = readers_of(c, end);
        if (readers.size() != 1 || uses_of(c, end) != 1) break;
        const int next = readers[0];
        if (const auto destination = channel_permutation::of_node(g, c.registry, next)) {
            for (std::int64_t& position : output_channel) position = (*destination)[position];
        } else if (const OpSchema* schema = c.registry.find_op(g.nodes[next].op);
                   !relu && schema && schema->traits.activation == "relu" &&
                   g.nodes[next].inputs.size() == 1) {
            relu = true;
        } else {
            break;
        }
        end = g.nodes[next].outputs.at(0);
    }

    // The secondary's node becomes the block (its place in the node order is right: after
    // the primary's input, before every reader of `end`); the rest dies with nothing reading it.
    const Node& primary = g.nodes[primary_index];
    const std::string name = fused_name(g, primary.name, secondary.name);
    Attributes attrs;
    for (const char* attr : {"out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias"})
        attrs.set(attr, *primary.attrs.find(attr));
    attrs.set("secondary_out_channels", out_channels);
    attrs.set("secondary_groups", second.groups);
    attrs.set("secondary_bias", second.bias);
    attrs.set("secondary_input", secondary_input);
    attrs.set("output_channel", output_channel);
    attrs.set("fused_relu", relu);

    // The weights move to the block's names.
    const auto move_weight = [&](const std::string& from, const std::string& to) {
        auto it = c.weights.find(from);
        if (it == c.weights.end()) return;
        c.weights[name + "." + to] = it->second;
        c.weights.erase(it);
    };
    move_weight(primary.name + ".weight", "primary_weight");
    move_weight(primary.name + ".bias", "primary_bias");
    move_weight(secondary.name + ".weight", "secondary_weight");
    move_weight(secondary.name + ".bias", "secondary_bias");

    // The block reads the primary's input where the secondary read the permuted value, whose
    // one reader it is: rewired through the readers' index, which stays current (no rebuild per
    // block, so the pass stays linear in the graph).
    const int input = primary.inputs[0];
    replace_uses(c, secondary.inputs[0], input);
    Node& block = g.nodes[secondary_index];
    block.name = name;
    block.op = "igc_block";
    block.attrs = std::move(attrs);
    block.params.clear();
    const int output = block.outputs.at(0);
    g.values[output].name = name;
    g.values[output].desc = g.values[end].desc;
    if (end != output) replace_uses(c, end, output);
    return true;
}

}  // namespace

GraphPass fuse_igc_block_pass() {
    GraphPass pass;
    pass.name = "fuse_igc_block";
    pass.doc = "an IGC block (group conv, permutations, 1x1 group conv, permutations, ReLU) becomes one "
               "igc_block node computed in cache-sized bands, where every loaded backend has its kernel";
    pass.order = 25;
    pass.inference_only = true;
    pass.run = [](PassContext& c) {
        // A host whose GPU runs the graph keeps the separate nodes until the CUDA backend has one.
        const auto has_kernel = [&](const std::string& b) {
            return !c.registry.kernels("igc_block", b).empty();
        };
        if (!every_usable_backend(c.registry, has_kernel)) return 0;
        return rewrite_each(c, "pointwise_conv", fuse_one);
    };
    return pass;
}

}  // namespace weft::igc_block
