// Optimisers as plugins. What an optimiser *is* (its hyperparameters and the state it keeps per
// parameter) is an OptimizerSchema; how its update runs on one backend is an OptimizerKernel
// from a factory, exactly as operators have schemas and kernels. So a new optimiser is a new
// plugin library and never a change to Device or to any backend.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "weft/attributes.h"
#include "weft/device.h"
#include "weft/tensor.h"

namespace weft {

struct OptimizerSchema {
    std::string name;  // "sgd"
    std::string doc;
    // Hyperparameters other than the learning rate and weight decay, which every optimiser takes
    // per step and per parameter (momentum, nesterov); validated like an op's attributes.
    std::vector<AttrSpec> attrs;
    // Per-parameter state tensors, each of the parameter's shape and f32, zero at first, kept in
    // checkpoints as "<state>/<parameter>" (sgd: {"momentum"}).
    std::vector<std::string> state;
};

// One parameter's update, all on the device.
struct ParameterUpdate {
    TensorView value;                   // updated in place
    TensorView grad;                    // dL/dvalue of the last step
    std::span<const TensorView> state;  // the schema's state tensors, in its order
    float lr = 0.f;
    float weight_decay = 0.f;  // already 0 for parameters excluded from decay
};

class OptimizerKernel {
public:
    virtual ~OptimizerKernel() = default;
    // Queues the update on the device (it may return before it is done, like a kernel's forward).
    virtual void update(const ParameterUpdate& update) = 0;
};

struct OptimizerConfig {
    const Attributes& attrs;  // validated against the schema, defaults filled in
    Device& device;
};

struct OptimizerKernelFactory {
    std::string optimizer;  // the schema this kernel updates for
    std::string backend;    // "cpu", "cuda"
    std::string name;       // shown by `weft plugins`
    std::function<std::unique_ptr<OptimizerKernel>(const OptimizerConfig&)> create;
};

// One-line registration, as kernel_factory is for operators:
// `registrar.add_optimizer_kernel(weft::optimizer_kernel_factory<SgdCpu>("sgd", "cpu", "plain"))` for
// an OptimizerKernel class constructed from an OptimizerConfig.
template <class K>
OptimizerKernelFactory optimizer_kernel_factory(std::string optimizer, std::string backend, std::string name) {
    OptimizerKernelFactory factory;
    factory.optimizer = std::move(optimizer);
    factory.backend = std::move(backend);
    factory.name = std::move(name);
    factory.create = [](const OptimizerConfig& config) -> std::unique_ptr<OptimizerKernel> {
        return std::make_unique<K>(config);
    };
    return factory;
}

}  // namespace weft
