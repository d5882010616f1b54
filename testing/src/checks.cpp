// The checks: closeness of two tensors, a kernel against a reference kernel, and a kernel's
// backward against central differences.
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "training_kernel.h"
#include "weft/error.h"
#include "weft/testing/op_check.h"

namespace weft::testing {

CheckResult compare(const Tensor& actual, const Tensor& expected, Tolerance tolerance) {
    if (actual.shape() != expected.shape())
        return {fmt::format("shape {} != expected {}", shape_str(actual.shape()), shape_str(expected.shape()))};
    if (actual.desc().dtype != DType::f32 || expected.desc().dtype != DType::f32)
        return {fmt::format("compares f32 tensors, got {} and {}", actual.desc().str(), expected.desc().str())};
    const float* a = actual.as<float>();
    const float* e = expected.as<float>();
    for (std::int64_t i = 0; i < actual.numel(); ++i) {
        const double diff = std::fabs(double(a[i]) - double(e[i]));
        const double allowed = tolerance.atol + tolerance.rtol * std::fabs(double(e[i]));
        if (!(diff <= allowed))  // NaN fails too
            return {fmt::format("element {} of {}: {} != expected {} (|diff| {:.3g} > atol {:g} + rtol {:g}·|expected|)", i,
                                shape_str(actual.shape()), a[i], e[i], diff, tolerance.atol, tolerance.rtol)};
    }
    return {};
}

CheckResult check_against_reference(const PluginSet& plugins, const OpCall& call, const std::string& reference_kernel,
                                    Tolerance tolerance) {
    OpCall reference = call;
    reference.kernel = reference_kernel;
    const std::string tested = chosen_kernel(plugins, call), expected = chosen_kernel(plugins, reference);
    if (tested == expected) return {fmt::format("the kernel under test is the reference {} itself", expected)};
    const std::vector<Tensor> got = run_op(plugins, call), want = run_op(plugins, reference);
    for (std::size_t k = 0; k < got.size(); ++k)
        if (const CheckResult r = compare(got[k], want[k], tolerance); !r)
            return {fmt::format("{} against the reference {}: output {}: {}", tested, expected, k, r.failure)};
    return {};
}

namespace {

std::vector<Tensor> deep_copies(const std::vector<Tensor>& tensors) {
    std::vector<Tensor> copies;
    for (const Tensor& t : tensors) copies.push_back(deep_copy(t));
    return copies;
}

// r_k, the loss's weights: one random tensor per output.
std::vector<Tensor> loss_weights(const OneNode& n, std::uint64_t seed) {
    std::vector<Tensor> weights;
    for (const TensorDesc& d : n.output_descs()) {
        if (d.dtype != DType::f32) throw Error(fmt::format("check_gradients: output {} is not f32", d.str()));
        weights.push_back(random_tensor(d.shape, seed + weights.size()));
    }
    return weights;
}

}  // namespace

CheckResult check_gradients(const PluginSet& plugins, const OpCall& call, const GradientCheck& check) {
    TrainingKernel kernel(plugins.registry(), call);
    const OneNode& n = kernel.node();
    // Copies: the differences move elements of these, never the caller's tensors.
    std::vector<Tensor> inputs = deep_copies(call.inputs), params = deep_copies(n.params());
    const std::vector<Tensor> r = loss_weights(n, check.seed);
    const BackwardResult analytic = kernel.backward(inputs, params, r);
    const auto loss = [&] { return weighted_sum(kernel.forward(inputs, params), r); };

    std::vector<std::string> failures;
    const auto differentiate = [&](const std::string& what, Tensor& x, const Tensor& computed) {
        const Tensor numeric = numeric_gradient(x, loss, check.step);
        if (const CheckResult c = compare(computed, numeric, check.tolerance); !c)
            failures.push_back(fmt::format("dL/d({}) {}", what, c.failure));
    };
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].desc().dtype == DType::f32)  // integer inputs (class labels) have no gradient
            differentiate(fmt::format("input {}", i), inputs[i], analytic.grad_inputs[i]);
    for (std::size_t p = 0; p < params.size(); ++p)
        if (n.node().params[p].learnable) differentiate(n.node().params[p].name, params[p], analytic.grad_params[p]);
    if (failures.empty()) return {};
    return {fmt::format("the backward of {} differs from central differences (step {:g}): {}", kernel.label(),
                        check.step, fmt::join(failures, "; "))};
}

}  // namespace weft::testing
