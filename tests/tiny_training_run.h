// A training run small enough for a unit test: a CIFAR-10-format dataset of a few random images
// with something to learn, the zoo's IGC-L24M2-D8 narrowed to L = M = 2, batch 16, and the
// runtime `weft train` would pass, on one thread so that two runs do the same arithmetic.
#pragma once

#include <filesystem>
#include <string>

#include "weft/training/trainer.h"

namespace weft::testing {

// A CIFAR-10-format dataset of `per_file` random images per batch file, in a fresh directory.
std::filesystem::path write_tiny_cifar(const std::string& name, int per_file);

training::TrainConfig tiny_run(const std::filesystem::path& data, const std::filesystem::path& out, int epochs);

// Compiles for `backend` (cpu, guarded, cuda); `resume` continues the run in the config's out_dir.
training::TrainRuntime tiny_runtime(bool resume, const std::string& backend = "cpu");

}  // namespace weft::testing
