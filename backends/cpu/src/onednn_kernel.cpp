#include "weft/cpu/onednn_kernel.h"

namespace weft::cpu {

OnednnKernel::OnednnKernel(const KernelConfig& config)
    : device_(cpu_device(config.device)), stream_(device_.stream()) {}

dnnl::memory OnednnKernel::unbound(const TensorDesc& desc) {
    return as_dnnl_memory(TensorView{nullptr, desc}, device_.engine());
}

dnnl::memory OnednnKernel::unbound(const dnnl::memory::desc& desc) {
    return dnnl::memory(desc, device_.engine(), DNNL_MEMORY_NONE);
}

void OnednnKernel::execute(const dnnl::primitive& primitive, const ExecArgs& args,
                           std::initializer_list<Binding> bindings) {
    device_.threads_now();  // sets OpenMP's team, which oneDNN's primitives read as they run
    for (const auto& [memory, buffer] : bindings) memory->set_data_handle(const_cast<void*>(buffer));
    primitive.execute(stream_, args);
    stream_.wait();
}

}  // namespace weft::cpu
