// Testing an operator plugin: run one node of it through weft's real shape inference, executor
// and kernels, check its forward against a reference kernel and its backward against central
// finite differences, with random tensors and stated tolerances. Installed with the SDK
// (`weft::testing`, docs/plugins.md, "Testing a plugin"); needs neither oneDNN nor a test
// framework: checks return a CheckResult, and weft/testing/gtest.h turns one into a GoogleTest
// assertion for those who use it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "weft/attributes.h"
#include "weft/op_schema.h"
#include "weft/tensor.h"
#include "weft/weights.h"

namespace weft {

class Registry;

namespace testing {

// ---------------------------------------------------------------------------------------------
// The plugins a test runs on

// The plugin directory of the weft this library belongs to (<prefix>/lib/weft/plugins, or the
// build tree's), wherever that prefix has moved: weft's backends and built-in operators.
std::filesystem::path weft_plugin_directory();

// The plugin libraries of some directories, loaded as `weft --plugin-path` loads them: every
// directory's backend libraries first, then the rest in the order given. A test usually loads
// weft's own plugins and the directory its plugin was built into:
//   const PluginSet plugins({weft_plugin_directory(), MY_PLUGIN_BUILD_DIR});
class PluginSet {
public:
    explicit PluginSet(const std::vector<std::filesystem::path>& directories);
    ~PluginSet();
    PluginSet(PluginSet&&) noexcept;
    PluginSet& operator=(PluginSet&&) noexcept;

