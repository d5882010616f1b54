// pointwise_conv: a 1x1 group convolution. In an IGC block it is the secondary group
// convolution, mixing the channels the primary one kept apart (paper Eq. 3: M partitions of L
// channels each, after the permutation P); with groups = 1 it is GPC's dense 1x1 convolution,
// and with a stride it is the projection on a residual shortcut.
#include <cstdint>
#include <optional>
#include <vector>

#include "weft/convolution.h"
#include "weft/plugin.h"
#include "weft/schema_helpers.h"

namespace {

using weft::schema::attribute;
using weft::schema::parameter;

using weft::AttrSpec;
using weft::AttrType;

weft::NodeSignature infer_pointwise_conv(const weft::InferContext& context) {
    // group_conv's reading and output-size rule with a 1x1 kernel, no padding, no dilation
    // (weft/convolution.h): every stride-th pixel, starting at the first.
    const weft::ConvolutionGeometry g = weft::convolution_geometry(context.attrs, context.inputs[0]);
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
    };
    schema.infer = infer_pointwise_conv;
    schema.traits.convolution = true;
    return schema;
}

}  // namespace

WEFT_PLUGIN("pointwise_conv", "0.1.0") { registrar.add_op(pointwise_conv_schema()); }
