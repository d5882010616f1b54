// Compile once, run many: kernels are created and every buffer placed when the executor is
// built; run() only copies the graph inputs in, calls each kernel, and copies the outputs out.
#include "weft/executor.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "graph_boundary.h"
#include "lane_pool.h"
#include "node_compiler.h"
#include "numerics_check.h"
#include "weft/registry.h"

namespace weft {

using detail::CompiledNode;
using detail::DeviceBuffer;
using detail::copy_graph_inputs;
using detail::copy_graph_outputs;
using detail::make_graph_outputs;

namespace {

// The graph's inputs, then its outputs: the values that carry the batch across the boundary.
std::vector<int> boundary_values(const Graph& graph) {
    std::vector<int> values = graph.inputs;
    values.insert(values.end(), graph.outputs.begin(), graph.outputs.end());
    return values;
}

// Why `graph` (shape-inferred for its batch) cannot run as slices of `slice` samples; "" when it
// can. Every node must declare independent samples, and every graph input and output must carry
// the batch as dimension 0, or a slice would not be a part of the batch.
std::string slicing_refusal(const Graph& graph, const Registry& registry, std::int64_t slice) {
    const std::int64_t batch = graph.batch();
    if (batch <= slice) return fmt::format("the batch ({}) is not larger than a slice ({})", batch, slice);
    for (const Node& node : graph.nodes) {
        const OpSchema& schema = registry.op(node.op);
        if (!schema.traits.independent_samples || !schema.traits.independent_samples(node.attrs))
            return fmt::format("node '{}': op '{}' does not declare independent samples", node.name, node.op);
    }
    for (int v : boundary_values(graph)) {
        const Value& value = graph.values[v];
        if (value.desc.shape.empty() || value.desc.shape[0] != batch)
            return fmt::format("value '{}' ({}) does not have the batch as dimension 0", value.name,
                               value.desc.str());
    }
    return "";
}

// The graph at a batch of `samples`, shape-inferred again; its inputs and outputs must then be
// exactly a slice of the whole batch's, sample for sample.
std::optional<Graph> graph_for_slice(const Graph& graph, const Registry& registry, std::int64_t samples) {
    Graph sliced = graph;
    sliced.set_batch(samples);
    try {
        infer_shapes(sliced, registry);
    } catch (const Error&) {  // a shape that holds only at the whole batch: run it whole
        return std::nullopt;
    }
    for (int v : boundary_values(graph)) {
        const TensorDesc& whole = graph.values[v].desc;
        const TensorDesc& part = sliced.values[v].desc;
        if (part.shape.empty() || part.shape[0] != samples ||
            part.bytes() * static_cast<std::size_t>(whole.shape[0]) != whole.bytes() * static_cast<std::size_t>(samples))
            return std::nullopt;
    }
    return sliced;
}

}  // namespace

struct Executor::Impl {
    Graph graph;
    std::unique_ptr<Device> device;
    BufferPlan plan;
    DeviceBuffer arena, workspace;
    detail::ParameterStorage params;
    std::vector<CompiledNode> nodes;
    std::vector<std::string> kernel_names;  // by node index
    std::vector<DeviceBuffer> saved;  // per compiled node; empty for inference kernels
    bool profiling = false;
    std::vector<double> node_seconds;
    std::optional<detail::NumericsCheck> numerics;  // with CompileOptions::check_numerics

    // Sample-parallel inference (CompileOptions::samples_per_slice): every lane a whole executor
    // compiled for one slice on a one-thread device, built and run on its own thread of `pool`;
    // `tail` runs the batch's last, shorter slice when the batch is not a multiple of a slice.
    std::vector<std::unique_ptr<Executor>> lanes;
    std::unique_ptr<Executor> tail;
    std::unique_ptr<detail::LanePool> pool;
    std::int64_t slice = 0;
    std::string whole_batch_reason;

    TensorView value_view(int v) const {
        return TensorView{arena.bytes() + plan.values[v].offset, graph.values[v].desc};
    }

    void compile_whole_batch(const Registry& registry, const WeightMap& weights, const CompileOptions& options);
    // Builds the lanes; returns false, with the reason kept, when this graph cannot run as slices.
    bool compile_lanes(const Registry& registry, const WeightMap& weights, const CompileOptions& options);
    void run_slices(std::span<const Tensor> inputs, std::span<Tensor> outputs);
    // Samples [first, first + count) of the batch through `lane`, which was compiled for `count`.
    void run_slice(Executor& lane, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                   std::int64_t first, std::int64_t count);
};

Executor::Executor(const Graph& graph, const Registry& registry, const WeightMap& weights,
                   const CompileOptions& options)
    : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.graph = graph;
    check_weights(s.graph, weights);
    s.device = registry.create_device(options.backend, options.device);
    s.node_seconds.assign(s.graph.nodes.size(), 0.0);
    if (options.samples_per_slice > 0 && s.compile_lanes(registry, weights, options)) return;
    s.compile_whole_batch(registry, weights, options);
}

