// group_conv on the GPU: the backend's one cuDNN convolution (weft/cuda/cudnn_convolution.h), its
// algorithms chosen when the graph is compiled. It takes every node but training ones with
// fused_relu; the small-groups kernel (priority 10) takes IGC's tiny groups first.
#include "weft/cuda/cuda_device.h"
#include "weft/cuda/cudnn_convolution.h"
#include "weft/plugin.h"

WEFT_PLUGIN("group_conv_cuda", "0.1.0") {
    registrar.add_kernel(weft::cuda::cuda_kernel_factory<weft::cuda::CudnnConvolutionKernel>(
        "group_conv", "cudnn", /*priority=*/0, weft::cuda::cudnn_convolution_declines));
}
