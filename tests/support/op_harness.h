// Test support for weft's own tests: the plugins of this build tree and the testing library
// (weft/testing/op_check.h, the one plugin authors get installed) called on them, under the
// names the tests use. GoogleTest assertions come from weft/testing/gtest.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "weft/graph.h"
#include "weft/kernel.h"
#include "weft/registry.h"
#include "weft/tensor.h"
#include "weft/testing/device_arena.h"
#include "weft/testing/gtest.h"
#include "weft/testing/op_check.h"
#include "weft/weights.h"

namespace weft::testing {

// Every plugin of this build tree (loaded once per test binary), and its registry.
const PluginSet& build_plugins();
const Registry& build_registry();

// run_op of the testing library on this build's plugins. `params` are keyed by the parameter's
// own name ("weight", "bias", "mean", ...); missing ones are initialised from `seed`.
std::vector<Tensor> run_op(const std::string& op, const Attributes& attrs,
                           const std::vector<Tensor>& inputs, const WeightMap& params = {},
                           const std::string& backend = "cpu", std::uint64_t seed = 1);

// As run_op on the cpu backend, but with `kernel` (a kernel name or library stem, as in
// `weft --kernel op=kernel`) forced for `op` instead of the registry's choice.
std::vector<Tensor> run_op_with_kernel(const std::string& kernel, const std::string& op,
                                       const Attributes& attrs, const std::vector<Tensor>& inputs,
                                       const WeightMap& params = {}, std::uint64_t seed = 1,
                                       const std::string& backend = "cpu");

// run_op_backward of the testing library on this build's plugins: one training-mode forward and
// backward pass straight through the kernel, on `backend`'s device memory.
BackwardResult run_op_backward(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                               const std::vector<Tensor>& grad_outputs, const WeightMap& params = {},
                               const std::string& kernel = {}, std::uint64_t seed = 1,
                               const std::string& backend = "cpu");

// run_op_backward_sharded of the testing library on this build's plugins: the batch cut into
// `shards` kernels that compute batch statistics together (as ranks with --sync-bn do).
BackwardResult run_op_backward_sharded(const std::string& op, const Attributes& attrs,
                                       const std::vector<Tensor>& inputs,
                                       const std::vector<Tensor>& grad_outputs, int shards,
                                       const WeightMap& params = {}, const std::string& kernel = {},
                                       const std::string& backend = "cpu");

// run_op_forward of the testing library on this build's plugins: one inference forward pass
// straight through the kernel, in place over the input the schema may overwrite or not.
ForwardResult run_op_forward(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                             bool in_place, const std::string& backend = "cpu", const WeightMap& params = {},
                             std::uint64_t seed = 1);

// Why tests of the cuda backend cannot run here ("no plugin registers the backend 'cuda'", "no
// CUDA driver", "no CUDA device"), or empty. WEFT_SKIP_WITHOUT_CUDA() skips a test with that reason.
std::string cuda_unavailable_reason();
#define WEFT_SKIP_WITHOUT_CUDA()                                                                   \
    do {                                                                                           \
        if (const std::string why = ::weft::testing::cuda_unavailable_reason(); !why.empty())      \
            GTEST_SKIP() << "no GPU here: " << why;                                                \
    } while (false)

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

}  // namespace weft::testing
