// Compile once, run many: kernels are created and every buffer placed when the executor is
// built; run() only copies the graph inputs in, calls each kernel, and copies the outputs out.
#include "weft/executor.h"

#include <chrono>

#include <fmt/format.h>

#include "device_buffer.h"
#include "graph_boundary.h"
#include "weft/registry.h"

namespace weft {

namespace {

using detail::DeviceBuffer;
using detail::copy_graph_inputs;
using detail::copy_graph_outputs;
using detail::make_graph_outputs;

// Everything one node needs at run time, prepared at compile time.
struct CompiledNode {
    int node = -1;
    std::unique_ptr<Kernel> kernel;
    std::string kernel_name;
    std::vector<TensorView> inputs, outputs, params;
    DeviceBuffer saved;  // only kernels compiled for training keep state (see Kernel::saved_bytes)
};

}  // namespace

struct Executor::Impl {
    Graph graph;
    std::unique_ptr<Device> device;
    BufferPlan plan;
    DeviceBuffer arena, param_storage, workspace;
    std::vector<CompiledNode> nodes;
    bool profiling = false;
    std::vector<double> node_seconds;

    TensorView value_view(int v) const {
        return TensorView{arena.bytes() + plan.values[v].offset, graph.values[v].desc};
    }
};

Executor::Executor(const Graph& graph, const Registry& registry, const WeightMap& weights,
                   const CompileOptions& options)
    : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.graph = graph;
    check_weights(s.graph, weights);
    s.device = registry.create_device(options.backend, options.device);
    s.plan = plan_buffers(s.graph, registry);
    s.arena = DeviceBuffer(*s.device, s.plan.arena_bytes);
    s.node_seconds.assign(s.graph.nodes.size(), 0.0);

    // Parameters live on the device for the executor's lifetime, packed in one allocation.
    std::size_t param_bytes = 0;
    for (const Node& n : s.graph.nodes)
        for (const ParamSpec& p : n.params) param_bytes += (p.desc.bytes() + 63) / 64 * 64;
    s.param_storage = DeviceBuffer(*s.device, param_bytes);

    std::size_t param_offset = 0, workspace_bytes = 0;
    for (int n : s.plan.order) {
        const Node& node = s.graph.nodes[n];
        CompiledNode c;
        c.node = n;
        for (int v : node.inputs) c.inputs.push_back(s.value_view(v));
        for (int v : node.outputs) c.outputs.push_back(s.value_view(v));
        for (const ParamSpec& p : node.params) {
            const Tensor& w = weights.at(node.name + "." + p.name);
            void* dst = s.param_storage.bytes() + param_offset;
            s.device->copy_from_host(dst, w.data(), w.bytes());
            c.params.push_back(TensorView{dst, p.desc});
            param_offset += (p.desc.bytes() + 63) / 64 * 64;
        }
        try {
            const RegisteredKernel& k = registry.select_kernel(node.op, options.backend, options.kernel_overrides);
            std::vector<TensorDesc> in_descs, out_descs;
            for (const auto& t : c.inputs) in_descs.push_back(t.desc);
            for (const auto& t : c.outputs) out_descs.push_back(t.desc);
            KernelConfig config{node.name, node.attrs, in_descs, out_descs, node.params, *s.device,
                                options.training, s.plan.in_place[n]};
            c.kernel = k.factory.create(config);
            if (!c.kernel) throw Error(fmt::format("kernel {} returned nothing", k.factory.name));
            c.kernel_name = fmt::format("{}:{}", k.library.stem().string(), k.factory.name);
            workspace_bytes = std::max(workspace_bytes, c.kernel->workspace_bytes());
            c.saved = DeviceBuffer(*s.device, c.kernel->saved_bytes());
        } catch (const std::exception& e) {
            throw Error(fmt::format("{}: node '{}': cannot create a {} kernel for op '{}': {}", node.loc.str(),
                                    node.name, options.backend, node.op, e.what()));
        }
        s.nodes.push_back(std::move(c));
    }
    s.plan.workspace_bytes = workspace_bytes;
    s.workspace = DeviceBuffer(*s.device, workspace_bytes);
}

Executor::~Executor() = default;

std::vector<Tensor> Executor::make_outputs() const { return make_graph_outputs(impl_->graph); }

void Executor::run(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
    Impl& s = *impl_;
    auto device_view = [&](int v) { return s.value_view(v); };
    copy_graph_inputs(s.graph, *s.device, inputs, outputs.size(), "run", device_view);
    using Clock = std::chrono::steady_clock;
    for (CompiledNode& c : s.nodes) {
        const auto start = s.profiling ? Clock::now() : Clock::time_point{};
        try {
            c.kernel->forward(ForwardArgs{c.inputs, c.outputs, c.params, s.workspace.ptr, c.saved.ptr});
        } catch (const std::exception& e) {
            const Node& node = s.graph.nodes[c.node];
            throw Error(fmt::format("{}: node '{}' (kernel {}) failed: {}", node.loc.str(), node.name,
                                    c.kernel_name, e.what()));
        }
        if (s.profiling) {
            s.device->synchronize();
            s.node_seconds[c.node] += std::chrono::duration<double>(Clock::now() - start).count();
        }
    }
    s.device->synchronize();
    copy_graph_outputs(s.graph, *s.device, outputs, device_view);
}

const BufferPlan& Executor::plan() const { return impl_->plan; }
const Graph& Executor::graph() const { return impl_->graph; }
Device& Executor::device() { return *impl_->device; }

std::string Executor::kernel_name(int node) const {
    for (const auto& c : impl_->nodes)
        if (c.node == node) return c.kernel_name;
    return {};
}

void Executor::set_profiling(bool on) { impl_->profiling = on; }
const std::vector<double>& Executor::node_seconds() const { return impl_->node_seconds; }
void Executor::reset_profile() { std::fill(impl_->node_seconds.begin(), impl_->node_seconds.end(), 0.0); }

}  // namespace weft
