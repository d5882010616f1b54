// One node's kernel created for training on the call's backend, with device memory for every
// buffer of a forward and a backward pass, run on host tensors: each call uploads, runs and
// downloads, so a gradient check reruns the same kernel with moved inputs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "one_node.h"
#include "weft/device.h"
#include "weft/kernel.h"
#include "weft/testing/device_arena.h"

namespace weft::testing {

class TrainingKernel {
public:
    // `batch_group`: the processes whose batches this kernel's statistics are over (null: its own).
    TrainingKernel(const Registry& registry, const OpCall& call, Collective* batch_group = nullptr);
    ~TrainingKernel();
    TrainingKernel(const TrainingKernel&) = delete;
    TrainingKernel& operator=(const TrainingKernel&) = delete;

    const OneNode& node() const { return node_; }
    const std::string& label() const { return label_; }  // "name (library file)"

    // A training-mode forward pass; `params` in the schema's order.
    std::vector<Tensor> forward(const std::vector<Tensor>& inputs, const std::vector<Tensor>& params);
    // A forward pass, then the backward pass with dL/d(outputs) = `grad_outputs`.
    BackwardResult backward(const std::vector<Tensor>& inputs, const std::vector<Tensor>& params,
                            const std::vector<Tensor>& grad_outputs);

private:
    void upload(const std::vector<Tensor>& inputs, const std::vector<Tensor>& params);
    void run_forward();
    std::vector<Tensor> download(const std::vector<TensorView>& views) const;

    OneNode node_;
    std::unique_ptr<Device> device_;
    std::unique_ptr<Kernel> kernel_;
    std::string label_;
    std::unique_ptr<DeviceArena> arena_;  // released before the device
    std::vector<TensorView> inputs_, outputs_, params_, grad_outputs_, grad_inputs_, grad_params_;
    void* workspace_ = nullptr;
    void* saved_ = nullptr;
};

}  // namespace weft::testing
