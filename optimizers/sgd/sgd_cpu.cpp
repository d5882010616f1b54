// The sgd update on the CPU backend: one pass over each parameter, both cores for the large ones.
#include <cstdint>

#include "weft/plugin.h"

namespace {

class SgdCpu final : public weft::OptimizerKernel {
public:
    explicit SgdCpu(const weft::OptimizerConfig& config)
        : momentum_(static_cast<float>(config.attrs.get_real("momentum"))),
          nesterov_(config.attrs.get_bool("nesterov")) {}

    void update(const weft::ParameterUpdate& u) override {
        float* w = u.value.as<float>();
        float* v = u.state[0].as<float>();
        const float* g = u.grad.as<const float>();
        const std::int64_t n = u.value.numel();
        const float lr = u.lr, decay = u.weight_decay, momentum = momentum_;
        const bool nesterov = nesterov_;
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
        for (std::int64_t i = 0; i < n; ++i) {
            const float d = g[i] + decay * w[i];
            const float velocity = momentum * v[i] + d;
            v[i] = velocity;
            w[i] -= lr * (nesterov ? d + momentum * velocity : velocity);
        }
    }

private:
    float momentum_;
    bool nesterov_;
};

}  // namespace

WEFT_PLUGIN("optimizer_sgd_cpu", "1.0") {
    registrar.add_optimizer_kernel(weft::optimizer_kernel_factory<SgdCpu>("sgd", "cpu", "plain"));
}
