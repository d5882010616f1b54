// Test support: the plugins of this build, a one-node graph runner that goes through the real
// shape inference, buffer plan and executor, random tensors, and closeness checks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "weft/graph.h"
#include "weft/kernel.h"
#include "weft/registry.h"
#include "weft/tensor.h"
#include "weft/weights.h"

namespace weft::testing {

// The registry with every plugin of this build tree loaded (loaded once per test binary).
const Registry& build_registry();

// Runs one operator on host tensors. `params` are keyed by the parameter's own name ("weight",
// "bias", "mean", ...); missing ones are initialised from `seed`. Returns the outputs.
std::vector<Tensor> run_op(const std::string& op, const Attributes& attrs,
                           const std::vector<Tensor>& inputs, const WeightMap& params = {},
                           const std::string& backend = "cpu", std::uint64_t seed = 1);

// As run_op, but with `kernel` (a kernel name or library stem, as in `weft --kernel op=kernel`)
// forced for `op` instead of the registry's choice; an error if that kernel declines the node.
std::vector<Tensor> run_op_with_kernel(const std::string& kernel, const std::string& op,
                                       const Attributes& attrs, const std::vector<Tensor>& inputs,
                                       const WeightMap& params = {}, std::uint64_t seed = 1,
                                       const std::string& backend = "cpu");

// Device memory for the length of one test call, freed whatever happens: tensors uploaded from
// the host, zeroed ones, and raw blocks (at least 64 bytes, so a kernel may be handed a pointer
// even when it asks for nothing).
class DeviceArena {
public:
    explicit DeviceArena(Device& device) : device_(device) {}
    ~DeviceArena() {
        for (void* p : blocks_) device_.deallocate(p);
    }
    DeviceArena(const DeviceArena&) = delete;
    DeviceArena& operator=(const DeviceArena&) = delete;

    TensorView zeros(const TensorDesc& desc) {
        void* p = allocate(desc.bytes());
        device_.fill_zero(p, desc.bytes());
        return TensorView{p, desc};
    }
    TensorView upload(const Tensor& t) {
        void* p = allocate(t.bytes());
        device_.copy_from_host(p, t.data(), t.bytes());
        return TensorView{p, t.desc()};
    }
    void* allocate(std::size_t bytes) {
        blocks_.push_back(device_.allocate(std::max<std::size_t>(bytes, 64)));
        return blocks_.back();
    }
    Tensor download(const TensorView& v) {
        Tensor t(v.desc);
        device_.copy_to_host(t.data(), v.data, t.bytes());
        return t;
    }

private:
    Device& device_;
    std::vector<void*> blocks_;
};

// One training-mode forward and backward pass of one operator, straight through its kernel (the
// gradient checks of every operator use it), on `backend`'s device memory. `grad_outputs` are the
// incoming gradients dL/dy; the result holds the forward outputs, dL/dx per input and dL/dp per
// parameter (params in the schema's order; missing ones are initialised from `seed`).
struct BackwardResult {
    std::vector<Tensor> outputs;
    std::vector<Tensor> grad_inputs;
    std::vector<Tensor> grad_params;
    WeightMap params;  // the parameters used (after the forward pass, e.g. running statistics)
};
BackwardResult run_op_backward(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                               const std::vector<Tensor>& grad_outputs, const WeightMap& params = {},
                               const std::string& kernel = {}, std::uint64_t seed = 1,
                               const std::string& backend = "cpu");

// One inference-mode forward pass of one operator straight through its kernel, on `backend`'s
// device memory, with output 0 written over input `inplace_input` when `in_place` (as the
// scheduler arranges when that input dies at the node) or into a buffer of its own. Returns the
// outputs and the inputs as they are afterwards (an out-of-place kernel must leave them alone).
struct ForwardResult {
    std::vector<Tensor> outputs;
    std::vector<Tensor> inputs_after;
};
ForwardResult run_op_forward(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                             bool in_place, const std::string& backend = "cpu", const WeightMap& params = {},
                             std::uint64_t seed = 1);

// Why tests of the cuda backend cannot run here ("the cuda backend is not built here", "no CUDA
// driver", "no CUDA device"), or empty. WEFT_SKIP_WITHOUT_CUDA() skips a test with that reason.
std::string cuda_unavailable_reason();
#define WEFT_SKIP_WITHOUT_CUDA()                                                                   \
    do {                                                                                           \
        if (const std::string why = ::weft::testing::cuda_unavailable_reason(); !why.empty())      \
            GTEST_SKIP() << "no GPU here: " << why;                                                \
    } while (false)

// Central differences of a scalar loss with respect to every element of `x` (a handle sharing the
// storage the loss reads): each element is moved by ±step (in place, then restored) and `loss`
// rerun, which recomputes whatever the forward derives from `x` (batch statistics included).
// The loss should accumulate in double (weighted_sum does).
Tensor numeric_gradient(Tensor x, const std::function<double()>& loss, float step = 1e-2f);

// Σ_k Σ_i outputs[k][i]·weights[k][i] in double: the loss L whose gradient dL/dy_k is weights[k].
double weighted_sum(const std::vector<Tensor>& outputs, const std::vector<Tensor>& weights);

// The NodeSignature shape inference gives for one op (outputs, params, macs); throws weft::Error.
NodeSignature infer_op(const std::string& op, const Attributes& attrs,
                       const std::vector<TensorDesc>& inputs);

// One node of `op` as a kernel sees it: validated attributes (defaults filled in), inferred output
// shapes and parameters; config() is what a kernel is created, or asked whether it declines, with.
struct OpNode {
    Attributes attrs;
    std::vector<TensorDesc> inputs, outputs;
    std::vector<ParamSpec> params;

    KernelConfig config(Device& device, bool training) const {
        return KernelConfig{"node", attrs, inputs, outputs, params, device, training, false};
    }
};
OpNode op_node(const std::string& op, const Attributes& attrs, const std::vector<TensorDesc>& inputs);

// An f32 row-major description of `shape`.
TensorDesc f32(Shape shape);

// Succeeds when `fn` throws a weft::Error whose message contains `fragment`.
::testing::AssertionResult throws_error_containing(const std::function<void()>& fn, const std::string& fragment);

Tensor random_tensor(const Shape& shape, std::uint64_t seed, float lo = -1.f, float hi = 1.f);
Tensor tensor_from(const Shape& shape, const std::vector<float>& values);

// Fails the test (with the first offending index) unless |a-b| <= atol + rtol*|b| everywhere.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                     double rtol = 1e-4, double atol = 1e-5);

}  // namespace weft::testing
