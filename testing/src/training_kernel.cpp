#include "training_kernel.h"

#include "weft/testing/device_arena.h"

#include <algorithm>
#include <cstddef>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft::testing {

namespace {

std::vector<TensorDesc> descs_of(const std::vector<ParamSpec>& params) {
    std::vector<TensorDesc> descs;
    for (const ParamSpec& p : params) descs.push_back(p.desc);
    return descs;
}

// Host tensors into device views of the same descriptions.
void copy_in(Device& device, const std::vector<TensorView>& views, const std::vector<Tensor>& tensors, const char* what) {
    if (tensors.size() != views.size())
        throw Error(fmt::format("weft::testing: {} {} given, the node has {}", tensors.size(), what, views.size()));
    for (std::size_t i = 0; i < views.size(); ++i) {
        if (tensors[i].desc() != views[i].desc)
            throw Error(fmt::format("weft::testing: {} {} is {}, the node expects {}", what, i, tensors[i].desc().str(),
                                    views[i].desc.str()));
        device.copy_from_host(views[i].data, tensors[i].data(), tensors[i].bytes());
    }
}

}  // namespace

TrainingKernel::TrainingKernel(const Registry& registry, const OpCall& call, Collective* batch_group)
    : node_(one_node(registry, call)), device_(registry.create_device(call.backend, {})) {
    KernelConfig config = kernel_config(node_, *device_, /*training=*/true);
    config.batch_group = batch_group;
    const RegisteredKernel& chosen = select_kernel(registry, call, config);
    label_ = kernel_label(chosen);
    kernel_ = chosen.factory.create(config);
    // Everything on the device, as the training executor holds it; the saved memory apart from
    // the workspace, so a kernel that left state in the workspace fails once it is scribbled over.
    arena_ = std::make_unique<DeviceArena>(*device_);
    inputs_ = arena_->zeros(node_.input_descs());
    outputs_ = arena_->zeros(node_.output_descs());
    params_ = arena_->zeros(descs_of(node_.node().params));
    grad_outputs_ = arena_->zeros(node_.output_descs());
    grad_inputs_ = arena_->zeros(node_.input_descs());
    grad_params_ = arena_->zeros(descs_of(node_.node().params));
    workspace_ = arena_->allocate(kernel_->workspace_bytes());
    saved_ = arena_->allocate(kernel_->saved_bytes());
}

TrainingKernel::~TrainingKernel() = default;

void TrainingKernel::upload(const std::vector<Tensor>& inputs, const std::vector<Tensor>& params) {
    copy_in(*device_, inputs_, inputs, "inputs");
    copy_in(*device_, params_, params, "parameters");
}

void TrainingKernel::run_forward() { kernel_->forward(ForwardArgs{inputs_, outputs_, params_, workspace_, saved_}); }

std::vector<Tensor> TrainingKernel::download(const std::vector<TensorView>& views) const {
    std::vector<Tensor> tensors;
    for (const TensorView& v : views) {
        Tensor t(v.desc);
        device_->copy_to_host(t.data(), v.data, t.bytes());
        tensors.push_back(std::move(t));
    }
    return tensors;
}

std::vector<Tensor> TrainingKernel::forward(const std::vector<Tensor>& inputs, const std::vector<Tensor>& params) {
    upload(inputs, params);
    run_forward();
    device_->synchronize();
    return download(outputs_);
}

BackwardResult TrainingKernel::backward(const std::vector<Tensor>& inputs, const std::vector<Tensor>& params,
                                        const std::vector<Tensor>& grad_outputs) {
    if (!kernel_->has_backward())
        throw Error(fmt::format("the {} kernel of '{}' has no backward", label_, node_.node().op));
    upload(inputs, params);
    copy_in(*device_, grad_outputs_, grad_outputs, "output gradients");
    for (const std::vector<TensorView>* grads : {&grad_inputs_, &grad_params_})
        for (const TensorView& g : *grads) device_->fill_zero(g.data, g.desc.bytes());
    run_forward();
    const std::vector<std::byte> scribble(std::max<std::size_t>(kernel_->workspace_bytes(), 64), std::byte{0xA5});
    device_->copy_from_host(workspace_, scribble.data(), scribble.size());
    kernel_->backward(BackwardArgs{inputs_, outputs_, grad_outputs_, grad_inputs_, params_, grad_params_, workspace_, saved_});
    device_->synchronize();

    BackwardResult result{download(outputs_), download(grad_inputs_), download(grad_params_), {}};
    const std::vector<Tensor> used = download(params_);
    for (std::size_t i = 0; i < used.size(); ++i) result.params.emplace(node_.node().params[i].name, used[i]);
    return result;
}

}  // namespace weft::testing
