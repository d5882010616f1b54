// Kernel choice and creation per node, and the parameters' device storage, for both executors.
#include "node_compiler.h"

#include <fmt/format.h>

#include "arena_allocator.h"
#include "exception_text.h"
#include "numerics_check.h"

namespace weft::detail {

void create_kernel(CompiledNode& compiled, const Graph& graph, const Registry& registry,
                   const CompileOptions& options, Device& device, bool training, bool in_place) {
    const Node& node = graph.nodes[compiled.node];
    try {
        std::vector<TensorDesc> inputs, outputs;
        for (int v : node.inputs) inputs.push_back(graph.values[v].desc);
        for (int v : node.outputs) outputs.push_back(graph.values[v].desc);
        const KernelConfig config{node.name,   node.attrs, inputs,   outputs,
                                  node.params, device,     training, in_place,
                                  training ? options.batch_group : nullptr};
        const RegisteredKernel& k = registry.select_kernel(node.op, options.backend, options.kernel_overrides, &config);
        compiled.kernel_name = fmt::format("{}:{}", k.library.stem().string(), k.factory.name);
        compiled.crash_note = fmt::format("node '{}' (op '{}', kernel {}, library {}) at {}", node.name, node.op,
                                          k.factory.name, k.library.string(), node.loc.str());
        {
            const RunningKernelMark mark(compiled.crash_note.c_str(), "kernel creation");
            compiled.kernel = k.factory.create(config);
        }
        if (!compiled.kernel) throw Error(fmt::format("kernel {} returned nothing", k.factory.name));
    } catch (...) {
        throw Error(fmt::format("{}: node '{}': cannot create a {} {}kernel for op '{}': {}", node.loc.str(), node.name,
                                options.backend, training ? "training " : "", node.op,
                                current_exception_text()));
    }
}

void run_forward(const Graph& graph, std::vector<CompiledNode>& nodes, Device& device, void* workspace,
                 std::vector<double>* seconds, NumericsCheck* numerics) {
    for (CompiledNode& c : nodes) {
        timed(device, seconds, c.node, [&] {
            run_node(graph, c, "forward",
                     [&] { c.kernel->forward(ForwardArgs{c.inputs, c.outputs, c.params, workspace, c.saved}); });
        });
        if (numerics) numerics->check_outputs(graph, c, device);
    }
}

std::vector<std::string> kernel_names_by_node(const std::vector<CompiledNode>& compiled, std::size_t node_count) {
    std::vector<std::string> names(node_count);
    for (const CompiledNode& c : compiled) names.at(static_cast<std::size_t>(c.node)) = c.kernel_name;
    return names;
}

ParameterStorage allocate_parameters(const Graph& graph, Device& device) {
    std::size_t bytes = 0;
    for (const Node& n : graph.nodes)
        for (const ParamSpec& p : n.params) bytes = checked_add_bytes(bytes, align_up(p.desc.bytes()), "the parameters");
    ParameterStorage storage;
    storage.buffer = DeviceBuffer(device, bytes);
    std::size_t offset = 0;
    storage.views.resize(graph.nodes.size());
    for (std::size_t n = 0; n < graph.nodes.size(); ++n)
        for (const ParamSpec& p : graph.nodes[n].params) {
            storage.views[n].push_back(TensorView{storage.buffer.bytes() + offset, p.desc});
            offset += align_up(p.desc.bytes());
        }
    return storage;
}

void upload_parameters(const ParameterStorage& storage, const Graph& graph, const WeightMap& weights, Device& device) {
    for (std::size_t n = 0; n < graph.nodes.size(); ++n)
        for (std::size_t p = 0; p < graph.nodes[n].params.size(); ++p) {
            const Tensor& w = weights.at(graph.nodes[n].name + "." + graph.nodes[n].params[p].name);
            device.copy_from_host(storage.views[n][p].data, w.data(), w.bytes());
        }
}

}  // namespace weft::detail
