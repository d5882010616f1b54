// How an operator *runs* on one backend. A kernel is created once per node when a graph is
// compiled (it may build oneDNN primitives, choose algorithms, size a workspace) and then executed
// per batch with every buffer already allocated: nothing on the hot path allocates.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "weft/attributes.h"
#include "weft/collective.h"
#include "weft/device.h"
#include "weft/op_schema.h"
#include "weft/tensor.h"

namespace weft {

struct KernelConfig {
    std::string node_name;
    const Attributes& attrs;  // validated, defaults filled in
    std::vector<TensorDesc> inputs;
    std::vector<TensorDesc> outputs;
    std::vector<ParamSpec> params;
    Device& device;
    bool training = false;  // batch norm uses batch statistics, kernels keep what backward needs
    bool in_place = false;  // output 0 shares memory with input *inplace_input
    // Training with statistics over the global batch (--sync-bn): the processes whose batches
    // together make it. A kernel that computes statistics over the batch (batch norm) sums them
    // over this group and counts the group's images, or declines the node. Null: this node's
    // batch is the whole batch.
    Collective* batch_group = nullptr;
};

struct ForwardArgs {
    std::span<const TensorView> inputs;
    std::span<const TensorView> outputs;
    std::span<const TensorView> params;  // running statistics may be updated in training mode
    void* workspace = nullptr;           // workspace_bytes() of device memory, 64-byte aligned
    void* saved = nullptr;               // saved_bytes() of this node's own memory (training)
};

struct BackwardArgs {
    std::span<const TensorView> inputs;        // valid where the schema's BackwardNeeds says so
    std::span<const TensorView> outputs;       // likewise
    std::span<const TensorView> grad_outputs;
    std::span<const TensorView> grad_inputs;   // written (overwritten, not accumulated)
    std::span<const TensorView> params;
    std::span<const TensorView> grad_params;   // written (overwritten), one per param
    void* workspace = nullptr;
    void* saved = nullptr;                     // what this node's forward left there
};

class Kernel {
public:
    virtual ~Kernel() = default;
    // Scratch for the duration of one forward() or backward() call. The scheduler shares one
    // workspace between all nodes, so nothing may be left in it for later.
    virtual std::size_t workspace_bytes() const { return 0; }
    // Training only: memory that forward() fills and backward() reads (batch statistics, max
    // pooling's argmax). Each node gets its own, kept from its forward to its backward.
    virtual std::size_t saved_bytes() const { return 0; }
    virtual void forward(const ForwardArgs& args) = 0;
    virtual bool has_backward() const { return false; }
    virtual void backward(const BackwardArgs& args);  // default: throws "no backward"
};

struct KernelFactory {
    std::string op;       // the operator this kernel computes
    std::string backend;  // "cpu", "cuda"
    std::string name;     // shown by `weft plugins` and profiles, e.g. "onednn"
    // Highest priority first; built-in kernels use 0, faster special cases and overrides more.
    int priority = 0;
    // Empty when the kernel can run on this machine at all (a driver, a GPU, an instruction set);
    // otherwise why not. Optional: absent means always.
    std::function<std::string()> unavailable_reason;
    // Empty when the kernel computes this node (its shapes, attributes, layouts, training or
    // inference); otherwise why not, e.g. "groups of 48 channels: at most 16". The registry asks
    // the usable kernels best first, per node, and takes the first that does not decline: a
    // kernel never hands a node to another kernel itself. Optional: absent means every node.
    std::function<std::string(const KernelConfig&)> declines;
    std::function<std::unique_ptr<Kernel>(const KernelConfig&)> create;
};

// One-line registration: `registrar.add_kernel(weft::kernel_factory<MyKernel>("relu", "cpu",
// "mine"))` for a kernel class constructed from a KernelConfig; `priority` and `declines` as in
// KernelFactory.
template <class K>
KernelFactory kernel_factory(std::string op, std::string backend, std::string name, int priority = 0,
                             std::function<std::string(const KernelConfig&)> declines = {}) {
    KernelFactory factory;
    factory.op = std::move(op);
    factory.backend = std::move(backend);
    factory.name = std::move(name);
    factory.priority = priority;
    factory.declines = std::move(declines);
    factory.create = [](const KernelConfig& config) -> std::unique_ptr<Kernel> { return std::make_unique<K>(config); };
    return factory;
}

}  // namespace weft
