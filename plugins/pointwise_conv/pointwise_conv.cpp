// pointwise_conv: a 1x1 group convolution. In an IGC block it is the secondary group
// convolution, mixing the channels the primary one kept apart (paper Eq. 3: M partitions of L
// channels each, after the permutation P); with groups = 1 it is GPC's dense 1x1 convolution,
// and with a stride it is the projection on a residual shortcut.
//
// Its two channel maps are written by the fold_permutations pass, never in a graph file: the
// permutations around an IGC block's secondary convolution (P^T before, P after, Eq. 2 and 4)
// become the order in which the kernel reads and writes channels, so no channel is copied to move
// it, in training too.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fold_permutations_pass.h"
#include "weft/channel_permutation.h"
#include "weft/convolution.h"
#include "weft/error.h"
#include "weft/plugin.h"
#include "weft/schema_helpers.h"

namespace {

using weft::schema::attribute;
using weft::schema::parameter;

using weft::AttrSpec;
using weft::AttrType;

// A channel map is empty (channels in order) or holds each of 0..channels-1 once.
void check_map(const weft::Attributes& attrs, const char* name, std::int64_t channels) {
    const std::vector<std::int64_t> map = attrs.get_ints(name);
    if (map.empty()) return;
    const std::string why = weft::channel_permutation::not_a_permutation(map, channels, name);
    if (!why.empty()) throw weft::Error("pointwise_conv: " + why);
}

weft::NodeSignature infer_pointwise_conv(const weft::InferContext& context) {
    // group_conv's reading and output-size rule with a 1x1 kernel, no padding, no dilation
    // (weft/convolution.h): every stride-th pixel, starting at the first.
    const weft::ConvolutionGeometry g = weft::convolution_geometry(context.attrs, context.inputs[0]);
    check_map(context.attrs, "input_map", g.in_channels);
    check_map(context.attrs, "output_map", g.out_channels);
    weft::NodeSignature signature;
    signature.outputs.push_back({context.inputs[0].dtype, g.output_shape(), weft::Layout::row_major});
    // Stored [out, C/groups, 1, 1] like group_conv's weight, so weight files are interchangeable
    // with a kernel-1 group_conv (and with PyTorch's Conv2d). MSRA initialisation, as the paper.
    signature.params.push_back(parameter("weight", g.weight_shape(), weft::ParamInit::he_normal, g.fan_in()));
    if (g.bias) signature.params.push_back(parameter("bias", {g.out_channels}, weft::ParamInit::zeros, g.fan_in()));
    signature.macs = g.macs();
    return signature;
}

weft::OpSchema pointwise_conv_schema() {
    using Ints = std::vector<std::int64_t>;
    weft::OpSchema schema;
    schema.name = "pointwise_conv";
    schema.doc =
        "1x1 group convolution (the paper's secondary group convolution, Eq. 3); groups = 1 "
        "is a dense 1x1 convolution";
    schema.attrs = {
        attribute("out_channels", AttrType::integer, std::nullopt, "output channels", 1),
        attribute("groups", AttrType::integer, std::int64_t{1},
                  "channel partitions; in and out channels must divide by it", 1),
        attribute("stride", AttrType::integers, Ints{1}, "stride: s or [sh, sw]", 1),
        attribute("bias", AttrType::boolean, false, "add a learned per-channel bias", std::nullopt),
        attribute("input_map", AttrType::integers, Ints{},
                  "the input channel each of the convolution's input channels reads (set by the "
                  "fold_permutations pass); empty: in order"),
        attribute("output_map", AttrType::integers, Ints{},
                  "the output channel each of the convolution's outputs is written to (set by the "
                  "fold_permutations pass); empty: in order"),
    };
    schema.infer = infer_pointwise_conv;
    schema.traits.convolution = true;
    // Inference computes every sample from that sample alone (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes&) { return true; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("pointwise_conv", "0.1.0") {
    registrar.add_op(pointwise_conv_schema());
    registrar.add_pass(weft::pointwise::fold_permutations_pass());
}
