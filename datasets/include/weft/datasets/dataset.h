// Labelled image sets held in memory as one block of planar CHW bytes, read from the formats the
// paper's experiments use (CIFAR-10, CIFAR-100, MNIST-style IDX) or from a folder of images.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::datasets {

struct Dataset {
    std::string name;  // "cifar10", "cifar100", "mnist", "fashion-mnist", "folder"
    std::int64_t channels = 0, height = 0, width = 0;
    std::vector<std::uint8_t> pixels;      // size() images of image_bytes(), each planar CHW
    std::vector<std::int32_t> labels;      // one per image, 0 .. class_names.size()-1
    std::vector<std::string> class_names;  // in label order

    std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
    std::int64_t image_bytes() const { return channels * height * width; }
    const std::uint8_t* image(std::int64_t index) const {
        return pixels.data() + index * image_bytes();
    }
};

enum class Split { train, test };

// spec is "kind:DIR": cifar10, cifar100, mnist, fashion-mnist (DIR optional: the Debian package
// dataset-fashion-mnist's /usr/share/datasets/fashion-mnist) or folder. Every failure is a
// weft::Error naming the file and the problem; files are validated before they are trusted.
Dataset load_dataset(const std::string& spec, Split split);

// The accepted spec forms, for --help text.
std::vector<std::string> dataset_kinds();

std::string split_name(Split split);  // "train", "test"

}  // namespace weft::datasets
