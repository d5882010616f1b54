// The sgd update on the CPU backend: one pass over each parameter, both cores for the large ones.
#include <cstdint>

#include "sgd_step.h"
#include "weft/plugin.h"

namespace {

class SgdCpu final : public weft::OptimizerKernel {
public:
    explicit SgdCpu(const weft::OptimizerConfig& config) : hyperparameters_(config.attrs) {}

    void update(const weft::ParameterUpdate& u) override {
        float* w = u.value.as<float>();
        float* v = u.state[0].as<float>();
        const float* g = u.grad.as<const float>();
        const std::int64_t n = u.value.numel();
        const weft::sgd::Step step = hyperparameters_.step(u);
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
        for (std::int64_t i = 0; i < n; ++i) weft::sgd::update_one(w[i], v[i], g[i], step);
    }

private:
    weft::sgd::Hyperparameters hyperparameters_;
};

}  // namespace

WEFT_PLUGIN("optimizer_sgd_cpu", "1.0") {
    registrar.add_optimizer_kernel(weft::optimizer_kernel_factory<SgdCpu>("sgd", "cpu", "plain"));
}
