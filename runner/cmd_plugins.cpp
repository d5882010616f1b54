// weft plugins: what was loaded from where, which kernel serves each op on each backend (the one
// `weft run` would choose, starred — with the same --kernel overrides), and what was refused.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"
#include "weft/error.h"
#include "weft/weights.h"

namespace weft::runner {
namespace {

namespace fs = std::filesystem;
using KernelOverrides = std::map<std::string, std::string>;

// Why a backend cannot run here ("not loaded", "no CUDA driver"), or empty.
std::string backend_unavailable_reason(const Registry& r, const std::string& name) {
    const BackendFactory* b = r.find_backend(name);
    if (!b) return "backend not loaded";
    return b->unavailable_reason ? b->unavailable_reason() : std::string{};
}

std::string backend_status(const Registry& r, const std::string& name) {
    if (!r.find_backend(name)) return "not loaded";
    const std::string why = backend_unavailable_reason(r, name);
    return why.empty() ? "available" : "unavailable: " + why;
}

// An optimiser's update kernels have no availability of their own: they run wherever their
// backend's device does.
std::vector<const RegisteredOptimizerKernel*> optimizer_kernels_of(const Registry& r, const std::string& optimizer) {
    std::vector<const RegisteredOptimizerKernel*> out;
    for (const RegisteredOptimizerKernel* k : r.optimizer_kernels())
        if (k->factory.optimizer == optimizer) out.push_back(k);
    return out;
}

// Libraries from the default directory came with weft; the others were added through
// --plugin-path or WEFT_PLUGIN_PATH (third-party operators and kernel overrides).
bool is_builtin(const fs::path& library) {
    std::error_code ec;
    return fs::weakly_canonical(library.parent_path(), ec) == fs::weakly_canonical(default_plugin_directory(), ec);
}

// The kernel `weft run` would use, or null with the reason none is usable.
// (per op, before any node is known: what serves an op's nodes when none declines)
const RegisteredKernel* chosen_kernel(const Registry& r, const std::string& op, const std::string& backend,
                                      const KernelOverrides& overrides, std::string& why_none) {
    try {
        return &r.select_kernel(op, backend, overrides);
    } catch (const Error& e) {
        why_none = e.what();
        return nullptr;
    }
}

nlohmann::json plugins_json(const Registry& r, const KernelOverrides& overrides) {
    nlohmann::json libs = nlohmann::json::array(), refused = nlohmann::json::array(), ops = nlohmann::json::object();
    for (const auto& l : r.loaded())
        libs.push_back({{"path", l.path.string()}, {"name", l.name}, {"version", l.version}, {"ops", l.ops},
                        {"kernels", l.kernels}, {"backends", l.backends}, {"passes", l.passes},
                        {"optimizers", l.optimizers}, {"builtin", is_builtin(l.path)}});
    for (const auto& f : r.refused()) refused.push_back({{"path", f.path.string()}, {"reason", f.reason}});
    for (const std::string& op : r.op_names()) {
        nlohmann::json kernels = nlohmann::json::array();
        for (const std::string& backend : r.backend_names()) {
            std::string why_none;
            const RegisteredKernel* chosen = chosen_kernel(r, op, backend, overrides, why_none);
            for (const RegisteredKernel* k : r.kernels(op, backend)) {
                const std::string why = kernel_unavailable_reason(*k);
                kernels.push_back({{"backend", backend}, {"name", k->factory.name}, {"priority", k->factory.priority},
                                   {"library", k->library.string()}, {"builtin", is_builtin(k->library)},
                                   {"available", why.empty()}, {"reason", why}, {"chosen", k == chosen}});
            }
        }
        ops[op] = {{"library", r.op_library(op).string()}, {"kernels", kernels}};
    }
    nlohmann::json optimizers = nlohmann::json::object();
    for (const std::string& name : r.optimizer_names()) {
        nlohmann::json kernels = nlohmann::json::array();
        for (const RegisteredOptimizerKernel* k : optimizer_kernels_of(r, name)) {
            const std::string why = backend_unavailable_reason(r, k->factory.backend);
            kernels.push_back({{"backend", k->factory.backend}, {"name", k->factory.name},
                               {"library", k->library.string()}, {"builtin", is_builtin(k->library)},
                               {"available", why.empty()}, {"reason", why}});
        }
        optimizers[name] = {{"library", r.optimizer_library(name).string()}, {"kernels", kernels}};
    }
    nlohmann::json backends = nlohmann::json::object();
    for (const std::string& b : r.backend_names()) backends[b] = backend_status(r, b);
    nlohmann::json passes = nlohmann::json::array();
    for (const GraphPass* p : r.passes())
        passes.push_back({{"name", p->name}, {"doc", p->doc}, {"order", p->order},
                          {"inference_only", p->inference_only}, {"library", r.pass_library(p->name).string()}});
    nlohmann::json dirs = nlohmann::json::array();
    for (const auto& d : r.searched_directories()) dirs.push_back(d.string());
    return {{"abi_version", kPluginAbiVersion}, {"passes", passes}, {"search_path", dirs}, {"default_directory", default_plugin_directory().string()},
            {"kernel_overrides", overrides}, {"libraries", libs}, {"refused", refused}, {"ops", ops},
            {"optimizers", optimizers}, {"backends", backends}};
}

// A library as the operator table names it: its file name, or its whole path when it was added
// from outside the default directory, so overrides stand out.
std::string library_label(const fs::path& library) {
    return is_builtin(library) ? library.filename().string() : library.string() + " [added]";
}

void print_operators(const Registry& r, const KernelOverrides& overrides) {
    fmt::print("\noperators (kernels best first; * = chosen{}):\n", overrides.empty() ? "" : ", with --kernel");
    for (const std::string& op : r.op_names()) {
        fmt::print("  {:<20} {}\n", op, library_label(r.op_library(op)));
        for (const std::string& backend : r.backend_names()) {
            const auto kernels = r.kernels(op, backend);
            if (kernels.empty()) continue;
            std::string why_none;
            const RegisteredKernel* chosen = chosen_kernel(r, op, backend, overrides, why_none);
            for (const RegisteredKernel* k : kernels) {
                const std::string why = kernel_unavailable_reason(*k);
                const bool forced = k == chosen && overrides.contains(op);
                fmt::print("    {} {:<5} {:<10} priority {:<3} {}{}{}\n", k == chosen ? '*' : ' ', backend,
                           k->factory.name, k->factory.priority, library_label(k->library),
                           why.empty() ? "" : " — unavailable: " + why, forced ? " (forced by --kernel)" : "");
            }
            if (!chosen) fmt::print("      {}: none chosen: {}\n", backend, why_none);
        }
    }
}

void print_optimizers(const Registry& r) {
    fmt::print("\noptimizers (update kernels per backend):\n");
    for (const std::string& name : r.optimizer_names()) {
        fmt::print("  {:<20} {}\n", name, library_label(r.optimizer_library(name)));
        for (const RegisteredOptimizerKernel* k : optimizer_kernels_of(r, name)) {
            const std::string why = backend_unavailable_reason(r, k->factory.backend);
            fmt::print("      {:<5} {:<10} {}{}\n", k->factory.backend, k->factory.name, library_label(k->library),
                       why.empty() ? "" : " — unavailable: " + why);
        }
    }
}

void print_libraries(const Registry& r) {
    std::vector<const LoadedLibrary*> builtin, added;
    for (const auto& l : r.loaded()) (is_builtin(l.path) ? builtin : added).push_back(&l);
    const auto print_one = [](const LoadedLibrary& l) {
        std::vector<std::string> provides;
        if (!l.ops.empty()) provides.push_back(fmt::format("ops {}", fmt::join(l.ops, ", ")));
        if (!l.kernels.empty()) provides.push_back(fmt::format("kernels {}", fmt::join(l.kernels, ", ")));
        if (!l.backends.empty()) provides.push_back(fmt::format("backends {}", fmt::join(l.backends, ", ")));
        if (!l.passes.empty()) provides.push_back(fmt::format("passes {}", fmt::join(l.passes, ", ")));
        if (!l.optimizers.empty()) provides.push_back(fmt::format("optimizers {}", fmt::join(l.optimizers, ", ")));
        fmt::print("    {} ({} {}): {}\n", l.path.string(), l.name, l.version, fmt::join(provides, "; "));
    };
    fmt::print("\nlibraries ({} loaded):\n", r.loaded().size());
    fmt::print("  added (--plugin-path, WEFT_PLUGIN_PATH):{}\n", added.empty() ? " none" : "");
    for (const LoadedLibrary* l : added) print_one(*l);
    fmt::print("  built in ({}):\n", default_plugin_directory().string());
    for (const LoadedLibrary* l : builtin) print_one(*l);
}

void print_plugins(const Registry& r, const KernelOverrides& overrides) {
    std::vector<std::string> dirs;
    for (const auto& d : r.searched_directories()) dirs.push_back(d.string());
    fmt::print("plugin ABI version {}; searched: {}\n", kPluginAbiVersion, fmt::join(dirs, ":"));
    fmt::print("\nbackends:\n");
    for (const std::string& b : r.backend_names()) fmt::print("  {:<8} {}\n", b, backend_status(r, b));
    print_operators(r, overrides);
    print_optimizers(r);
    fmt::print("\ngraph passes (run in this order by --passes default):\n");
    for (const GraphPass* p : r.passes())
        fmt::print("  {:<16} {}{} — {}\n", p->name, r.pass_library(p->name).filename().string(),
                   p->inference_only ? ", inference only" : "", p->doc);
    print_libraries(r);
    if (!r.refused().empty()) {
        fmt::print("\nrefused ({}):\n", r.refused().size());
        for (const auto& f : r.refused()) fmt::print("  {}: {}\n", f.path.string(), f.reason);
    }
}

// The kernel each node of a graph gets (after the default passes, as `weft run` compiles it)
// and, for every better kernel passed over, why it declined that node or cannot run here.
struct NodeKernel {
    std::string node, op, kernel, library;
    std::vector<std::string> passed_over;
};

std::vector<NodeKernel> node_kernels(const GraphOptions& graph_options, const DeviceChoice& choice, const Registry& r) {
    Graph g = load_graph(graph_options, r, 1);
    WeightMap weights = init_weights(g, 0);
    apply_passes(g, weights, r, choice);
    const CompileOptions options = compile_options(choice);
    const std::unique_ptr<Device> device = r.create_device(options.backend, options.device);
    std::vector<NodeKernel> out;
    for (int n : g.topological_order()) {
        const Node& node = g.nodes[n];
        std::vector<TensorDesc> inputs, outputs;
        for (int v : node.inputs) inputs.push_back(g.values[v].desc);
        for (int v : node.outputs) outputs.push_back(g.values[v].desc);
        const KernelConfig config{node.name, node.attrs, inputs, outputs, node.params, *device, false, false};
        NodeKernel row{node.name, node.op, {}, {}, {}};
        try {
            const RegisteredKernel& k = r.select_kernel(node.op, options.backend, options.kernel_overrides, &config,
                                                        &row.passed_over);
            row.kernel = k.factory.name;
            row.library = k.library.filename().string();
        } catch (const Error& e) {
            row.kernel = "none";
            row.passed_over = {e.what()};
        }
        out.push_back(std::move(row));
    }
    return out;
}

void print_node_kernels(const std::string& graph, const std::vector<NodeKernel>& rows) {
    std::size_t width = 4;
    for (const NodeKernel& k : rows) width = std::max(width, k.node.size());
    fmt::print("\nkernels per node of {} (after the default passes, as `weft run` compiles it):\n", graph);
    for (const NodeKernel& k : rows) {
        fmt::print("  {:<{}} {:<16} {:<14} {}\n", k.node, width, k.op, k.kernel, k.library);
        for (const std::string& why : k.passed_over) fmt::print("  {:<{}}   passed over: {}\n", "", width, why);
    }
}

}  // namespace

void add_plugins_command(CLI::App& app) {
    struct PluginsOptions {
        GraphOptions graph;
        DeviceChoice device;  // --device and --kernel: preview the choice `weft run` makes
        bool json = false;
    };
    auto o = std::make_shared<PluginsOptions>();
    o->graph.graph.clear();
    CLI::App* cmd = app.add_subcommand("plugins", "list plugin libraries, operators, kernels and backends");
    cmd->add_option("graph", o->graph.graph, "also show the kernel each node of this graph gets (and why others declined)");
    cmd->add_option("--variant", o->graph.variant, "named variant of the graph file");
    cmd->add_option("--set", o->graph.sets, "override a graph parameter, KEY=VALUE (repeatable)");
    add_plugin_options(*cmd, o->graph);
    add_device_option(*cmd, o->device, "backend for the per-node choice");
    cmd->add_option("--kernel", o->device.kernels, "show the choice with a kernel forced, OP=LIBRARY (repeatable)");
    cmd->add_flag("--json", o->json, "machine-readable output");
    cmd->callback([o] {
        auto registry = load_registry(o->graph, /*backends: all*/ {}, RefusedLibraries::list_elsewhere);
        const KernelOverrides overrides = compile_options(o->device).kernel_overrides;
        std::vector<NodeKernel> nodes;
        if (!o->graph.graph.empty()) nodes = node_kernels(o->graph, o->device, *registry);
        if (o->json) {
            nlohmann::json j = plugins_json(*registry, overrides);
            if (!o->graph.graph.empty()) {
                nlohmann::json rows = nlohmann::json::array();
                for (const NodeKernel& k : nodes)
                    rows.push_back({{"node", k.node}, {"op", k.op}, {"kernel", k.kernel}, {"library", k.library},
                                    {"passed_over", k.passed_over}});
                j["nodes"] = rows;
            }
            fmt::print("{}\n", j.dump(2));
            return;
        }
        print_plugins(*registry, overrides);
        if (!o->graph.graph.empty()) print_node_kernels(o->graph.graph, nodes);
    });
}

}  // namespace weft::runner
