// separable_group_conv: an IGC block's primary group convolution with each partition's 3×3
// kernel decomposed into a 3×1 then a 1×3 kernel — the extension the paper suggests in Section 4
// ("Extensions and variants") — as one operator. This library holds what the operator *is*
// (attributes, shape rule, parameters, cost); separable_group_conv_cpu.cpp says how it runs.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "separable_geometry.h"
#include "weft/plugin.h"
#include "weft/schema_helpers.h"

namespace {

weft::ParamSpec weight(std::string name, weft::Shape shape, std::int64_t fan_in) {
    weft::ParamSpec spec;
    spec.name = std::move(name);
    spec.desc = weft::TensorDesc{weft::DType::f32, std::move(shape), weft::Layout::row_major};
    spec.init = weft::ParamInit::he_normal;  // N(0, 2 / fan_in)
    spec.fan_in = fan_in;
    return spec;
}

weft::NodeSignature infer_separable_group_conv(const weft::InferContext& context) {
    const weft::TensorDesc& input = context.inputs[0];
    const separable::Geometry g = separable::geometry_of(input, context.attrs);
    weft::NodeSignature signature;
    signature.outputs.push_back({input.dtype, g.output_shape(), input.layout});
    // W_v: He (MSRA) over the partition's fan-in, as the paper initialises its convolutions.
    signature.params.push_back(weight("weight_v", g.vertical_weight_shape(), g.vertical_fan_in()));
    // W_h: N(0, 1 / fan_in), i.e. He with the fan-in doubled. No ReLU sits between the two
    // kernels (footnote 4), so together they keep the gain of one He-initialised 3×3 kernel.
    signature.params.push_back(weight("weight_h", g.horizontal_weight_shape(), 2 * g.horizontal_fan_in()));
    signature.macs = g.macs();
    return signature;
}

weft::OpSchema separable_group_conv_schema() {
    using weft::schema::attribute;
    using Ints = std::vector<std::int64_t>;
    weft::OpSchema schema;
    schema.name = "separable_group_conv";
    schema.doc =
        "group convolution whose 3x3 kernels are decomposed into 3x1 then 1x3 (paper Section 4): per "
        "partition, a 3x1 convolution to out/groups channels, then a 1x3 convolution among them, "
        "no nonlinearity between";
    schema.attrs = {
        attribute("out_channels", weft::AttrType::integer, std::nullopt, "output channels", 1),
        attribute("groups", weft::AttrType::integer, std::int64_t{1},
                  "partitions; in and out channels must divide by it", 1),
        attribute("stride", weft::AttrType::integers, Ints{1},
                  "s or [sh, sw]: sh strides the 3x1 kernel, sw the 1x3 kernel", 1),
        attribute("padding", weft::AttrType::integers, Ints{1},
                  "zero padding p or [ph, pw]: ph rows for the 3x1 kernel, pw columns for the 1x3", 0),
    };
    schema.infer = infer_separable_group_conv;
    return schema;
}

}  // namespace

WEFT_PLUGIN("separable_group_conv", "1.0.0") { registrar.add_op(separable_group_conv_schema()); }
