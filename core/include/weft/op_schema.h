// What an operator *is*: its attributes, its shape rule, its learnable parameters and its cost.
// Core drives validation, shape inference and statistics through these schemas alone; it never
// looks at an operator's name to decide anything.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "weft/attributes.h"
#include "weft/tensor.h"

namespace weft {

// How a parameter is initialised by `weft init` (deterministic from the seed).
enum class ParamInit {
    he_normal,   // MSRA: N(0, sqrt(2 / fan_in)), as the paper's networks
    fan_in_uniform,  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)): fully connected layers, biases
    zeros,
    ones,
};

struct ParamSpec {
    std::string name;  // e.g. "weight"; stored as "<node>.<name>" in weight files
    TensorDesc desc;
    ParamInit init = ParamInit::he_normal;
    std::int64_t fan_in = 1;  // for he_normal / fan_in_uniform
    // Whether the paper's "#params" counts it: conv and FC weights and biases yes, batch-norm
    // scale/shift and running statistics no.
    bool counted = true;
    // Learnable parameters get gradients; running statistics are state, updated by the kernel.
    bool learnable = true;
};

// What shape inference concludes about one node, for a concrete batch size.
struct NodeSignature {
    std::vector<TensorDesc> outputs;
    std::vector<ParamSpec> params;
    std::int64_t macs = 0;  // multiply-adds for the whole batch (the paper's "FLOPs")
};

struct InferContext {
    const std::vector<TensorDesc>& inputs;
    const Attributes& attrs;  // validated, defaults filled in
};

// What backward needs kept from the forward pass, so the training planner frees the rest.
struct BackwardNeeds {
    bool inputs = true;
    bool outputs = false;
};

struct OpSchema {
    std::string name;
    std::string doc;
    int min_inputs = 1;
    int max_inputs = 1;  // -1: any number
    int num_outputs = 1;
    std::vector<AttrSpec> attrs;
    // Throws weft::Error with a message saying what was expected (core adds the node and place).
    std::function<NodeSignature(const InferContext&)> infer;
    // Output 0 may be written over this input (same shape, element-wise ops), letting the
    // scheduler run the node in place when nothing else reads that input later.
    std::optional<int> inplace_input;
    BackwardNeeds backward_needs;
    bool differentiable = true;
};

}  // namespace weft
