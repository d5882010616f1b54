// ONNX files in and out (docs/onnx.md): a weft graph and its weights written as an ONNX model with
// its weights as initialisers, and an ONNX model read back into a weft graph that the runner treats
// like a graph file. Which ONNX nodes each weft operator becomes, and back, is the table in
// onnx_export.cpp / onnx_import.cpp; anything outside it is refused naming the node and op.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "weft/graph.h"
#include "weft/registry.h"
#include "weft/weights.h"

namespace weft::onnx_format {

// Files larger than this are refused before parsing (protobuf itself stops at 2 GiB).
inline constexpr std::size_t kMaxOnnxFileBytes = std::size_t{1} << 30;
// The opsets written: 13 (Softmax over one axis) up to 17, the newest the ONNX 1.12 checker knows.
inline constexpr int kMinOpset = 13;
inline constexpr int kMaxOpset = 17;

// A GRAPH argument naming an ONNX file rather than a zoo id or a YAML graph file.
bool is_onnx_path(std::string_view spec);

struct OnnxModel {
    Graph graph;        // shape-inferred at batch 1 (the batch is symbolic in files weft writes)
    WeightMap weights;  // "<node>.<param>", as a safetensors file holds them
    // metadata_props: weft's weight metadata (weft.mean, weft.std, weft.class_names, ...).
    std::map<std::string, std::string> metadata;
};

// Reads and maps an ONNX file, then infers shapes against `registry` and checks the weights
// against the graph, so what is returned runs; weft::Error (one line naming the file and, where it
// applies, the ONNX node and op) for anything malformed or outside the mapped operators.
OnnxModel read_onnx(const std::filesystem::path& path, const Registry& registry);
// The same from bytes already in memory; `where` names them in errors (the fuzzer's entry).
OnnxModel parse_onnx(std::string_view bytes, const std::string& where, const Registry& registry);

struct ExportOptions {
    int opset = kMinOpset;
    // Stored in metadata_props as given (weights metadata: normalisation, class names, ...).
    std::map<std::string, std::string> metadata;
};

// The --passes selection an export applies for the user's `selection`: the same passes, less
// those that fuse nodes into ops with no ONNX form, which only pay inside weft's own kernels
// (fuse_igc_block). A model for another runtime keeps the paper's operators; "none" stays none.
std::string export_pass_selection(const std::string& selection, const Registry& registry);

// Serialises a shape-inferred graph with its weights: the model's bytes. Throws naming the node
// and op of the first node that has no ONNX form.
std::string export_onnx(const Graph& graph, const WeightMap& weights, const ExportOptions& options);
// export_onnx written through weft/output_file.h.
void write_onnx(const std::filesystem::path& path, const Graph& graph, const WeightMap& weights,
                const ExportOptions& options);

}  // namespace weft::onnx_format
