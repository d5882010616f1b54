// The checkpoint of a training run: the weights, the optimiser's state and where the run stood
// (epoch, best accuracy so far, the metrics row of its epoch), in one safetensors file written
// atomically after every epoch, so a run killed at any moment resumes to the same result.
#pragma once

#include <filesystem>

#include "weft/optimizer.h"
#include "weft/report/files.h"
#include "weft/training.h"
#include "weft/training/model.h"
#include "weft/weights.h"

namespace weft::training {

struct Checkpoint {
    WeightMap weights, optimizer;
    int epoch = 0;
    double best_accuracy = -1;
    int best_epoch = 0;
    report::MetricsCsv::Row row;  // the metrics of its epoch
};

void save_checkpoint(const std::filesystem::path& path, const TrainingExecutor& exec, const Optimizer& optimizer,
                     const ModelInfo& info, double best_accuracy, int best_epoch, const report::MetricsCsv::Row& row);

// Reads a checkpoint and checks its weights against `graph`; errors name the file.
Checkpoint load_checkpoint(const std::filesystem::path& path, const Graph& graph);

}  // namespace weft::training
