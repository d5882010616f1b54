// Where pooling windows lie along one spatial dimension, for kernels that run on the host or the
// GPU alike: the input items of a window (padding excluded) and, for backward's gather, the
// windows that hold an input item. Window o covers input positions [o·stride − padding,
// o·stride − padding + kernel); padding < kernel and floor-mode output sizes (pool_geometry.h)
// keep a real item in every window.
#pragma once

#include <cstdint>

#include "weft/cuda/launch_geometry.h"

namespace weft::pool {

// A half-open range [first, last).
struct Span {
    std::int64_t first = 0, last = 0;
    WEFT_HOST_DEVICE std::int64_t size() const { return last - first; }
};

struct Axis {
    std::int64_t in = 1, out = 1, kernel = 1, stride = 1, padding = 0;
};

// The input positions of window `o`, clipped to the input (padding is not data).
WEFT_HOST_DEVICE inline Span window_items(const Axis& a, std::int64_t o) {
    const std::int64_t start = o * a.stride - a.padding;
    return Span{start < 0 ? 0 : start, start + a.kernel < a.in ? start + a.kernel : a.in};
}

// The windows o in [0, out) holding input position i: o·stride − padding ≤ i < o·stride −
// padding + kernel, i.e. ceil((i + padding − kernel + 1) / stride) ≤ o ≤ floor((i + padding) / stride).
WEFT_HOST_DEVICE inline Span windows_holding(const Axis& a, std::int64_t i) {
    const std::int64_t reach = i + a.padding - a.kernel + 1;
    const std::int64_t first = reach <= 0 ? 0 : (reach + a.stride - 1) / a.stride;
    const std::int64_t last = (i + a.padding) / a.stride + 1;
    return Span{first, last < a.out ? last : a.out};
}

}  // namespace weft::pool
