// The shared base of CPU kernels that run oneDNN primitives (relu, softmax, add, pool, batch
// norm, fc): the device's engine and stream, memory objects made once without buffers, and one
// call that points them at a batch's tensors, executes a primitive and waits for it. oneDNN's
// "describe once, run many times": primitives are built in the kernel's constructor, when the
// graph is compiled, and nothing is allocated per batch.
#pragma once

#include <initializer_list>
#include <unordered_map>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

#include "weft/cpu/cpu_device.h"
#include "weft/kernel.h"

namespace weft::cpu {

class OnednnKernel : public Kernel {
protected:
    using ExecArgs = std::unordered_map<int, dnnl::memory>;
    // A memory and the buffer it reads or writes in this call.
    using Binding = std::pair<dnnl::memory*, const void*>;

    explicit OnednnKernel(const KernelConfig& config);

    dnnl::engine& engine() { return device_.engine(); }
    int threads() const { return device_.threads(); }

    // A plain (row-major) memory object for a tensor of `desc`, with no buffer yet.
    dnnl::memory unbound(const TensorDesc& desc);
    // The same for a layout oneDNN chose (a workspace, a gradient like another memory).
    dnnl::memory unbound(const dnnl::memory::desc& desc);

    // Binds each memory to its buffer, runs `primitive` with `args` (made once, at compile time)
    // and waits for it. The const_cast of a binding only undoes the const of read-only inputs:
    // oneDNN memory has no read-only handle, and primitives only read their sources.
    void execute(const dnnl::primitive& primitive, const ExecArgs& args, std::initializer_list<Binding> bindings);

private:
    CpuDevice& device_;
    dnnl::stream stream_;
};

}  // namespace weft::cpu
