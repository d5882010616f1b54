#include "op_harness.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/error.h"
#include "weft/executor.h"
#include "weft/kernel.h"
#include "weft/registry.h"

namespace weft::testing {

const Registry& build_registry() {
    static Registry registry;
    static std::once_flag once;
    std::call_once(once, [] { registry.load_directory(WEFT_TEST_PLUGIN_DIR); });
    return registry;
}

namespace {
Graph one_node_graph(const std::string& op, const Attributes& attrs, const std::vector<TensorDesc>& inputs) {
    Graph g;
    g.name = op;
    Node node;
    node.name = "node";
    node.op = op;
    node.attrs = attrs;
    for (std::size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(g.add_input(fmt::format("x{}", i), inputs[i]));
    const OpSchema* schema = build_registry().find_op(op);
    const int id = g.add_node(std::move(node), schema ? schema->num_outputs : 1);
    g.outputs = g.nodes[id].outputs;
    infer_shapes(g, build_registry());
    return g;
}
}  // namespace

NodeSignature infer_op(const std::string& op, const Attributes& attrs, const std::vector<TensorDesc>& inputs) {
    Graph g = one_node_graph(op, attrs, inputs);
    NodeSignature sig;
    for (int v : g.outputs) sig.outputs.push_back(g.values[v].desc);
    sig.params = g.nodes[0].params;
    sig.macs = g.nodes[0].macs;
    return sig;
}

OpNode op_node(const std::string& op, const Attributes& attrs, const std::vector<TensorDesc>& inputs) {
    const Graph g = one_node_graph(op, attrs, inputs);
    const Node& node = g.nodes[0];
    OpNode result{node.attrs, inputs, {}, node.params};
    for (int v : node.outputs) result.outputs.push_back(g.values[v].desc);
    return result;
}

namespace {
// A test that forces a kernel means that very kernel: where it declines the node (the registry
// would give it to the next kernel), that is an error naming its reason, not a silent comparison
// of another kernel with itself.
void require_forced_kernel_takes(const Graph& g, const std::string& kernel, bool training, Device& device) {
    const Node& node = g.nodes[0];
    const Registry& registry = build_registry();
    std::vector<TensorDesc> inputs, outputs;
    for (int v : node.inputs) inputs.push_back(g.values[v].desc);
    for (int v : node.outputs) outputs.push_back(g.values[v].desc);
    const KernelConfig config{node.name, node.attrs, inputs, outputs, node.params, device, training, false};
    std::vector<std::string> passed_over;
    const RegisteredKernel& chosen =
        registry.select_kernel(node.op, device.backend(), {{node.op, kernel}}, &config, &passed_over);
    if (chosen.factory.name != kernel && chosen.library.stem().string().find(kernel) == std::string::npos)
        throw Error(fmt::format("the forced {} kernel '{}' declined the node ({}); {} would run it", node.op, kernel,
                                fmt::join(passed_over, "; "), chosen.factory.name));
}

std::vector<Tensor> run_one_node(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                                 const WeightMap& params, const CompileOptions& options, std::uint64_t seed) {
    std::vector<TensorDesc> descs;
    for (const Tensor& t : inputs) descs.push_back(t.desc());
    Graph g = one_node_graph(op, attrs, descs);
    WeightMap weights = init_weights(g, seed);
    for (const auto& [name, t] : params) weights["node." + name] = t;
    if (const auto forced = options.kernel_overrides.find(op); forced != options.kernel_overrides.end())
        require_forced_kernel_takes(g, forced->second, /*training=*/false,
                                    *build_registry().create_device(options.backend, options.device));
    Executor exec(g, build_registry(), weights, options);
    std::vector<Tensor> outputs = exec.make_outputs();
    exec.run(inputs, outputs);
    return outputs;
}
}  // namespace

std::vector<Tensor> run_op(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                           const WeightMap& params, const std::string& backend, std::uint64_t seed) {
    CompileOptions options;
    options.backend = backend;
    return run_one_node(op, attrs, inputs, params, options, seed);
}

std::vector<Tensor> run_op_with_kernel(const std::string& kernel, const std::string& op, const Attributes& attrs,
                                       const std::vector<Tensor>& inputs, const WeightMap& params,
                                       std::uint64_t seed, const std::string& backend) {
    CompileOptions options;
    options.backend = backend;
    options.kernel_overrides = {{op, kernel}};
    return run_one_node(op, attrs, inputs, params, options, seed);
}

TensorDesc f32(Shape shape) { return TensorDesc{DType::f32, std::move(shape), Layout::row_major}; }

::testing::AssertionResult throws_error_containing(const std::function<void()>& fn, const std::string& fragment) {
    try {
        fn();
    } catch (const Error& e) {
        if (std::string(e.what()).find(fragment) != std::string::npos) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "message '" << e.what() << "' lacks '" << fragment << "'";
    }
    return ::testing::AssertionFailure() << "no weft::Error thrown";
}

namespace {
// One node's kernel created straight from the registry (not through an executor) on `backend`'s
// device, with the parameters the node's graph would have.
struct DirectKernel {
    Graph graph;
    WeightMap weights;
    std::unique_ptr<Device> device;
    std::vector<TensorDesc> inputs, outputs;
    std::string name;  // the chosen kernel's
    std::unique_ptr<Kernel> kernel;

