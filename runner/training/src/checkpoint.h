// The checkpoint of a training run: the weights, the optimiser's state and where the run stood
// (epoch, best accuracy so far, the metrics row of its epoch), in one safetensors file written
// atomically after every epoch, so a run killed at any moment resumes to the same result. A run
// stopped by SIGINT or SIGTERM writes one inside an epoch too, with how far that epoch got.
#pragma once

#include <filesystem>

#include "weft/optimizer.h"
#include "weft/report/files.h"
#include "weft/training.h"
#include "weft/training/model.h"
#include "weft/weights.h"

namespace weft::training {

// How far into the next epoch a checkpoint was taken (all zero at an epoch's end): the steps done
// and the sums behind the epoch's training metrics, so the resumed epoch's row is the one an
// uninterrupted run writes.
struct EpochProgress {
    std::int64_t steps = 0, correct = 0, seen = 0;
    double loss_sum = 0, seconds = 0;
    double lr = 0;  // of the last step done
};

struct Checkpoint {
    WeightMap weights, optimizer;
    int epoch = 0;
    double best_accuracy = -1;
    int best_epoch = 0;
    report::MetricsCsv::Row row;  // the metrics of its epoch (the last completed one)
    EpochProgress progress;       // into epoch `epoch + 1`
};

void save_checkpoint(const std::filesystem::path& path, const TrainingExecutor& exec, const Optimizer& optimizer,
                     const ModelInfo& info, double best_accuracy, int best_epoch, const report::MetricsCsv::Row& row,
                     const EpochProgress& progress = {});

// Reads a checkpoint and checks its weights against `graph`; errors name the file.
Checkpoint load_checkpoint(const std::filesystem::path& path, const Graph& graph);

}  // namespace weft::training
