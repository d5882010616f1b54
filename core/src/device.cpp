// Host implementations of the training arithmetic every backend must offer (see device.h): any
// backend whose memory is host memory inherits them; GPU backends override them.
#include "weft/device.h"

namespace weft {

void Device::accumulate(float* dst, const float* src, std::int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
    for (std::int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

void Device::sgd_update(float* weight, float* velocity, const float* grad, std::int64_t n,
                        const SgdHyperparameters& h) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
    for (std::int64_t i = 0; i < n; ++i) {
        const float d = grad[i] + h.weight_decay * weight[i];
        const float v = h.momentum * velocity[i] + d;
        velocity[i] = v;
        weight[i] -= h.lr * (h.nesterov ? d + h.momentum * v : v);
    }
}

}  // namespace weft
