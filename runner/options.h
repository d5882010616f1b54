// Command-line plumbing shared by the `weft` subcommands: how a GRAPH argument, plugin
// directories and devices are named, and how they are turned into a registry and a graph.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "weft/executor.h"
#include "weft/graph_pass.h"
#include "weft/graph.h"
#include "weft/onnx/onnx_model.h"
#include "weft/registry.h"

namespace weft::runner {

// The zoo id the README's main job runs when no GRAPH is given.
inline constexpr const char* kDefaultGraph = "igc-l24m2-d20";

struct GraphOptions {
    std::string graph = kDefaultGraph;
    std::string variant;
    std::vector<std::string> sets;          // KEY=VALUE
    std::vector<std::string> plugin_paths;  // --plugin-path
};

// Samples per slice of sample-parallel CPU inference (--slice; docs/performance.md, "CPU round
// seven", measured 1, 2 and 4).
inline constexpr std::int64_t kDefaultSlice = 2;

struct DeviceChoice {
    std::string device = "cpu";  // --device: cpu, cuda or cuda:N (see parse_device)
    int threads = 0;
    bool fixed_threads = false;        // --fixed-threads: no DeviceOptions::adapt_threads
    std::vector<std::string> kernels;  // op=library
    std::string passes = "default";    // see select_passes
    bool check_numerics = false;       // CompileOptions::check_numerics
    // --slice: CompileOptions::samples_per_slice for inference on the CPU (0: the whole batch).
    std::int64_t slice = kDefaultSlice;
};

// What --device names: a backend and which of its devices ("cuda:1" -> cuda, 1).
struct DeviceSpec {
    std::string backend;
    int index = 0;
};
// Throws one line ("--device 'cuda:x': expected cpu, cuda or cuda:N") for a malformed spec.
DeviceSpec parse_device(const std::string& spec);

void add_graph_options(CLI::App& app, GraphOptions& options);
void add_plugin_options(CLI::App& app, GraphOptions& options);
// --device (its help lists the backends whose libraries are on the plugin search path),
// --threads, --fixed-threads, --kernel and --passes.
void add_device_options(CLI::App& app, DeviceChoice& choice);
void add_device_option(CLI::App& app, DeviceChoice& choice, const std::string& help);

// Accepts a number only when it is finite: combined with a range check (`finite_number() &
// CLI::PositiveNumber`), since those let NaN through.
CLI::Validator finite_number();
// --check-numerics, for the commands that run a graph (run, eval, bench, train).
void add_numerics_option(CLI::App& app, DeviceChoice& choice);

// Whether load_registry warns on stderr, one line each, about libraries the host refused:
// every command that runs or checks a graph does; `weft plugins` lists them itself.
enum class RefusedLibraries { warn, list_elsewhere };
// The plugins for `backends`: by default cpu alone (every schema and pass, the cpu kernels), so
// that no other backend's runtime is loaded; an empty list loads every library, as `weft
// plugins` does.
std::unique_ptr<Registry> load_registry(const GraphOptions& options,
                                        const std::vector<std::string>& backends = {"cpu"},
                                        RefusedLibraries refused = RefusedLibraries::warn);
// The registry for a command that runs on `device`: cpu and the device's backend, failing at
// once, with the reason, when that backend cannot run here (before data or graphs are loaded).
std::unique_ptr<Registry> load_device_registry(const GraphOptions& options, const DeviceChoice& device);
// Resolves, expands and shape-infers the graph at the given batch size. A GRAPH naming a .onnx
// file is imported (docs/onnx.md); its weights and metadata are then imported_onnx's.
Graph load_graph(const GraphOptions& options, const Registry& registry, std::int64_t batch);
// The ONNX model a graph was imported from by load_graph (read once per process), or nullptr for
// a graph from a graph file: the weights and metadata an ONNX GRAPH carries.
const onnx_format::OnnxModel* imported_onnx(const Graph& graph);
CompileOptions compile_options(const DeviceChoice& choice);
// What an inference executor runs on, for a command's report: its device's description, and the
// lanes and samples per slice when the batch runs as slices, or why it runs whole when slices
// were asked for.
std::string describe_executor(Executor& exec);

// Runs the selected graph passes (inference) on the graph and its weights; returns a one-line
// summary such as "fold_batch_norm ×19, fuse_relu ×19" ("none" when nothing ran).
std::string apply_passes(Graph& graph, WeightMap& weights, const Registry& registry, const DeviceChoice& choice);

// Weights from a safetensors file; when `path` is empty, the weights of an ONNX GRAPH, or
// initialised from the seed.
WeightMap load_or_init_weights(const Graph& graph, const std::string& path, std::uint64_t seed);

std::string human_bytes(double bytes);
std::string human_count(double n);  // 1.5M, 28.8M, ...

}  // namespace weft::runner
