// What `weft ops` says about each registered operator and optimiser: what its schema declares,
// the parameters it creates on a representative input, and the kernels registered for it —
// gathered once from the registry, then printed as text, Markdown or JSON (cmd_ops.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weft/registry.h"

namespace weft::runner {

struct KernelReference {
    std::string backend;
    std::string name;
    int priority = 0;
    std::string library;  // the file name
    std::string unavailable_reason;  // empty where it can run
};

// The parameters a schema declares, which only its shape rule knows: found by inferring one node
// on a representative input — an f32 image batch [1, 8, 8, 8], else a matrix [1, 8] — with the
// defaults, and representative values for required attributes (see representative_attributes).
struct ParameterReference {
    bool known = false;
    std::vector<TensorDesc> inputs;        // the representative input it was inferred on
    std::vector<std::string> attributes;   // "name = value" for the required attributes filled in
    std::vector<ParamSpec> params;
    std::string unknown_because;           // the last inference error, when not known
};

struct OpReference {
    const OpSchema* schema = nullptr;
    std::string library;
    ParameterReference parameters;
    // The permutation trait on the representative input's 8 channels (destination[c]).
    std::optional<std::vector<std::int64_t>> example_permutation;
    std::vector<KernelReference> kernels;  // per backend, best first
};

struct OptimizerReference {
    const OptimizerSchema* schema = nullptr;
    std::string library;
    std::vector<KernelReference> kernels;
};

// Every operator (sorted by name), or the one named `only`.
std::vector<OpReference> op_references(const Registry& registry, const std::string& only = {});
std::vector<OptimizerReference> optimizer_references(const Registry& registry, const std::string& only = {});

// Names used in every rendering.
std::string param_init_name(ParamInit init);
std::string attr_default_str(const AttrSpec& spec);  // "required" or the default value
std::string attr_range_str(const AttrSpec& spec);    // "≥ 1", "[0, 1]", "one of max, avg", or empty
std::vector<std::string> trait_names(const OpTraits& traits);  // "channel permutation", "elementwise", ...
std::string inputs_str(const OpSchema& schema);     // "1", "2", "1 to 3", "at least 2"
std::string backward_str(const OpSchema& schema);   // "keeps its inputs", "not differentiable", ...

}  // namespace weft::runner
