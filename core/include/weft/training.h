// The training step: forward in training mode keeping only what backward needs, backward in
// reverse order, gradients summed where a value has several readers, every buffer planned once.
// Core knows no operator here either: what backward needs comes from each schema's
// BackwardNeeds and each kernel's saved_bytes(); the loss is whichever value the caller names.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "weft/checked_arithmetic.h"
#include "weft/executor.h"
#include "weft/graph.h"
#include "weft/kernel.h"
#include "weft/weights.h"

namespace weft {

// Where everything of one training step lives. Activations, gradients, saved state and the
// scratch of gradient sums share one arena, placed by liveness over the whole step (forward
// positions 0..F-1, then backward positions F..2F-1 in reverse order).
struct TrainingPlan {
    using Slot = BufferPlan::Slot;
    std::vector<int> order;                  // forward order of the nodes
    std::vector<bool> needs_backward;        // per node: it has parameters or a gradient flows through it
    std::vector<bool> in_place;              // per node: output 0 overwrites its inplace_input
    std::vector<Slot> values;                // per value: the activation
    std::vector<Slot> grads;                 // per value: dL/dvalue (bytes 0: none)
    std::vector<Slot> saved;                 // per node: the kernel's saved state
    struct GradTarget {
        Slot slot;                // where backward writes dL/dinput
        bool accumulate = false;  // then add it into grads[value] (a later reader wrote first)
    };
    std::vector<std::vector<GradTarget>> grad_inputs;  // per node, per input
    std::vector<std::vector<bool>> zero_grad_outputs;  // per node, per output: nothing flows back
    int loss_value = -1;

    std::size_t arena_bytes = 0;        // the peak of activations + gradients + saved state
    std::size_t activation_bytes = 0;   // all activations, were nothing freed or reused
    std::size_t gradient_bytes = 0;     // all activation gradients, likewise
    std::size_t saved_bytes = 0;        // all kernels' saved state
    std::size_t param_bytes = 0;        // every parameter (running statistics included)
    std::size_t param_grad_bytes = 0;
    std::size_t optimizer_bytes = 0;    // one momentum buffer per learnable parameter
    std::size_t workspace_bytes = 0;    // shared scratch, the largest kernel's
    std::size_t total_bytes() const {
        std::size_t total = arena_bytes;
        for (std::size_t part : {param_bytes, param_grad_bytes, optimizer_bytes, workspace_bytes})
            total = checked_add_bytes(total, part, "the training step's memory");
        return total;
    }
};

// Plans the training step of a shape-inferred graph whose value `loss_value` (a one-element
// tensor) is minimised. `saved_bytes` (per node, may be empty) and `workspace_bytes` come from
// the kernels when known. Throws when the loss is not a scalar or an operator on the gradient's
// path is not differentiable.
TrainingPlan plan_training(const Graph& graph, const Registry& registry, int loss_value,
                           const std::vector<std::size_t>& saved_bytes = {},
                           std::size_t workspace_bytes = 0, bool reuse_memory = true);

// Compiles the training step once (kernels in training mode, every buffer placed) and runs it
// per batch without allocating.
class TrainingExecutor {
public:
    // `loss` names the graph value to minimise; it must also be a graph output.
    TrainingExecutor(const Graph& graph, const Registry& registry, const WeightMap& weights,
                     const CompileOptions& options, const std::string& loss);
    ~TrainingExecutor();
    TrainingExecutor(const TrainingExecutor&) = delete;
    TrainingExecutor& operator=(const TrainingExecutor&) = delete;

    // Forward and backward for one batch: afterwards every parameter's gradient is ready and
    // running statistics are updated. Outputs as Executor::run (make_outputs gives the buffers).
    void step(std::span<const Tensor> inputs, std::span<Tensor> outputs);
    std::vector<Tensor> make_outputs() const;

    struct Parameter {
        std::string name;  // "<node>.<param>", as in weight files
        ParamSpec spec;
        TensorView value;  // device memory
        TensorView grad;   // device memory, written by step()
    };
    const std::vector<Parameter>& parameters() const;

    // Called inside step() right after the backward of each node that has parameters, with the
    // range [first, first + count) of parameters() whose gradients that backward wrote. They are
    // final then (a parameter belongs to one node) and the device has finished writing them, so a
    // caller can start sending them (data-parallel training) while backward goes on. Empty: none.
    using GradientsReady = std::function<void(std::size_t first, std::size_t count)>;
    void set_gradients_ready(GradientsReady hook);

    WeightMap weights() const;               // host copies of every parameter
    void set_weights(const WeightMap& weights);  // must match the graph (check_weights)

    const TrainingPlan& plan() const;
    const Graph& graph() const;
    Device& device();
    std::string kernel_name(int node) const;

    // Per-node wall time (seconds, summed since reset) of forward and backward when profiling.
    void set_profiling(bool on);
    const std::vector<double>& forward_seconds() const;
    const std::vector<double>& backward_seconds() const;
    void reset_profile();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace weft
