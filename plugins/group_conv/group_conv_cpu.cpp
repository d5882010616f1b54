// group_conv on the CPU: the backend's one oneDNN convolution, built when the graph is compiled.
// It takes every node; the small-groups kernel (priority 10) takes IGC's tiny groups first.
#include "weft/cpu/onednn_convolution.h"
#include "weft/plugin.h"

WEFT_PLUGIN("group_conv_cpu", "0.1.0") {
    registrar.add_kernel(weft::kernel_factory<weft::cpu::ConvolutionKernel>("group_conv", "cpu", "onednn"));
}
