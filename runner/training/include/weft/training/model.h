// What turns a zoo graph into something trainable and back: the loss head appended to the
// classifier, and the metadata a weights file carries so that evaluation and `weft run` later
// rebuild the same graph and preprocess images the same way.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "weft/graph.h"
#include "weft/registry.h"
#include "weft/weights.h"

namespace weft::training {

struct LossHead {
    std::string logits;  // the value the loss reads (also kept as a graph output)
    std::string labels;  // the new graph input, i32 [N]
    std::string loss;    // the new graph output, f32 [1]
};

// The node that makes a classifier's single output probabilities: its op's schema declares
// OpTraits::probabilities (softmax's), it reads one input (the logits) and nothing else reads its
// output. -1 when there is none (or the graph has several outputs).
int find_probabilities_head(const Graph& graph, const Registry& registry);

// The classifier without that node (find_probabilities_head), so that the graph's output is the
// logits. The graph is rebuilt, leaving no orphan value of the dropped node, and its shapes
// inferred again. Returns the dropped node's name, or empty (graph unchanged) when there is no
// such node. Throws when the graph has several outputs.
std::string drop_probabilities_head(Graph& graph, const Registry& registry);

// Appends `loss_op` (default softmax_cross_entropy) to a classifier: the graph's single output,
// or that output's input when it is a softmax (the loss fuses the softmax, which is then
// dropped). Afterwards the graph's outputs are {loss, logits} and its inputs {images, labels};
// shapes are inferred again. Throws when the graph is not a single-output classifier.
// `loss_attrs` go on the loss node and are checked against the loss op's schema there.
LossHead attach_loss(Graph& graph, const Registry& registry, const std::string& loss_op = "softmax_cross_entropy",
                     const Attributes& loss_attrs = {});

// The metadata of a weft-trained weights file (safetensors "__metadata__", keys "weft.*").
struct ModelInfo {
    std::string graph;                   // the GRAPH argument: zoo id or file
    std::string variant;
    std::vector<std::string> sets;       // KEY=VALUE overrides
    std::string data;                    // dataset spec it was trained on
    std::vector<std::string> class_names;
    std::vector<float> mean, std;        // input normalisation, per channel, pixel/255 units
    int epoch = 0;                       // completed epochs
    double test_accuracy = -1;           // at that epoch; < 0 unknown

    std::map<std::string, std::string> to_metadata() const;
    // Missing keys stay default (plain weight files from `weft init` have none).
    static ModelInfo from_metadata(const std::map<std::string, std::string>& metadata);
    bool has_normalization() const { return !mean.empty() && mean.size() == std.size(); }
};

}  // namespace weft::training
