// batch_norm {eps, momentum, fused_relu}: y = (x - mean) / sqrt(var + eps) · weight + bias per channel
// (dimension 1) of an [N, C, ...] tensor; section 5.2 puts it after every IGC block.
//
// The parameters carry PyTorch's names and order (weight, bias, running_mean, running_var) so
// weights move between weft and PyTorch by name. The paper's #params leaves them out.
// Defaults follow the authors' MXNet code: eps 2e-5 and momentum 0.9 in MXNet's convention,
// running = momentum · running + (1 - momentum) · batch (PyTorch's momentum would be 0.1).
#include "fold_batch_norm_pass.h"
#include <fmt/format.h>

#include "weft/error.h"
#include "weft/plugin.h"

namespace {

weft::ParamSpec channel_param(const char* name, std::int64_t channels, weft::ParamInit init,
                              bool learnable) {
    weft::ParamSpec spec;
    spec.name = name;
    spec.desc = weft::TensorDesc{weft::DType::f32, {channels}, weft::Layout::row_major};
    spec.init = init;
    spec.counted = false;  // the paper counts convolution and FC weights only
    spec.learnable = learnable;
    return spec;
}

weft::NodeSignature infer_batch_norm(const weft::InferContext& ctx) {
    const weft::TensorDesc& x = ctx.inputs[0];
    if (x.rank() < 2)
        throw weft::Error(fmt::format(
            "batch_norm: expected an input [N, C] or [N, C, H, W] (rank 2 or more), got {}",
            x.str()));
    const std::int64_t channels = x.shape[1];
    weft::NodeSignature signature;
    signature.outputs = {x};
    signature.params = {
        channel_param("weight", channels, weft::ParamInit::ones, /*learnable=*/true),
        channel_param("bias", channels, weft::ParamInit::zeros, /*learnable=*/true),
        // Running statistics are state the kernel updates in training, not learned by SGD.
        channel_param("running_mean", channels, weft::ParamInit::zeros, /*learnable=*/false),
        channel_param("running_var", channels, weft::ParamInit::ones, /*learnable=*/false),
    };
    // A variance is never negative; 1/sqrt(var + eps) of one would be NaN, in the kernels and in
    // fold_batch_norm alike, so core refuses such a weights file at load.
    signature.params.back().non_negative = true;
    return signature;  // MACs 0: the paper's FLOPs count convolutions and FC only
}

weft::AttrSpec real_attr(const char* name, double value, const char* doc) {
    weft::AttrSpec spec;
    spec.name = name;
    spec.type = weft::AttrType::real;
    spec.default_value = value;
    spec.doc = doc;
    spec.min = 0.0;
    return spec;
}

weft::OpSchema batch_norm_schema() {
    weft::OpSchema schema;
    schema.name = "batch_norm";
    schema.doc =
        "Batch normalisation over dimension 1 with learnable scale and shift; "
        "inference uses the running statistics.";
    schema.attrs.push_back(real_attr("eps", 2e-5, "added to the variance before the square root"));
    weft::AttrSpec momentum =
        real_attr("momentum", 0.9, "running = momentum * running + (1 - momentum) * batch");
    momentum.max = 1.0;
    schema.attrs.push_back(std::move(momentum));
    weft::AttrSpec fused_relu;
    fused_relu.name = "fused_relu";
    fused_relu.type = weft::AttrType::boolean;
    fused_relu.default_value = false;
    fused_relu.doc = "apply ReLU to the output (set by the fuse_batch_norm_relu pass)";
    schema.attrs.push_back(std::move(fused_relu));
    schema.infer = infer_batch_norm;
    // Backward re-normalises the input (training keeps the batch statistics itself), so the
    // input must survive: no in-place.
    schema.backward_needs.inputs = true;
    schema.backward_needs.outputs = false;
    // Inference computes every sample from that sample alone (sample-parallel inference).
    schema.traits.independent_samples = [](const weft::Attributes&) { return true; };
    return schema;
}

}  // namespace

WEFT_PLUGIN("batch_norm", "1.0") {
    registrar.add_op(batch_norm_schema());
    registrar.add_pass(weft::batch_norm::fold_batch_norm_pass());
    registrar.add_pass(weft::batch_norm::fuse_batch_norm_relu_pass());
}
