// Labelled image sets held in memory as one block of planar CHW bytes, read from the formats the
// paper's experiments use (CIFAR-10, CIFAR-100, MNIST-style IDX) or from a folder of images.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace weft::datasets {

// Held in memory (pixels), or streamed (files): an ImageNet-sized set does not fit in memory, so
// its images stay files of any size that the loader decodes, crops and resizes to height × width
// as batches are made. A streamed set's height and width are 0 until the network's input size is
// known (take_input_size).
struct Dataset {
    std::string name;  // "cifar10", "cifar100", "mnist", "fashion-mnist", "folder", "imagenet"
    std::int64_t channels = 0, height = 0, width = 0;
    std::vector<std::uint8_t> pixels;      // in memory: size() images of image_bytes(), each planar CHW
    std::vector<std::filesystem::path> files;  // streamed: one image file per label
    std::vector<std::int32_t> labels;      // one per image, 0 .. class_names.size()-1
    std::vector<std::string> class_names;  // in label order

    bool streamed() const { return !files.empty(); }
    std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
    std::int64_t image_bytes() const { return channels * height * width; }
    const std::uint8_t* image(std::int64_t index) const {  // in memory only
        return pixels.data() + index * image_bytes();
    }
};

// The first n images (all when n <= 0 or n >= size).
Dataset first_n(Dataset data, std::int64_t n);
// Images first .. last-1, in memory or streamed (a rank's share of a test set).
Dataset slice(const Dataset& data, std::int64_t first, std::int64_t last);

// A streamed set takes the network's input size as the size of its batches; an in-memory set has
// its own and is left as it is (the caller compares).
void take_input_size(Dataset& data, std::int64_t height, std::int64_t width);

enum class Split { train, test };

// spec is "kind:DIR": cifar10, cifar100, mnist, fashion-mnist (DIR optional: the Debian package
// dataset-fashion-mnist's /usr/share/datasets/fashion-mnist), folder (images of one size, read
// into memory) or imagenet (DIR/train and DIR/val or DIR/test, each CLASS/*.jpg|jpeg|png of any
// size, streamed). Every failure is a
// weft::Error naming the file and the problem; files are validated before they are trusted.
Dataset load_dataset(const std::string& spec, Split split);

// The accepted spec forms, for --help text.
std::vector<std::string> dataset_kinds();

std::string split_name(Split split);  // "train", "test"

}  // namespace weft::datasets
