// A CIFAR-10-format dataset small enough for a test: random images whose brightness depends on
// their class, so a few steps of training have something to learn.
#pragma once

#include <filesystem>

namespace weft::testing {

struct TinyCifar {
    int per_file = 24;       // images in each of data_batch_1..5.bin and test_batch.bin
    unsigned seed = 3;       // of the labels and the noise
    int brightness = 20;     // a pixel is label · brightness + noise (mod 256)
    int noise = 50;          // uniform in 0 .. noise - 1
};

// Writes data_batch_1..5.bin and test_batch.bin into `dir` (created); returns `dir`.
std::filesystem::path write_tiny_cifar10(const std::filesystem::path& dir, const TinyCifar& shape = {});

}  // namespace weft::testing