    // "path: reason" for every library that was refused (docs/plugins.md, "Refusals").
    std::vector<std::string> refused() const;
    // Empty when `backend` can create a device here; otherwise why not ("no plugin registers
    // the backend 'cuda'", "no CUDA driver").
    std::string backend_unavailable_reason(const std::string& backend) const;
    // The host's registry behind this set, for code built inside weft's own tree, which has the
    // host headers (weft/registry.h is not part of the SDK).
    const Registry& registry() const;

private:
    std::unique_ptr<Registry> registry_;
};

// ---------------------------------------------------------------------------------------------
// Running one operator

// One node of one operator and what it runs on.
struct OpCall {
    std::string op;
    Attributes attrs;            // as a graph file gives them; validated and defaulted by the schema
    std::vector<Tensor> inputs;  // host tensors
    // By the parameter's own name ("weight", "bias"); the missing ones are initialised from
    // `seed` as `weft init` would.
    WeightMap params;
    std::string backend = "cpu";
    // The kernel to force, as `weft --kernel op=WHICH` names it (kernel name or library stem);
    // empty for the one weft would choose. A forced kernel that declines the node is an error,
    // never a silent run of another kernel.
    std::string kernel;
    std::uint64_t seed = 1;
};

// The signature the op's schema gives (outputs, parameters, multiply-adds); throws weft::Error.
NodeSignature infer_op(const PluginSet& plugins, const std::string& op, const Attributes& attrs,
                       const std::vector<TensorDesc>& inputs);

// The kernel weft chooses for the call's node (or the forced one), as "name (library file)".
std::string chosen_kernel(const PluginSet& plugins, const OpCall& call);

// One inference forward pass through the executor (shape inference, buffer plan, the chosen
// kernel on the backend's device); returns the outputs on the host.
std::vector<Tensor> run_op(const PluginSet& plugins, const OpCall& call);

// One training-mode forward and backward pass straight through the kernel, on the backend's
// device memory, with dL/d(outputs) = `grad_outputs`.
struct BackwardResult {
    std::vector<Tensor> outputs;
    std::vector<Tensor> grad_inputs;
    std::vector<Tensor> grad_params;  // one per parameter, in the schema's order
    WeightMap params;  // the parameters used (after the forward pass, e.g. running statistics)
};
BackwardResult run_op_backward(const PluginSet& plugins, const OpCall& call, const std::vector<Tensor>& grad_outputs);

// As run_op_backward, with the batch cut into `shards` equal parts (axis 0 of every input and
// output gradient), each part run by a kernel of its own on a thread of its own, the kernels
// computing batch statistics together through an in-process weft::Collective
// (KernelConfig::batch_group) — what data-parallel ranks with `--sync-bn` do. A kernel that
// handles the group gives what run_op_backward gives on the whole batch: `outputs` and
// `grad_inputs` are the shards' put back together, `grad_params` the sum of the shards' own
// (data-parallel training averages them), `params` shard 0's (every shard's running statistics
// must agree, or weft::Error). Every shard's kernel must call Collective::sum equally often.
BackwardResult run_op_backward_sharded(const PluginSet& plugins, const OpCall& call,
                                       const std::vector<Tensor>& grad_outputs, int shards);

// One inference-mode forward pass straight through the kernel (no executor), on the backend's
// device memory; with `in_place`, output 0 is written over the input the schema lets it
// overwrite (OpSchema::inplace_input), as the scheduler arranges when that input dies at the node.
// Returns the outputs and the inputs as they are afterwards (an out-of-place kernel must leave
// them alone).
struct ForwardResult {
    std::vector<Tensor> outputs;
    std::vector<Tensor> inputs_after;
};
ForwardResult run_op_forward(const PluginSet& plugins, const OpCall& call, bool in_place);

// ---------------------------------------------------------------------------------------------
// Checks

// The outcome of a check: passed, or one line saying where it failed and by how much.
struct CheckResult {
    std::string failure;  // empty when the check passed
    bool passed() const { return failure.empty(); }
    explicit operator bool() const { return passed(); }
};

// |actual − expected| <= atol + rtol·|expected|, element by element.
struct Tolerance {
    double rtol = 1e-4;
    double atol = 1e-5;
};

// Same shape, and every f32 element within the tolerance; the failure names the first element
// outside it, both values and the tolerance.
CheckResult compare(const Tensor& actual, const Tensor& expected, Tolerance tolerance = {});

// The call's kernel (call.kernel, or weft's choice) against `reference_kernel` forced on the
// same inputs and parameters: every output compared. Fails, rather than passing vacuously, when
// both are the same kernel.
CheckResult check_against_reference(const PluginSet& plugins, const OpCall& call, const std::string& reference_kernel,
                                    Tolerance tolerance = {});

struct GradientCheck {
    float step = 1e-2f;                 // each element moves by ±step
    Tolerance tolerance{1e-2, 1e-3};    // f32 forward passes differenced: loose by nature
    std::uint64_t seed = 1;             // the loss's random weights r
};

// The call's kernel's backward against central differences of the scalar loss L = Σ_k Σ_i y_k·r_k
// (random r_k, so dL/dy_k = r_k), for every f32 input and every learnable parameter. Each loss
// evaluation is a fresh training-mode forward of the same kernel, so whatever the forward derives
// from its inputs (batch statistics) is differentiated too. Keep inputs away from kinks (ReLU's
// 0) by more than `step`.
CheckResult check_gradients(const PluginSet& plugins, const OpCall& call, const GradientCheck& check = {});

// ---------------------------------------------------------------------------------------------
// Tensors

// An f32 row-major description of `shape`.
TensorDesc f32(Shape shape);

// Uniform values in [lo, hi), the same on every platform for a seed.
Tensor random_tensor(const Shape& shape, std::uint64_t seed, float lo = -1.f, float hi = 1.f);

// An f32 tensor of `shape` holding `values` (row-major); throws when the counts differ.
Tensor tensor_from(const Shape& shape, const std::vector<float>& values);

// A tensor with storage of its own (Tensor copies share theirs).
Tensor deep_copy(const Tensor& tensor);

// Σ_k Σ_i outputs[k][i]·weights[k][i] in double: the loss L whose gradient dL/dy_k is weights[k].
double weighted_sum(const std::vector<Tensor>& outputs, const std::vector<Tensor>& weights);

// Central differences of a scalar loss with respect to every element of `x` (a handle sharing the
// storage the loss reads): each element is moved by ±step (in place, then restored) and `loss`
// rerun. The loss should accumulate in double (weighted_sum does).
Tensor numeric_gradient(Tensor x, const std::function<double()>& loss, float step = 1e-2f);

}  // namespace testing
}  // namespace weft
