// run_op_forward: one inference forward straight through a kernel, in place or not.
#include <fmt/format.h>

#include "one_node.h"
#include "weft/error.h"
#include "weft/registry.h"
#include "weft/testing/device_arena.h"

namespace weft::testing {

ForwardResult run_op_forward(const PluginSet& plugins, const OpCall& call, bool in_place) {
    const Registry& registry = plugins.registry();
    const OneNode node = one_node(registry, call);
    const std::optional<int> shared = registry.op(call.op).inplace_input;
    if (in_place && !shared) throw Error(fmt::format("op '{}' declares no input it may overwrite", call.op));
    const std::unique_ptr<Device> device = registry.create_device(call.backend, {});
    const KernelConfig config = kernel_config(node, *device, /*training=*/false, in_place);
    const std::unique_ptr<Kernel> kernel = select_kernel(registry, call, config).factory.create(config);

    DeviceArena arena(*device);
    std::vector<TensorView> inputs, outputs, params;
    for (const Tensor& t : call.inputs) inputs.push_back(arena.upload(t));
    outputs = arena.zeros(node.output_descs());
    if (in_place) outputs[0].data = inputs.at(static_cast<std::size_t>(*shared)).data;
    for (const Tensor& p : node.params()) params.push_back(arena.upload(p));
    void* workspace = arena.allocate(kernel->workspace_bytes());
    kernel->forward(ForwardArgs{inputs, outputs, params, workspace, nullptr});
    device->synchronize();

    ForwardResult result;
    for (const TensorView& v : outputs) result.outputs.push_back(arena.download(v));
    for (const TensorView& v : inputs) result.inputs_after.push_back(arena.download(v));
    return result;
}

}  // namespace weft::testing
