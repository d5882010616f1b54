// group_conv: a 2-D convolution whose channels are split into `groups` partitions that do not
// see each other — the kernel matrix is block-diagonal, one dense block per partition (paper
// Eq. 1). groups = 1 is a regular convolution; in an IGC block it is the primary group
// convolution (3x3, L partitions).
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "weft/error.h"
#include "weft/plugin.h"
#include "weft/schema_helpers.h"

namespace {

using weft::schema::attribute;
using weft::schema::checked_product;
using weft::schema::parameter;

using weft::AttrSpec;
using weft::AttrType;
using weft::Error;

struct HeightWidth {
    std::int64_t h;
    std::int64_t w;
};

// An attribute given as one value for both axes or as [height, width].
HeightWidth height_width(const weft::Attributes& attrs, std::string_view name) {
    const std::vector<std::int64_t> values = attrs.get_ints(name);
    if (values.size() == 1) return {values[0], values[0]};
    if (values.size() == 2) return {values[0], values[1]};
    throw Error(fmt::format("{} should be one value or [height, width], got {} values", name,
                            values.size()));
}

std::int64_t output_extent(std::string_view axis, std::int64_t input, std::int64_t kernel,
                           std::int64_t stride, std::int64_t padding, std::int64_t dilation) {
    const std::int64_t kernel_extent = dilation * (kernel - 1) + 1;
    const std::int64_t room = input + 2 * padding - kernel_extent;
    if (room < 0) {
        throw Error(fmt::format(
            "output {} would be empty: input {} {} with padding {} is smaller than the kernel "
            "extent {} (kernel {}, dilation {})",
            axis, axis, input, padding, kernel_extent, kernel, dilation));
    }
    return room / stride + 1;
}

weft::NodeSignature infer_group_conv(const weft::InferContext& context) {
    const weft::TensorDesc& input = context.inputs[0];
    if (input.rank() != 4) {
        throw Error(fmt::format("expects an input [N, C, H, W], got {}", input.str()));
    }
    const std::int64_t batch = input.shape[0];
    const std::int64_t in_channels = input.shape[1];
    const std::int64_t out_channels = context.attrs.get_int("out_channels");
    const std::int64_t groups = context.attrs.get_int("groups");
    if (in_channels < 1) {
        throw Error(fmt::format("expects at least one input channel, got {}", input.str()));
    }
    if (in_channels % groups != 0) {
        throw Error(
            fmt::format("in_channels {} is not divisible by groups {}", in_channels, groups));
    }
    if (out_channels % groups != 0) {
        throw Error(
            fmt::format("out_channels {} is not divisible by groups {}", out_channels, groups));
    }
    const HeightWidth kernel = height_width(context.attrs, "kernel");
    const HeightWidth stride = height_width(context.attrs, "stride");
    const HeightWidth padding = height_width(context.attrs, "padding");
    const HeightWidth dilation = height_width(context.attrs, "dilation");
    const std::int64_t out_height =
        output_extent("height", input.shape[2], kernel.h, stride.h, padding.h, dilation.h);
    const std::int64_t out_width =
        output_extent("width", input.shape[3], kernel.w, stride.w, padding.w, dilation.w);

    // Each output channel sees only its own partition: C/groups input channels.
    const std::int64_t fan_in = checked_product({in_channels / groups, kernel.h, kernel.w});
    weft::NodeSignature signature;
    signature.outputs.push_back(
        {input.dtype, {batch, out_channels, out_height, out_width}, input.layout});
    // MSRA initialisation over the partition's fan-in, as the paper trains its networks.
    signature.params.push_back(parameter("weight",
                                         {out_channels, in_channels / groups, kernel.h, kernel.w},
                                         weft::ParamInit::he_normal, fan_in));
    if (context.attrs.get_bool("bias")) {
        signature.params.push_back(
            parameter("bias", {out_channels}, weft::ParamInit::zeros, fan_in));
    }
    signature.macs = checked_product({batch, out_channels, out_height, out_width, fan_in});
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
    return schema;
}

}  // namespace

WEFT_PLUGIN("group_conv", "0.1.0") { registrar.add_op(group_conv_schema()); }
