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
    // Every value must be >= 0 (a variance): a weights file holding a negative one is refused at
    // load, naming the tensor, before a square root of it turns the output into NaN.
    bool non_negative = false;
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

// What passes and tools may assume about an operator, declared by its plugin so that nothing
// outside the plugin reads meaning into an op's name: a stranger's permutation op gets batch
// norm folded through it and shows in `weft viz --channels` exactly like channel_permute.
struct OpTraits {
    // The op only moves channels (dimension 1 of its one input) and changes no value:
    // output channel destination[c] holds input channel c. Given the validated attributes and
    // the channel count; returns a permutation of 0..channels-1. Empty: not a permutation.
    std::function<std::vector<std::int64_t>(const Attributes& attrs, std::int64_t channels)>
        channel_permutation;
    // y = f(x) element by element, one f for all elements (ReLU): it commutes with any channel
    // permutation, so passes may move it across one.
    bool elementwise = false;
    // The activation the op is, by name ("relu"). An op whose schema has a boolean attribute
    // `fused_<activation>` can apply it to its own output (the fuse passes use this pair).
    std::string activation;
    // A convolution whose channels are split into `groups` partitions (attribute "groups",
    // absent meaning 1) with the output channel first in its weight: `weft stats` reads an
    // IGC block's L and M from these.
    bool convolution = false;
    // Turns logits into probabilities over the class axis (softmax): training attaches its
    // loss to the logits and drops such an op at the end of a classifier.
    bool probabilities = false;
    // Whether inference, given these validated attributes, computes each sample (index of
    // dimension 0 of every input and output) from that sample alone, whatever the batch size:
    // nothing summed, averaged or looked up across the batch. An executor may then run a batch as
    // independent slices, one per thread (CompileOptions::samples_per_slice). Batch norm says yes
    // (inference uses its running statistics); softmax yes unless its axis is the batch's; a loss
    // averaged over the batch says no. Empty: no.
    std::function<bool(const Attributes& attrs)> independent_samples;
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
    OpTraits traits;
};

}  // namespace weft
