// --check-numerics: after every node, its f32 outputs are copied to the host through the Device
// (so any backend can be checked, not only one whose memory the CPU addresses) and scanned for
// NaN and infinity. The first node whose output holds one is named, with its op, kernel, output
// and the element; everything it read was finite, since the inputs and every earlier node were
// checked too. Slow (one device-to-host copy per value) and meant for finding where numbers go
// wrong, not for production runs.
#pragma once

#include <span>
#include <vector>

#include "node_compiler.h"
#include "weft/device.h"
#include "weft/graph.h"

namespace weft::detail {

class NumericsCheck {
public:
    // Host scratch for the largest f32 value of `graph`, allocated once here, not per run.
    explicit NumericsCheck(const Graph& graph);

    // Throws naming the graph input and element when an input holds a non-finite value. Needs no
    // scratch (the inputs are on the host), so sliced inference checks the whole batch's with it.
    static void check_inputs(const Graph& graph, std::span<const Tensor> inputs);
    // Throws naming node, op, kernel, output and element when an output of `node` (just run, on
    // `device`) holds a non-finite value.
    void check_outputs(const Graph& graph, const CompiledNode& node, Device& device);

private:
    std::vector<float> scratch_;
};

}  // namespace weft::detail
