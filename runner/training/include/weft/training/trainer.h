// The training loop behind `weft train`: epochs of SGD over a dataset with the paper's
// augmentation, a test evaluation per epoch, metrics and curves, and checkpoints written so that
// a run killed at any moment resumes from its last completed epoch to the same result.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "weft/datasets/transforms.h"
#include "weft/executor.h"
#include "weft/graph.h"
#include "weft/optimizer.h"
#include "weft/registry.h"
#include "weft/training/communicator.h"
#include "weft/training/device_allreduce.h"
#include "weft/training/model.h"

namespace weft::training {

// `weft train`'s optimiser: the sgd plugin (optimizers/sgd) with these hyperparameters, as
// recorded in run.json.
struct SgdSettings {
    float momentum = 0.9f;
    bool nesterov = true;
    float weight_decay = 1e-4f;
    // Decay the parameters the paper does not count too (batch-norm scale and shift).
    bool decay_uncounted = true;

    OptimizerOptions optimizer_options() const;
};

struct TrainConfig {
    ModelInfo model;          // graph, variant and sets, recorded in every weights file
    std::string data;         // dataset spec (datasets::load_dataset)
    int epochs = 1;           // train until this many epochs are done
    std::int64_t batch = 64;
    double lr = 0.1;
    std::string schedule = "cosine";  // LrSchedule::parse
    double warmup_epochs = 0;
    // The length the schedule is laid out over (cosine reaches its end value there); 0: `epochs`.
    // Fixed when a run starts and kept by --resume, so a longer resume does not stretch it.
    int schedule_epochs = 0;
    SgdSettings sgd;
    bool augment = true;      // zero-pad `pad`, random crop, horizontal flip (streamed sets: `crop`, flip)
    int pad = 4;
    datasets::RandomResizedCrop crop;  // streamed sets: the training crop's area and ratio ranges
    double centre_fraction = 0.875;    // streamed sets: evaluation's centre crop of the resized image
    std::uint64_t seed = 0;   // weights, data order and augmentation
    std::int64_t limit_train = 0, limit_test = 0;  // only the first N images (0: all)
    std::string loss_op = "softmax_cross_entropy";
    // Weight ε spread evenly over the classes in the training targets (the loss op's
    // label_smoothing attribute); 0 leaves the attribute unset, so any loss op works.
    double label_smoothing = 0;
    std::string init_weights;  // start from these weights instead of a seeded initialisation
    std::filesystem::path out_dir;
    // The ranks that train (data-parallel; `batch` is the global batch, cut into equal shards).
    // Recorded in run.json; not a setting a resume must keep: the checkpoint is the model.
    int world_size = 1;
    // --sync-bn: batch norm normalises with the statistics of the global batch, the ranks summing
    // them in every batch-norm forward and backward; otherwise each rank's own shard's. Like
    // world_size, recorded and set by each invocation (a resume on one process has one batch).
    bool sync_batch_norm = false;

    int schedule_length() const { return schedule_epochs > 0 ? schedule_epochs : epochs; }

    // The run's identity, saved as RUN_DIR/run.json: a resumed run reads it back (a run.json
    // from before schedule_epochs was recorded gives the epochs it was started with).
    std::string to_json() const;
    static TrainConfig from_json(const std::string& text);
};

// The run's learning rate per (fractional) epoch, laid out over schedule_length() epochs; past
// them it stays at the schedule's end value.
LrSchedule run_schedule(const TrainConfig& config);
// Refuses, with the fix, epochs past the end of a schedule that ends at 0 (cosine): they would
// not learn. Bad schedule options are refused here too.
void check_schedule_covers_epochs(const TrainConfig& config);
// What the learning rate does, in words, for a run that trains from `first_epoch` (0-based,
// the epochs already done) to config.epochs: the schedule's start, warm-up and end, and this
// run's first and last value.
std::string describe_schedule(const TrainConfig& config, int first_epoch);

struct EpochResult {
    int epoch = 0;  // 1-based
    double lr = 0, train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0, test_top5 = 0;
    double seconds = 0, images_per_second = 0;
    // Data-parallel runs: rank 0's seconds in the gradient exchange that backward did not hide
    // (waiting for the sums, writing them back), and those spent on it during backward.
    double exchange_seconds = 0, exchange_in_backward_seconds = 0;
};

struct TrainRuntime {
    CompileOptions compile;  // device, threads, kernel overrides
    bool progress = true;
    bool resume = false;     // continue from out_dir/checkpoint.safetensors (which must exist)
    // Start a run in a non-empty directory that is no weft run directory (no .weft-run marker).
    bool force = false;
    std::string passes = "default";  // graph passes valid in training (select_passes), e.g. fuse_batch_norm_relu
    int loader_threads = 0;  // threads making batches (training::loader_workers; 0: by the kind of set)
    // Builds the (plain, inference) graph of config.model at a batch size, shapes inferred.
    std::function<Graph(std::int64_t batch)> make_graph;
    // The weights the graph itself carries (an ONNX model's initialisers): where training starts
    // when config.init_weights names no file, instead of the seed.
    std::optional<WeightMap> graph_weights;
    // The signal that asks training to stop (SIGINT, SIGTERM; 0 while none), asked after every
    // step: the run then writes a checkpoint where it stands and throws Interrupted.
    std::function<int()> stop_requested;
    // Data-parallel training over these ranks (every rank calls train() alike); null: this process
    // alone. Rank 0 alone writes the run directory; evaluation is shared out and its counts summed.
    Communicator* communicator = nullptr;
    std::size_t bucket_bytes = 256 << 10;  // gradients per allreduce started during backward
    // Data-parallel: the exchange on the training device (NCCL for GPU ranks), made once the
    // device exists; empty, or returning null: through the host and `communicator`.
    using DeviceAllreduceFactory = std::function<std::unique_ptr<DeviceAllreduce>(Device&, Communicator&)>;
    DeviceAllreduceFactory device_allreduce;
};

// train() stopped on request: the step in flight was finished and a checkpoint written (inside
// an epoch when need be), from which --resume continues to the uninterrupted run's result.
// what() says where it stopped and how to continue.
class Interrupted : public std::runtime_error {
public:
    Interrupted(int signal, const std::string& message) : std::runtime_error(message), signal_(signal) {}
    int signal() const { return signal_; }

private:
    int signal_;
};

// Trains; returns one result per epoch run now. Files in config.out_dir: run.json,
// metrics.csv, curves.svg, checkpoint.safetensors (weights, momentum, position), best.safetensors
// and last.safetensors (weights with ModelInfo metadata). Stops with weft::Error on a
// non-finite loss, keeping the last good checkpoint, and with Interrupted when asked to stop.
std::vector<EpochResult> train(const TrainConfig& config, const Registry& registry, const TrainRuntime& runtime);

}  // namespace weft::training
