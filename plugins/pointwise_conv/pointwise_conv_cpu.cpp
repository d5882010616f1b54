// pointwise_conv on the CPU: the backend's one oneDNN convolution with a 1x1 kernel (the
// geometry's defaults for the kernel, padding and dilation pointwise_conv does not declare). It
// reads tensors in channel order, so it declines nodes with channel maps (pointwise_maps.h).
#include "pointwise_maps.h"
#include "weft/cpu/onednn_convolution.h"
#include "weft/plugin.h"

WEFT_PLUGIN("pointwise_conv_cpu", "0.1.0") {
    registrar.add_kernel(weft::kernel_factory<weft::cpu::ConvolutionKernel>(
        "pointwise_conv", "cpu", "onednn", /*priority=*/0, weft::pointwise::declines_channel_maps));
}