    const Node& node() const { return graph.nodes[0]; }
};

DirectKernel make_direct_kernel(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                                const WeightMap& params, const std::string& kernel, std::uint64_t seed,
                                const std::string& backend, bool training, bool in_place) {
    DirectKernel d;
    for (const Tensor& t : inputs) d.inputs.push_back(t.desc());
    d.graph = one_node_graph(op, attrs, d.inputs);
    const Node& node = d.node();
    d.weights = init_weights(d.graph, seed);
    for (const auto& [name, t] : params) d.weights["node." + name] = t;
    const Registry& registry = build_registry();
    d.device = registry.create_device(backend, {});
    std::map<std::string, std::string> overrides;
    if (!kernel.empty()) overrides[op] = kernel;
    for (int v : node.outputs) d.outputs.push_back(d.graph.values[v].desc);
    const KernelConfig config{node.name, node.attrs, d.inputs, d.outputs, node.params, *d.device, training, in_place};
    if (!kernel.empty()) require_forced_kernel_takes(d.graph, kernel, training, *d.device);
    const RegisteredKernel& chosen = registry.select_kernel(op, backend, overrides, &config);
    d.name = chosen.factory.name;
    d.kernel = chosen.factory.create(config);
    return d;
}
}  // namespace

BackwardResult run_op_backward(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                               const std::vector<Tensor>& grad_outputs, const WeightMap& params,
                               const std::string& kernel, std::uint64_t seed, const std::string& backend) {
    DirectKernel d = make_direct_kernel(op, attrs, inputs, params, kernel, seed, backend, /*training=*/true,
                                        /*in_place=*/false);
    const Node& node = d.node();
    Kernel& k = *d.kernel;
    if (!k.has_backward()) throw Error(fmt::format("the {} kernel of '{}' has no backward", d.name, op));

    // Everything on the device, as the training executor would hold it.
    DeviceArena arena(*d.device);
    std::vector<TensorView> in_v, out_v, par_v, gout_v, gin_v, gpar_v;
    for (const Tensor& t : inputs) in_v.push_back(arena.upload(t));
    for (const TensorDesc& desc : d.outputs) out_v.push_back(arena.zeros(desc));
    for (const ParamSpec& p : node.params) {
        par_v.push_back(arena.upload(d.weights.at("node." + p.name)));
        gpar_v.push_back(arena.zeros(p.desc));
    }
    for (const Tensor& t : grad_outputs) gout_v.push_back(arena.upload(t));
    for (const TensorDesc& desc : d.inputs) gin_v.push_back(arena.zeros(desc));
    void* ws = arena.allocate(k.workspace_bytes());
    // Saved memory apart from the workspace, as the training executor gives it: a kernel that
    // left state in the workspace would fail here once the workspace is scribbled over.
    void* sv = arena.allocate(k.saved_bytes());
    k.forward(ForwardArgs{in_v, out_v, par_v, ws, sv});
    const std::vector<std::byte> scribble(std::max<std::size_t>(k.workspace_bytes(), 64), std::byte{0xA5});
    d.device->copy_from_host(ws, scribble.data(), scribble.size());
    k.backward(BackwardArgs{in_v, out_v, gout_v, gin_v, par_v, gpar_v, ws, sv});
    d.device->synchronize();

    BackwardResult r;
    for (const TensorView& v : out_v) r.outputs.push_back(arena.download(v));
    for (const TensorView& v : gin_v) r.grad_inputs.push_back(arena.download(v));
    for (std::size_t i = 0; i < node.params.size(); ++i) {
        r.params.emplace(node.params[i].name, arena.download(par_v[i]));
        r.grad_params.push_back(arena.download(gpar_v[i]));
    }
    return r;
}

ForwardResult run_op_forward(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                             bool in_place, const std::string& backend, const WeightMap& params, std::uint64_t seed) {
    DirectKernel d =
        make_direct_kernel(op, attrs, inputs, params, /*kernel=*/{}, seed, backend, /*training=*/false, in_place);
    const std::optional<int> shared = build_registry().op(op).inplace_input;
    if (in_place && !shared) throw Error(fmt::format("'{}' declares no input it may overwrite", op));

    DeviceArena arena(*d.device);
    std::vector<TensorView> in_v, out_v, par_v;
    for (const Tensor& t : inputs) in_v.push_back(arena.upload(t));
    for (const TensorDesc& desc : d.outputs) out_v.push_back(arena.zeros(desc));
    if (in_place) out_v[0].data = in_v[static_cast<std::size_t>(*shared)].data;
    for (const ParamSpec& p : d.node().params) par_v.push_back(arena.upload(d.weights.at("node." + p.name)));
    void* ws = arena.allocate(d.kernel->workspace_bytes());
    d.kernel->forward(ForwardArgs{in_v, out_v, par_v, ws, nullptr});
    d.device->synchronize();

    ForwardResult r;
    for (const TensorView& v : out_v) r.outputs.push_back(arena.download(v));
    for (const TensorView& v : in_v) r.inputs_after.push_back(arena.download(v));
    return r;
}

std::string cuda_unavailable_reason() {
    const BackendFactory* cuda = build_registry().find_backend("cuda");
    if (!cuda) return "the cuda backend is not built here (no CUDA compiler when configured)";
    return cuda->unavailable_reason ? cuda->unavailable_reason() : std::string{};
}

Tensor numeric_gradient(Tensor x, const std::function<double()>& loss, float step) {
    Tensor grad(x.desc());
    float* p = x.as<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        const float original = p[i];
        p[i] = original + step;
        const double up = loss();
        p[i] = original - step;
        const double down = loss();
        p[i] = original;
        grad.as<float>()[i] = static_cast<float>((up - down) / (2.0 * static_cast<double>(step)));
    }
    return grad;
}

double weighted_sum(const std::vector<Tensor>& outputs, const std::vector<Tensor>& weights) {
    double sum = 0.0;
    for (std::size_t k = 0; k < outputs.size(); ++k)
        for (std::int64_t i = 0; i < outputs[k].numel(); ++i)
            sum += static_cast<double>(outputs[k].as<float>()[i]) * weights[k].as<float>()[i];
    return sum;
}

Tensor random_tensor(const Shape& shape, std::uint64_t seed, float lo, float hi) {
    Tensor t(TensorDesc{DType::f32, shape, Layout::row_major});
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    float* p = t.as<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        p[i] = lo + (hi - lo) * static_cast<float>((state >> 11) * 0x1.0p-53);
    }
    return t;
}

Tensor tensor_from(const Shape& shape, const std::vector<float>& values) {
    Tensor t(TensorDesc{DType::f32, shape, Layout::row_major});
    if (static_cast<std::int64_t>(values.size()) != t.numel())
        throw Error(fmt::format("tensor_from: {} values for shape {}", values.size(), shape_str(shape)));
    std::copy(values.begin(), values.end(), t.as<float>());
    return t;
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
    if (actual.shape() != expected.shape())
        return ::testing::AssertionFailure() << "shape " << shape_str(actual.shape()) << " != expected "
                                             << shape_str(expected.shape());
    const float* a = actual.as<float>();
    const float* e = expected.as<float>();
    for (std::int64_t i = 0; i < actual.numel(); ++i) {
        const double diff = std::fabs(double(a[i]) - double(e[i]));
        if (!(diff <= atol + rtol * std::fabs(double(e[i]))))
            return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " != expected " << e[i]
                                                 << " (|diff| " << diff << ")";
    }
    return ::testing::AssertionSuccess();
}

}  // namespace weft::testing
