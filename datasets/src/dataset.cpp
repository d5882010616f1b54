#include "readers.h"

#include <weft/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weft::datasets {
namespace {

const char* const fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

std::vector<std::string> digit_names() {
    std::vector<std::string> names;
    for (int digit = 0; digit < 10; ++digit) names.push_back(std::to_string(digit));
    return names;
}

std::vector<std::string> fashion_names() {
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

}  // namespace

std::string split_name(Split split) { return split == Split::train ? "train" : "test"; }

std::vector<std::string> dataset_kinds() {
    return {"cifar10:DIR", "cifar100:DIR", "mnist:DIR",
            fmt::format("fashion-mnist[:DIR] (default {})", fashion_mnist_default_dir),
            "folder:DIR", "imagenet:DIR"};
}

void require_directory(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw Error(fmt::format("{}: {}", dir.string(), std::filesystem::exists(dir, ec)
                                                            ? "not a directory" : "no such directory"));
}

std::filesystem::path find_data_file(const std::filesystem::path& dir, const std::string& stem,
                                     const std::vector<std::string>& suffixes) {
    require_directory(dir);
    std::vector<std::string> names{stem};
    for (const std::string& suffix : suffixes) names.push_back(stem + suffix);
    std::error_code ec;
    for (const std::string& name : names)
        if (std::filesystem::exists(dir / name, ec)) return dir / name;
    throw Error(fmt::format("{}: missing (expected {})", dir.string(), fmt::join(names, " or ")));
}

Dataset load_dataset(const std::string& spec, Split split) {
    std::size_t colon = spec.find(':');
    std::string kind = spec.substr(0, colon);
    std::string dir = colon == std::string::npos ? "" : spec.substr(colon + 1);
    if (kind == "fashion-mnist")
        return load_idx(dir.empty() ? fashion_mnist_default_dir : dir, split, kind, fashion_names());
    bool known = kind == "cifar10" || kind == "cifar100" || kind == "mnist" || kind == "folder" ||
                 kind == "imagenet";
    if (!known)
        throw Error(fmt::format("dataset '{}': unknown kind '{}' (expected one of: {})", spec, kind,
                                fmt::join(dataset_kinds(), ", ")));
    if (dir.empty())
        throw Error(fmt::format("dataset '{}': needs a directory, as in {}:DIR", spec, kind));
    if (kind == "cifar10") return load_cifar10(dir, split);
    if (kind == "cifar100") return load_cifar100(dir, split);
    if (kind == "mnist") return load_idx(dir, split, kind, digit_names());
    if (kind == "imagenet") return load_image_tree(dir, split);
    return load_folder(dir, split);
}

Dataset first_n(Dataset data, std::int64_t n) {
    if (n <= 0 || n >= data.size()) return data;
    data.labels.resize(n);
    if (data.streamed()) data.files.resize(n);
    else data.pixels.resize(n * data.image_bytes());
    return data;
}

Dataset slice(const Dataset& data, std::int64_t first, std::int64_t last) {
    if (first < 0 || last < first || last > data.size())
        throw Error(fmt::format("dataset '{}': images {}..{} are not within its {}", data.name, first, last,
                                data.size()));
    Dataset part;
    part.name = data.name;
    part.channels = data.channels, part.height = data.height, part.width = data.width;
    part.class_names = data.class_names;
    part.labels.assign(data.labels.begin() + first, data.labels.begin() + last);
    if (data.streamed()) {
        part.files.assign(data.files.begin() + first, data.files.begin() + last);
    } else {
        const std::int64_t bytes = data.image_bytes();
        part.pixels.assign(data.pixels.begin() + first * bytes, data.pixels.begin() + last * bytes);
    }
    return part;
}

void take_input_size(Dataset& data, std::int64_t height, std::int64_t width) {
    if (!data.streamed()) return;
    if (height <= 0 || width <= 0)
        throw Error(fmt::format("dataset '{}': input size {}x{} is not positive", data.name, width, height));
    data.height = height;
    data.width = width;
}

}  // namespace weft::datasets
