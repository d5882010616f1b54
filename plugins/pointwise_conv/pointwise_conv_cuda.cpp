// pointwise_conv on the GPU: the backend's one cuDNN convolution with a 1x1 kernel (the geometry's
// defaults for the kernel, padding and dilation pointwise_conv does not declare), its algorithms
// chosen when the graph is compiled.
#include "weft/cuda/cuda_device.h"
#include "weft/cuda/cudnn_convolution.h"
#include "weft/plugin.h"

WEFT_PLUGIN("pointwise_conv_cuda", "0.1.0") {
    registrar.add_kernel(weft::cuda::cuda_kernel_factory<weft::cuda::CudnnConvolutionKernel>(
        "pointwise_conv", "cudnn", /*priority=*/0, weft::cuda::cudnn_convolution_declines));
}
