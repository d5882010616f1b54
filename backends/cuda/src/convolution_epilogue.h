// The part of a convolution's forward pass cuDNN's plain convolution leaves out: the bias and the
// fused ReLU, applied together in one pass over the output (cuDNN's own calls would take two).
#pragma once

#include <cstdint>

namespace weft::cuda {

class CudaDevice;

// y[n, c, :, :] = y + bias[c], then max(0, ·) when `relu`; `bias` may be null. NCHW, `plane` pixels
// per channel. On the device's stream; nothing waits.
void add_bias_and_relu(float* output, const float* bias, std::int64_t batch, std::int64_t channels,
                       std::int64_t plane, bool relu, const CudaDevice& device);

}  // namespace weft::cuda
