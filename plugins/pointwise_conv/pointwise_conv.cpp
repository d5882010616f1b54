// pointwise_conv: a 1x1 group convolution. In an IGC block it is the secondary group
// convolution, mixing the channels the primary one kept apart (paper Eq. 3: M partitions of L
// channels each, after the permutation P); with groups = 1 it is GPC's dense 1x1 convolution,
// and with a stride it is the projection on a residual shortcut.
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

weft::NodeSignature infer_pointwise_conv(const weft::InferContext& context) {
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
    if (input.shape[2] < 1 || input.shape[3] < 1) {
        throw Error(fmt::format("output would be empty: input {} has no pixels", input.str()));
    }
    // A 1x1 kernel without padding samples every stride-th pixel, starting at the first.
    const HeightWidth stride = height_width(context.attrs, "stride");
    const std::int64_t out_height = (input.shape[2] - 1) / stride.h + 1;
    const std::int64_t out_width = (input.shape[3] - 1) / stride.w + 1;

    const std::int64_t fan_in = in_channels / groups;
    weft::NodeSignature signature;
    signature.outputs.push_back(
        {input.dtype, {batch, out_channels, out_height, out_width}, input.layout});
    // Stored [out, C/groups, 1, 1] like group_conv's weight, so weight files are interchangeable
    // with a kernel-1 group_conv (and with PyTorch's Conv2d). MSRA initialisation, as the paper.
    signature.params.push_back(
        parameter("weight", {out_channels, fan_in, 1, 1}, weft::ParamInit::he_normal, fan_in));
    if (context.attrs.get_bool("bias")) {
        signature.params.push_back(
            parameter("bias", {out_channels}, weft::ParamInit::zeros, fan_in));
    }
    signature.macs = checked_product({batch, out_channels, out_height, out_width, fan_in});
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
    return schema;
}

}  // namespace

WEFT_PLUGIN("pointwise_conv", "0.1.0") { registrar.add_op(pointwise_conv_schema()); }