bool Executor::Impl::compile_lanes(const Registry& registry, const WeightMap& weights,
                                   const CompileOptions& options) {
    const std::int64_t batch = graph.batch();
    whole_batch_reason = slicing_refusal(graph, registry, options.samples_per_slice);
    std::optional<Graph> full, last;
    if (whole_batch_reason.empty()) {
        full = graph_for_slice(graph, registry, options.samples_per_slice);
        if (batch % options.samples_per_slice != 0)
            last = graph_for_slice(graph, registry, batch % options.samples_per_slice);
        if (!full || (batch % options.samples_per_slice != 0 && !last))
            whole_batch_reason = "a slice of the batch does not infer to a slice of its inputs and outputs";
    }
    if (!whole_batch_reason.empty()) return false;
    // The batch's inputs and outputs stay in the caller's memory. A batch they alone could not fit
    // is refused here, by the device's own check, as the whole batch's arena would have been:
    // before the caller makes gigabytes of input for it.
    std::size_t boundary_bytes = 0;
    for (int v : boundary_values(graph)) boundary_bytes += graph.values[v].desc.bytes();
    device->deallocate(device->allocate(boundary_bytes));
    slice = options.samples_per_slice;
    const std::int64_t slices = (batch + slice - 1) / slice;
    int count = options.lanes > 0 ? options.lanes
                : options.device.threads > 0 ? options.device.threads
                                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    count = static_cast<int>(std::min<std::int64_t>(count, slices));

    CompileOptions one = options;
    one.samples_per_slice = 0;
    one.device.threads = 1;
    one.device.adapt_threads = false;
    lanes.resize(static_cast<std::size_t>(count));
    pool = std::make_unique<detail::LanePool>(count);
    // Each lane's executor is built on the lane's own thread: the CPU device sets the OpenMP team
    // size and denormal flushing of the thread that creates it, and that is the thread that runs it.
    pool->run([&](int lane) {
        lanes[static_cast<std::size_t>(lane)] = std::make_unique<Executor>(*full, registry, weights, one);
        if (lane == 0 && last) tail = std::make_unique<Executor>(*last, registry, weights, one);
    });
    plan = lanes[0]->plan();
    plan.arena_bytes = 0;
    plan.workspace_bytes = 0;
    auto count_memory = [&](const Executor& e) {
        plan.arena_bytes += e.plan().arena_bytes;
        plan.workspace_bytes += e.plan().workspace_bytes;
    };
    for (const auto& l : lanes) count_memory(*l);
    if (tail) count_memory(*tail);
    kernel_names = lanes[0]->impl_->kernel_names;
    return true;
}

void Executor::Impl::compile_whole_batch(const Registry& registry, const WeightMap& weights,
                                         const CompileOptions& options) {
    Impl& s = *this;
    s.plan = plan_buffers(s.graph, registry);
    s.arena = DeviceBuffer(*s.device, s.plan.arena_bytes);
    // Parameters live on the device for the executor's lifetime.
    s.params = detail::allocate_parameters(s.graph, *s.device);
    detail::upload_parameters(s.params, s.graph, weights, *s.device);

    std::size_t workspace_bytes = 0;
    for (int n : s.plan.order) {
        const Node& node = s.graph.nodes[n];
        CompiledNode c;
        c.node = n;
        for (int v : node.inputs) c.inputs.push_back(s.value_view(v));
        for (int v : node.outputs) c.outputs.push_back(s.value_view(v));
        c.params = s.params.views[n];
        detail::create_kernel(c, s.graph, registry, options, *s.device, /*training=*/false, s.plan.in_place[n]);
        workspace_bytes = std::max(workspace_bytes, c.kernel->workspace_bytes());
        s.saved.emplace_back(*s.device, c.kernel->saved_bytes());
        c.saved = s.saved.back().ptr;
        s.nodes.push_back(std::move(c));
    }
    s.kernel_names = detail::kernel_names_by_node(s.nodes, s.graph.nodes.size());
    s.plan.workspace_bytes = workspace_bytes;
    s.workspace = DeviceBuffer(*s.device, workspace_bytes);
    if (options.check_numerics) s.numerics.emplace(s.graph);
}

