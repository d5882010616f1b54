// pointwise_conv on the GPU: the backend's one cuDNN convolution with a 1x1 kernel (the geometry's
// defaults for the kernel, padding and dilation pointwise_conv does not declare), its algorithms
// chosen when the graph is compiled. It reads tensors in channel order, so it declines nodes with
// channel maps (pointwise_maps.h).
#include <string>

#include "pointwise_maps.h"
#include "weft/cuda/cuda_device.h"
#include "weft/cuda/cudnn_convolution.h"
#include "weft/plugin.h"

WEFT_PLUGIN("pointwise_conv_cuda", "0.1.0") {
    registrar.add_kernel(weft::cuda::cuda_kernel_factory<weft::cuda::CudnnConvolutionKernel>(
        "pointwise_conv", "cudnn", /*priority=*/0, [](const weft::KernelConfig& config) {
            if (std::string why = weft::pointwise::declines_channel_maps(config); !why.empty()) return why;
            return weft::cuda::cudnn_convolution_declines(config);
        }));
}
