// safetensors reading: the bytes as a weights file, then, when it loads, matched against a small
// graph (the regconv_cifar family shrunk with overrides) as `weft run --weights` would.
// weft::Error is the only accepted failure.
#include <map>

#include "fuzz_support.h"
#include "weft/error.h"
#include "weft/graph_file.h"
#include "weft/registry.h"
#include "weft/weights.h"

namespace {
// Few, small parameters, so a seed from `weft init` with the same overrides is a few KB. Keep in
// step with the command in docs/robustness.md that regenerates the seed.
const weft::Graph& small_graph() {
    static const weft::Graph graph = [] {
        weft::GraphFileOptions options;
        options.overrides = {{"width", "1"}, {"depth", "5"}, {"classes", "2"}, {"size", "8"}};
        weft::Graph g = weft::load_graph_file(weft::fuzz::graph_directory() / "regconv_cifar.yaml", options);
        weft::infer_shapes(g, weft::fuzz::plugin_registry());
        return g;
    }();
    return graph;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    small_graph();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::filesystem::path file = weft::fuzz::scratch_directory() / "fuzzed.safetensors";
    weft::fuzz::write_bytes(file, data, size);
    try {
        std::map<std::string, std::string> metadata;
        const weft::WeightMap weights = weft::load_safetensors(file, &metadata);
        weft::check_weights(small_graph(), weights);
    } catch (const weft::Error&) {
    }
    return 0;
}
