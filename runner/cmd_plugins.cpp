// weft plugins: what was loaded from where, which kernels serve which op, and what was refused.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"

namespace weft::runner {
namespace {

std::string backend_status(const Registry& r, const std::string& name) {
    const BackendFactory* b = r.find_backend(name);
    if (!b) return "not loaded";
    std::string why = b->unavailable_reason ? b->unavailable_reason() : std::string{};
    return why.empty() ? "available" : "unavailable: " + why;
}

nlohmann::json plugins_json(const Registry& r) {
    nlohmann::json libs = nlohmann::json::array(), refused = nlohmann::json::array(), ops = nlohmann::json::object();
    for (const auto& l : r.loaded())
        libs.push_back({{"path", l.path.string()}, {"name", l.name}, {"version", l.version}, {"ops", l.ops},
                        {"kernels", l.kernels}, {"backends", l.backends}});
    for (const auto& f : r.refused()) refused.push_back({{"path", f.path.string()}, {"reason", f.reason}});
    for (const std::string& op : r.op_names()) {
        nlohmann::json kernels = nlohmann::json::array();
        for (const std::string& backend : r.backend_names()) {
            for (const RegisteredKernel* k : r.kernels(op, backend)) {
                std::string why = k->factory.unavailable_reason ? k->factory.unavailable_reason() : std::string{};
                kernels.push_back({{"backend", backend}, {"name", k->factory.name}, {"priority", k->factory.priority},
                                   {"library", k->library.string()}, {"available", why.empty()}, {"reason", why}});
            }
        }
        ops[op] = {{"library", r.op_library(op).string()}, {"kernels", kernels}};
    }
    nlohmann::json backends = nlohmann::json::object();
    for (const std::string& b : r.backend_names()) backends[b] = backend_status(r, b);
    nlohmann::json dirs = nlohmann::json::array();
    for (const auto& d : r.searched_directories()) dirs.push_back(d.string());
    return {{"abi_version", kPluginAbiVersion}, {"search_path", dirs}, {"libraries", libs}, {"refused", refused},
            {"ops", ops}, {"backends", backends}};
}

void print_plugins(const Registry& r) {
    std::vector<std::string> dirs;
    for (const auto& d : r.searched_directories()) dirs.push_back(d.string());
    fmt::print("plugin ABI version {}; searched: {}\n", kPluginAbiVersion, fmt::join(dirs, ":"));
    fmt::print("\nbackends:\n");
    for (const std::string& b : r.backend_names()) fmt::print("  {:<8} {}\n", b, backend_status(r, b));
    fmt::print("\noperators (kernels best first; * = chosen):\n");
    for (const std::string& op : r.op_names()) {
        fmt::print("  {:<16} {}\n", op, r.op_library(op).filename().string());
        for (const std::string& backend : r.backend_names()) {
            bool chosen = false;
            for (const RegisteredKernel* k : r.kernels(op, backend)) {
                std::string why = k->factory.unavailable_reason ? k->factory.unavailable_reason() : std::string{};
                const bool mark = why.empty() && !chosen;
                chosen |= mark;
                fmt::print("    {} {:<5} {:<10} priority {:<3} {}{}\n", mark ? '*' : ' ', backend, k->factory.name,
                           k->factory.priority, k->library.filename().string(), why.empty() ? "" : " — unavailable: " + why);
            }
        }
    }
    fmt::print("\nlibraries ({} loaded):\n", r.loaded().size());
    for (const auto& l : r.loaded()) fmt::print("  {} ({} {})\n", l.path.string(), l.name, l.version);
    if (!r.refused().empty()) {
        fmt::print("\nrefused ({}):\n", r.refused().size());
        for (const auto& f : r.refused()) fmt::print("  {}: {}\n", f.path.string(), f.reason);
    }
}

}  // namespace

void add_plugins_command(CLI::App& app) {
    struct PluginsOptions {
        GraphOptions graph;
        bool json = false;
    };
    auto o = std::make_shared<PluginsOptions>();
    CLI::App* cmd = app.add_subcommand("plugins", "list plugin libraries, operators, kernels and backends");
    add_plugin_options(*cmd, o->graph);
    cmd->add_flag("--json", o->json, "machine-readable output");
    cmd->callback([o] {
        auto registry = load_registry(o->graph);
        if (o->json)
            fmt::print("{}\n", plugins_json(*registry).dump(2));
        else
            print_plugins(*registry);
    });
}

}  // namespace weft::runner