Executor::~Executor() = default;

std::vector<Tensor> Executor::make_outputs() const { return make_graph_outputs(impl_->graph); }

void Executor::run(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
    Impl& s = *impl_;
    if (!s.lanes.empty()) return s.run_slices(inputs, outputs);
    auto device_view = [&](int v) { return s.value_view(v); };
    copy_graph_inputs(s.graph, *s.device, inputs, outputs.size(), "run", device_view);
    if (s.numerics) s.numerics->check_inputs(s.graph, inputs);
    detail::run_forward(s.graph, s.nodes, *s.device, s.workspace.ptr, s.profiling ? &s.node_seconds : nullptr,
                        s.numerics ? &*s.numerics : nullptr);
    s.device->synchronize();
    copy_graph_outputs(s.graph, *s.device, outputs, device_view);
}

void Executor::Impl::run_slices(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
    detail::check_graph_inputs(graph, inputs, outputs.size(), "run");
    detail::check_graph_outputs(graph, outputs);
    // With --check-numerics each lane checks its nodes; the batch's inputs are checked here, whole.
    if (lanes[0]->impl_->numerics) detail::NumericsCheck::check_inputs(graph, inputs);
    const std::int64_t batch = graph.batch();
    const std::int64_t slices = (batch + slice - 1) / slice;
    std::atomic<std::int64_t> next{0};
    std::atomic<bool> failed{false};
    // Slices go to whichever lane is free: a lane whose core another process holds takes fewer.
    pool->run([&](int lane) {
        try {
            for (std::int64_t i; !failed && (i = next++) < slices;) {
                const std::int64_t first = i * slice, count = std::min(slice, batch - first);
                run_slice(count == slice ? *lanes[static_cast<std::size_t>(lane)] : *tail, inputs, outputs, first,
                          count);
            }
        } catch (...) {
            failed = true;
            throw;
        }
    });
    if (profiling) {
        std::fill(node_seconds.begin(), node_seconds.end(), 0.0);
        auto add = [&](const Executor& e) {
            for (std::size_t n = 0; n < node_seconds.size(); ++n)
                node_seconds[n] += e.node_seconds()[n] / static_cast<double>(lanes.size());
        };
        for (const auto& l : lanes) add(*l);
        if (tail) add(*tail);
    }
}

void Executor::Impl::run_slice(Executor& lane, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                               std::int64_t first, std::int64_t count) {
    Impl& l = *lane.impl_;
    const auto part = [&](const Tensor& whole) {  // bytes per sample, and where `first` starts
        const std::size_t per_sample = whole.bytes() / static_cast<std::size_t>(graph.batch());
        return std::pair{per_sample * static_cast<std::size_t>(count), per_sample * static_cast<std::size_t>(first)};
    };
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const auto [bytes, offset] = part(inputs[i]);
        l.device->copy_from_host(l.value_view(l.graph.inputs[i]).data,
                                 static_cast<const std::byte*>(inputs[i].data()) + offset, bytes);
    }
    detail::run_forward(l.graph, l.nodes, *l.device, l.workspace.ptr, profiling ? &l.node_seconds : nullptr,
                        l.numerics ? &*l.numerics : nullptr);
    l.device->synchronize();
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        const auto [bytes, offset] = part(outputs[i]);
        l.device->copy_to_host(static_cast<std::byte*>(outputs[i].data()) + offset,
                               l.value_view(l.graph.outputs[i]).data, bytes);
    }
}

int Executor::lanes() const { return static_cast<int>(impl_->lanes.size()); }
std::int64_t Executor::samples_per_slice() const { return impl_->slice; }
const std::string& Executor::whole_batch_reason() const { return impl_->whole_batch_reason; }

const BufferPlan& Executor::plan() const { return impl_->plan; }
const Graph& Executor::graph() const { return impl_->graph; }
Device& Executor::device() { return *impl_->device; }

std::string Executor::kernel_name(int node) const { return impl_->kernel_names.at(static_cast<std::size_t>(node)); }

void Executor::set_profiling(bool on) {
    impl_->profiling = on;
    for (const auto& lane : impl_->lanes) lane->set_profiling(on);
    if (impl_->tail) impl_->tail->set_profiling(on);
}
const std::vector<double>& Executor::node_seconds() const { return impl_->node_seconds; }
void Executor::reset_profile() {
    std::fill(impl_->node_seconds.begin(), impl_->node_seconds.end(), 0.0);
    for (const auto& lane : impl_->lanes) lane->reset_profile();
    if (impl_->tail) impl_->tail->reset_profile();
}

}  // namespace weft
