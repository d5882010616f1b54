// CIFAR binary version: fixed-size records of label byte(s) followed by 3072 bytes, the R, G and
// B planes of a 32x32 image, which is already the planar CHW layout Dataset keeps.
#include "byte_stream.h"
#include "readers.h"

#include <weft/error.h>
#include <weft/input_file.h>

#include <fmt/format.h>

#include <cstring>
#include <sstream>

namespace weft::datasets {
namespace {

constexpr std::int64_t side = 32, image_bytes = 3 * side * side;
// Larger than any CIFAR-format file; a bigger one is a decompression bomb, not a dataset.
constexpr std::uint64_t file_limit = 4ull << 30;

struct RecordFormat {
    std::int64_t label_bytes;  // CIFAR-100 has a coarse label before the fine one
    std::int32_t classes;      // of the label kept, the last label byte
    std::int32_t coarse_classes;
};

// Appends every record of one file to data, validating its size and labels first.
void read_records(const std::filesystem::path& file, const RecordFormat& format, Dataset& data) {
    const std::int64_t record = format.label_bytes + image_bytes;
    ByteStream stream(file);
    if (auto size = stream.raw_size(); size && *size % record != 0)
        throw Error(fmt::format("{}: truncated: {} bytes is not a whole number of {}-byte records",
                                stream.where(), *size, record));
    std::vector<std::uint8_t> bytes;
    if (stream.raw_size()) bytes.reserve(*stream.raw_size());
    stream.append(bytes, file_limit);
    if (!stream.at_end())
        throw Error(fmt::format("{}: more than {} bytes decompressed, not a CIFAR file",
                                stream.where(), file_limit));
    const std::int64_t size = static_cast<std::int64_t>(bytes.size());
    if (size == 0) throw Error(fmt::format("{}: empty", stream.where()));
    if (size % record != 0)
        throw Error(fmt::format("{}: truncated: {} bytes is not a whole number of {}-byte records",
                                stream.where(), size, record));

    const std::int64_t count = size / record;
    const std::size_t first = data.pixels.size();
    data.pixels.resize(first + count * image_bytes);
    data.labels.reserve(data.labels.size() + count);
    for (std::int64_t i = 0; i < count; ++i) {
        const std::uint8_t* in = bytes.data() + i * record;
        if (format.label_bytes == 2 && in[0] >= format.coarse_classes)
            throw Error(fmt::format("{}: record {}: coarse label {} outside 0..{}", stream.where(), i,
                                    in[0], format.coarse_classes - 1));
        std::int32_t label = in[format.label_bytes - 1];
        if (label >= format.classes)
            throw Error(fmt::format("{}: record {}: label {} outside 0..{}", stream.where(), i, label,
                                    format.classes - 1));
        data.labels.push_back(label);
        std::memcpy(data.pixels.data() + first + i * image_bytes, in + format.label_bytes,
                    image_bytes);
    }
}

// One name per non-empty line; absent file: fallback. A file with the wrong count is an error
// rather than silently mislabelling classes. 100 names fit in far less than the bound, which keeps
// a file that is no list of names (/dev/zero behind a symlink, a huge file) from filling memory.
std::vector<std::string> read_class_names(const std::filesystem::path& file, std::size_t count,
                                          std::vector<std::string> fallback) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return fallback;
    std::istringstream in(read_whole_file(file, 1 << 20, "a list of class names"));
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line) && names.size() <= count;) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) names.push_back(line);
    }
    if (names.size() > count)
        throw Error(fmt::format("{}: more than {} class names", file.string(), count));
    if (names.size() < count)
        throw Error(fmt::format("{}: {} class names, expected {}", file.string(), names.size(), count));
    return names;
}

Dataset cifar_dataset(std::string name) {
    Dataset data;
    data.name = std::move(name);
    data.channels = 3;
    data.height = side;
    data.width = side;
    return data;
}

}  // namespace

Dataset load_cifar10(const std::filesystem::path& dir, Split split) {
    Dataset data = cifar_dataset("cifar10");
    std::vector<std::string> stems;
    if (split == Split::train)
        for (int i = 1; i <= 5; ++i) stems.push_back(fmt::format("data_batch_{}.bin", i));
    else
        stems.push_back("test_batch.bin");
    for (const std::string& stem : stems)
        read_records(find_data_file(dir, stem, {".xz"}), RecordFormat{1, 10, 0}, data);
    data.class_names = read_class_names(
        dir / "batches.meta.txt", 10,
        {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"});
    return data;
}

Dataset load_cifar100(const std::filesystem::path& dir, Split split) {
    Dataset data = cifar_dataset("cifar100");
    std::string stem = split == Split::train ? "train.bin" : "test.bin";
    read_records(find_data_file(dir, stem, {".xz"}), RecordFormat{2, 100, 20}, data);
    std::vector<std::string> fallback;
    for (int i = 0; i < 100; ++i) fallback.push_back(fmt::format("class_{}", i));
    data.class_names = read_class_names(dir / "fine_label_names.txt", 100, std::move(fallback));
    return data;
}

}  // namespace weft::datasets
