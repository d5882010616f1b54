// group_conv: a 2-D convolution whose channels are split into `groups` partitions that do not
// see each other — the kernel matrix is block-diagonal, one dense block per partition (paper
// Eq. 1). groups = 1 is a regular convolution; in an IGC block it is the primary group
// convolution (3x3, L partitions).
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

weft::NodeSignature infer_group_conv(const weft::InferContext& context) {
    // The one reading of a convolution's attributes and the one output-size rule
    // (weft/convolution.h), shared with every backend's kernels.
    const weft::ConvolutionGeometry g = weft::convolution_geometry(context.attrs, context.inputs[0]);
    weft::NodeSignature signature;
    signature.outputs.push_back({context.inputs[0].dtype, g.output_shape(), weft::Layout::row_major});
    // Each output channel sees only its own partition: C/groups input channels. MSRA
    // initialisation over that fan-in, as the paper trains its networks.
    signature.params.push_back(parameter("weight", g.weight_shape(), weft::ParamInit::he_normal, g.fan_in()));
    if (g.bias) signature.params.push_back(parameter("bias", {g.out_channels}, weft::ParamInit::zeros, g.fan_in()));
    signature.macs = g.macs();
    return signature;
}

std::vector<AttrSpec> group_conv_attrs() {
    using Ints = std::vector<std::int64_t>;
    const auto required = std::nullopt;
    return {
        attribute("out_channels", AttrType::integer, required, "output channels", 1),
        attribute("kernel", AttrType::integers, required, "kernel size: k or [kh, kw]", 1),
        attribute("stride", AttrType::integers, Ints{1}, "stride: s or [sh, sw]", 1),
        attribute("padding", AttrType::integers, Ints{0},
                  "zero padding on each side: p or [ph, pw]", 0),
        attribute("dilation", AttrType::integers, Ints{1},
                  "kernel dilation (1 = dense): d or [dh, dw]", 1),
        attribute("groups", AttrType::integer, std::int64_t{1},
                  "channel partitions; in and out channels must divide by it", 1),
        attribute("bias", AttrType::boolean, false, "add a learned per-channel bias", std::nullopt),
        // Set by the fuse_relu pass (inference): the ReLU that followed runs inside the kernel.
        attribute("fused_relu", AttrType::boolean, false, "apply ReLU to the output", std::nullopt),
    };
}

weft::OpSchema group_conv_schema() {
    weft::OpSchema schema;
    schema.name = "group_conv";
    schema.doc =
        "2-D group convolution (paper Eq. 1): `groups` partitions, dense kernels within "
        "each and none across; groups = 1 is a regular convolution";
    schema.attrs = group_conv_attrs();
    schema.infer = infer_group_conv;
    schema.traits.convolution = true;
    // Inference computes every sample from that sample alone (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes&) { return true; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("group_conv", "0.1.0") { registrar.add_op(group_conv_schema()); }
