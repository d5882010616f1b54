// Data-parallel training's gradient exchange: after every rank's backward over its shard of the
// global batch, every rank holds the mean of all ranks' parameter gradients, so the same
// optimiser step on every rank keeps the models identical. Learnable parameters are grouped into
// buckets in the order backward finishes them; a bucket's allreduce starts as soon as its last
// gradient is written (TrainingExecutor::set_gradients_ready) and runs while backward goes on:
// through host memory and the Communicator, or on the device (DeviceAllreduce, NCCL) when given.
#pragma once

#include <cstddef>
#include <vector>

#include "weft/training.h"
#include "weft/training/communicator.h"
#include "weft/training/device_allreduce.h"

namespace weft::training {

class GradientAverager {
public:
    // Installs itself as `executor`'s gradients-ready hook (removed again by the destructor).
    // `on_device`: the buckets' means are taken there, without host copies (null: through the
    // host and `communicator`).
    GradientAverager(TrainingExecutor& executor, Communicator& communicator, std::size_t bucket_bytes,
                     DeviceAllreduce* on_device = nullptr);
    ~GradientAverager();
    GradientAverager(const GradientAverager&) = delete;
    GradientAverager& operator=(const GradientAverager&) = delete;

    // After step(): waits for every bucket's sum and writes the mean back as the gradients.
    void finish();

    // Seconds this rank spent on the exchange outside backward (waiting for sums and copying them
    // back) and inside it (copying gradients out and starting sums), summed since the last take.
    struct Seconds {
        double exposed = 0, during_backward = 0;
    };
    Seconds take_seconds();

    std::size_t gradient_bytes() const;  // sent per step: every learnable parameter's gradient
    std::size_t buckets() const { return buckets_.size(); }

private:
    struct Bucket {
        std::vector<std::size_t> parameters;  // indices into executor.parameters()
        std::size_t floats = 0;               // the bucket's gradients' values
        std::vector<float> sums;              // through the host: the gradients, end to end
        std::size_t waiting = 0;              // parameters whose gradient is not yet final
        bool started = false;
    };

    void ready(std::size_t first, std::size_t count);
    void start(Bucket& bucket);
    // Through the host: waits for every bucket's sum and copies the means into the gradients.
    void write_back_means();

    TrainingExecutor& executor_;
    Communicator& communicator_;
    DeviceAllreduce* on_device_;
    std::vector<TensorView> views_;  // a bucket's gradients, handed to on_device_
    std::vector<Bucket> buckets_;
    std::vector<int> bucket_of_;  // per parameter; -1: not learnable, never exchanged
    Seconds seconds_;
};

// Every parameter (and so the model) as rank 0 has it, on every rank: the ranks start from one
// model whatever each read or drew.
void broadcast_parameters(TrainingExecutor& executor, Communicator& communicator);

// Replaces every parameter that is not learnable (batch-norm running statistics) by its mean
// over the ranks, so that every rank evaluates and checkpoints the same model.
void average_statistics(TrainingExecutor& executor, Communicator& communicator);

}  // namespace weft::training
