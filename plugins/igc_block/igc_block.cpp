// igc_block: an IGC block's two group convolutions and the channel moves around them as one
// node — y = act(P2 · W^d · P1 · (W^p * x)), Eq. 5 with the permutations as index maps. Nobody
// writes it in a graph file: the fuse_igc_block pass makes it from group_conv -> permutations
// -> pointwise_conv -> permutations [-> ReLU] for inference, so that a kernel can compute the
// block on cache-sized bands of rows and the intermediate channels never travel through memory.
//
// The primary's attributes are group_conv's (so weft/convolution.h reads them), except that
// fused_relu applies to the block's output, not to the primary's.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fuse_igc_block_pass.h"
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

// `map` must hold each of 0..size-1 once.
void check_permutation(const weft::Attributes& attrs, const char* name, std::int64_t size) {
    const std::string why = weft::channel_permutation::not_a_permutation(attrs.get_ints(name), size, name);
    if (!why.empty()) throw weft::Error("igc_block: " + why);
}

weft::NodeSignature infer_igc_block(const weft::InferContext& context) {
    weft::ConvolutionGeometry primary = weft::convolution_geometry(context.attrs, context.inputs[0]);
    primary.fused_relu = false;
    const std::int64_t channels = primary.out_channels;
    const std::int64_t out_channels = context.attrs.get_int("secondary_out_channels");
    const std::int64_t groups = context.attrs.get_int("secondary_groups");
    if (channels % groups != 0 || out_channels % groups != 0)
        throw weft::Error(fmt::format(
            "igc_block: secondary_groups = {} must divide the primary's {} and the secondary's {} channels",
            groups, channels, out_channels));
    check_permutation(context.attrs, "secondary_input", channels);
    check_permutation(context.attrs, "output_channel", out_channels);

    weft::NodeSignature signature;
    weft::Shape shape = primary.output_shape();
    shape[1] = out_channels;
    signature.outputs.push_back({context.inputs[0].dtype, shape, weft::Layout::row_major});
    // The two convolutions' own parameters, under their own names, initialised as they would be.
    signature.params.push_back(
        parameter("primary_weight", primary.weight_shape(), weft::ParamInit::he_normal, primary.fan_in()));
    if (primary.bias)
        signature.params.push_back(
            parameter("primary_bias", {channels}, weft::ParamInit::zeros, primary.fan_in()));
    const std::int64_t per_group = channels / groups;
    signature.params.push_back(parameter("secondary_weight", {out_channels, per_group, 1, 1},
                                         weft::ParamInit::he_normal, per_group));
    if (context.attrs.get_bool("secondary_bias"))
        signature.params.push_back(
            parameter("secondary_bias", {out_channels}, weft::ParamInit::zeros, per_group));
    // The paper's count: both convolutions' multiply-adds; the moves cost none.
    const std::int64_t pixels = shape[0] * shape[2] * shape[3];
    signature.macs = primary.macs() + out_channels * per_group * pixels;
    return signature;
}

std::vector<AttrSpec> igc_block_attrs() {
    using Ints = std::vector<std::int64_t>;
    const auto required = std::nullopt;
    return {
        attribute("out_channels", AttrType::integer, required, "the primary's output channels", 1),
        attribute("kernel", AttrType::integers, required, "the primary's kernel size: k or [kh, kw]", 1),
        attribute("stride", AttrType::integers, Ints{1}, "the primary's stride: s or [sh, sw]", 1),
        attribute("padding", AttrType::integers, Ints{0}, "the primary's zero padding: p or [ph, pw]", 0),
        attribute("dilation", AttrType::integers, Ints{1}, "the primary's kernel dilation: d or [dh, dw]", 1),
        attribute("groups", AttrType::integer, std::int64_t{1}, "the primary's partitions (L)", 1),
        attribute("bias", AttrType::boolean, false, "the primary adds a per-channel bias", std::nullopt),
        attribute("secondary_out_channels", AttrType::integer, required, "the block's output channels", 1),
        attribute("secondary_groups", AttrType::integer, std::int64_t{1}, "the secondary's partitions", 1),
        attribute("secondary_bias", AttrType::boolean, false, "the secondary adds a per-channel bias",
                  std::nullopt),
        attribute("secondary_input", AttrType::integers, required,
                  "for each secondary input channel, the primary output channel it reads (P1 as a gather)",
                  0),
        attribute("output_channel", AttrType::integers, required,
                  "for each secondary output channel, the block output channel it becomes (P2)", 0),
        attribute("fused_relu", AttrType::boolean, false, "apply ReLU to the block's output", std::nullopt),
    };
}

weft::OpSchema igc_block_schema() {
    weft::OpSchema schema;
    schema.name = "igc_block";
    schema.doc =
        "an IGC block fused for inference (made by the fuse_igc_block pass): primary group convolution, "
        "channel gather, secondary 1x1 group convolution, channel scatter, optional ReLU";
    schema.attrs = igc_block_attrs();
    schema.infer = infer_igc_block;
    // Inference computes every sample from that sample alone (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes&) { return true; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("igc_block", "0.1.0") {
    registrar.add_op(igc_block_schema());
    registrar.add_pass(weft::igc_block::fuse_igc_block_pass());
}
