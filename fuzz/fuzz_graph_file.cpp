// The YAML graph loader end to end: read the header, expand the defaults and up to two named
// variants (params, expressions, blocks, repeats, conditionals, includes), then infer shapes
// against the real operator schemas of this build. weft::Error is the only accepted failure.
#include <cstdlib>

#include "fuzz_support.h"
#include "weft/error.h"
#include "weft/graph_file.h"
#include "weft/registry.h"

namespace {
constexpr std::size_t kVariantsTried = 2;  // more adds time per input, not new code paths

void load_and_infer(const std::filesystem::path& file, const weft::GraphFileOptions& options) {
    try {
        weft::Graph graph = weft::load_graph_file(file, options);
        weft::infer_shapes(graph, weft::fuzz::plugin_registry());
    } catch (const weft::Error&) {
    }
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    ::setenv("WEFT_GRAPH_PATH", weft::fuzz::graph_directory().c_str(), 1);
    weft::fuzz::plugin_registry();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // An include is looked up beside this file (the scratch directory) first, then on
    // WEFT_GRAPH_PATH, where the zoo's blocks/ are.
    const std::filesystem::path file = weft::fuzz::scratch_directory() / "fuzzed.yaml";
    weft::fuzz::write_bytes(file, data, size);
    weft::GraphFileInfo info;
    try {
        info = weft::read_graph_file_info(file);
    } catch (const weft::Error&) {
    }
    load_and_infer(file, {});
    for (std::size_t i = 0; i < info.variants.size() && i < kVariantsTried; ++i)
        load_and_infer(file, weft::GraphFileOptions{info.variants[i].id, {}});
    return 0;
}
