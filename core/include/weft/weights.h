// Parameters by name ("<node>.<param>"), safetensors files, and seeded initialisation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "weft/graph.h"
#include "weft/tensor.h"

namespace weft {

using WeightMap = std::map<std::string, Tensor>;

// safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the data.
void save_safetensors(const std::filesystem::path& path, const WeightMap& weights,
                      const std::map<std::string, std::string>& metadata = {});
WeightMap load_safetensors(const std::filesystem::path& path,
                           std::map<std::string, std::string>* metadata = nullptr);

// Deterministic initialisation of every parameter of a shape-inferred graph from `seed`
// (MSRA/He normal for convolutions, as in the paper). Each tensor's stream depends only on the
// seed and the tensor's name, so adding a node does not change the others.
WeightMap init_weights(const Graph& graph, std::uint64_t seed);

// A tensor of standard-normal values, reproducible from `seed` on every platform (built-in
// inputs for `weft run` and benchmarks).
Tensor random_normal(const TensorDesc& desc, std::uint64_t seed);

// Checks that `weights` holds exactly the graph's parameters with the right shapes and dtypes;
// throws naming the first mismatch (missing, unexpected, wrong shape).
void check_weights(const Graph& graph, const WeightMap& weights);

}  // namespace weft
