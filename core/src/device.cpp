// The host implementation of Device::accumulate (see device.h): any backend whose memory is host
// memory inherits it; GPU backends override it.
#include "weft/device.h"

namespace weft {

void Device::accumulate(float* dst, const float* src, std::int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
    for (std::int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace weft
