// The scheduler: turns a shape-inferred graph into a compiled plan (topological order, a
// liveness-based buffer plan with in-place reuse, one kernel per node) and runs it per batch
// without allocating.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "weft/graph.h"
#include "weft/kernel.h"
#include "weft/weights.h"

namespace weft {

struct BufferPlan {
    static constexpr std::size_t kAlignment = 64;
    struct Slot {
        std::size_t offset = 0;
        std::size_t bytes = 0;
    };
    std::vector<int> order;               // node execution order
    std::vector<Slot> values;             // per graph value: where it lives in the arena
    std::vector<bool> in_place;           // per node: output 0 reuses its inplace_input's slot
    std::size_t arena_bytes = 0;          // activations (peak planned activation memory)
    std::size_t largest_value_bytes = 0;  // the single largest activation
    std::size_t workspace_bytes = 0;      // shared scratch, max over kernels
};

// Liveness-based first-fit placement: a value's slot is free again after its last reader ran.
// Graph inputs and outputs get slots of their own for the whole run. Kernels are not known yet
// here, so workspace_bytes stays 0 until an Executor fills it in.
BufferPlan plan_buffers(const Graph& graph, const Registry& registry);

struct CompileOptions {
    std::string backend = "cpu";
    DeviceOptions device;
    std::map<std::string, std::string> kernel_overrides;  // op -> library stem or kernel name
    // false: every buffer of the training step gets memory of its own and nothing runs in
    // place — the unoptimised reference the planned step is tested against.
    bool reuse_memory = true;
    // After every node's forward, copy its outputs to the host and stop at the first NaN or
    // infinity, naming the node (--check-numerics); the graph inputs are checked too. Slow.
    bool check_numerics = false;
    // Training only: batch statistics over these processes' batches together (KernelConfig::
    // batch_group; data-parallel training with --sync-bn). Null: over this process's batch.
    Collective* batch_group = nullptr;
    // Inference only (Executor): run the batch as slices of this many samples, each on one of
    // `lanes` threads with a one-thread device of its own, a lane taking the next slice as soon
    // as it finishes one. A sample's activations then stay in its core's cache from layer to
    // layer instead of the whole batch's going through memory at every layer, and a lane that
    // other processes slow down takes fewer slices instead of holding up a barrier. Used when the
    // batch is larger than a slice and every node's op declares OpTraits::independent_samples;
    // otherwise the whole batch runs at once (Executor::whole_batch_reason says why). 0: off.
    std::int64_t samples_per_slice = 0;
    // How many lanes run slices: device.threads when set, else the hardware's thread count.
    int lanes = 0;
};

class Executor {
public:
    // `graph` must be shape-inferred; `weights` must match it (check_weights).
    Executor(const Graph& graph, const Registry& registry, const WeightMap& weights,
             const CompileOptions& options);
    ~Executor();
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    // Host inputs in graph-input order; outputs are written to host tensors that must already
    // have the graph outputs' shapes (see make_outputs). No allocation happens here.
    void run(std::span<const Tensor> inputs, std::span<Tensor> outputs);
    std::vector<Tensor> make_outputs() const;

    // Sample-parallel inference (CompileOptions::samples_per_slice): the lanes running slices
    // and the samples per slice, both 0 when the whole batch runs at once; and why it does when
    // slices were asked for ("" when they run).
    int lanes() const;
    std::int64_t samples_per_slice() const;
    const std::string& whole_batch_reason() const;

    // With lanes: a lane's placement, with arena_bytes and workspace_bytes those of all lanes.
    const BufferPlan& plan() const;
    const Graph& graph() const;
    Device& device();  // with lanes: a device of `lanes` threads, for description() alone
    std::string kernel_name(int node) const;  // "library:kernel" chosen for a node

    // Per-node wall time of the last runs (seconds, summed since reset) when profiling is on;
    // with lanes, the lanes' times summed and divided by their number.
    void set_profiling(bool on);
    const std::vector<double>& node_seconds() const;
    void reset_profile();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace weft
