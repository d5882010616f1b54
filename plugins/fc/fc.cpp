// fc: a fully connected layer, the classifier head of every network in the paper. It reads
// its input [N, ...] as N rows of F = (product of the other extents) features, in row-major
// order (so [N, C, 1, 1] after global pooling is simply [N, C]).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "weft/error.h"
#include "weft/plugin.h"
#include "weft/schema_helpers.h"

namespace {

using weft::AttrSpec;
using weft::AttrType;
using weft::Error;
using weft::schema::attribute;

// PyTorch's Linear initialisation for both tensors: U(-1/sqrt(F), 1/sqrt(F)).
weft::ParamSpec parameter(std::string name, weft::Shape shape, std::int64_t fan_in) {
    return weft::schema::parameter(std::move(name), std::move(shape), weft::ParamInit::fan_in_uniform, fan_in);
}

weft::NodeSignature infer_fc(const weft::InferContext& context) {
    const weft::TensorDesc& input = context.inputs[0];
    if (input.rank() < 2) {
        throw Error(fmt::format("expects an input [N, features...] of rank 2 or more, got {}",
                                input.str()));
    }
    const std::int64_t batch = input.shape[0];
    const std::int64_t features =
        weft::shape_numel(weft::Shape(input.shape.begin() + 1, input.shape.end()));
    if (features < 1) {
        throw Error(fmt::format("expects at least one feature per sample, got {}", input.str()));
    }
    const std::int64_t out_features = context.attrs.get_int("out_features");

    weft::NodeSignature signature;
    signature.outputs.push_back({input.dtype, {batch, out_features}, weft::Layout::row_major});
    signature.params.push_back(parameter("weight", {out_features, features}, features));
    if (context.attrs.get_bool("bias")) {
        signature.params.push_back(parameter("bias", {out_features}, features));
    }
    signature.macs = weft::checked_product({batch, features, out_features});
    return signature;
}

weft::OpSchema fc_schema() {
    weft::OpSchema schema;
    schema.name = "fc";
    schema.doc = "fully connected layer: flattens [N, ...] to [N, F] and computes x W^T + b";
    schema.attrs = {
        attribute("out_features", AttrType::integer, std::nullopt, "output features", 1),
        attribute("bias", AttrType::boolean, true, "add a learned bias", std::nullopt),
    };
    schema.infer = infer_fc;
    // Inference computes every sample from that sample alone (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes&) { return true; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("fc", "0.1.0") { registrar.add_op(fc_schema()); }
