// An image folder: one sub-folder per class, named by the class; with train/ and test/ beside
// each other, one such tree per split.
#include "readers.h"

#include <weft/datasets/image.h>
#include <weft/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace weft::datasets {
namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path& path) { return path.filename().string().starts_with("."); }

std::vector<fs::path> entries(const fs::path& dir) {
    std::vector<fs::path> found;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (!hidden(it->path())) found.push_back(it->path());
    if (ec) throw Error(fmt::format("{}: cannot list: {}", dir.string(), ec.message()));
    std::sort(found.begin(), found.end());
    return found;
}

std::set<std::string> class_folders(const fs::path& root) {
    std::set<std::string> names;
    std::error_code ec;
    for (const fs::path& entry : entries(root))
        if (fs::is_directory(entry, ec)) names.insert(entry.filename().string());
    return names;
}

// The same image in another channel count: only gray to RGB is ever needed.
std::vector<std::uint8_t> as_rgb(const Image& image) {
    if (image.channels == 3) return image.pixels;
    std::vector<std::uint8_t> rgb;
    rgb.reserve(image.pixels.size() * 3);
    for (int c = 0; c < 3; ++c) rgb.insert(rgb.end(), image.pixels.begin(), image.pixels.end());
    return rgb;
}

}  // namespace

Dataset load_folder(const fs::path& dir, Split split) {
    require_directory(dir);
    std::error_code ec;
    fs::path root = dir;
    std::set<std::string> classes;
    if (fs::is_directory(dir / "train", ec) && fs::is_directory(dir / "test", ec)) {
        root = dir / split_name(split);
        // Labels must mean the same in both splits, so classes come from both.
        classes = class_folders(dir / "train");
        classes.merge(class_folders(dir / "test"));
    } else {
        classes = class_folders(dir);
    }

    Dataset data;
    data.name = "folder";
    data.class_names.assign(classes.begin(), classes.end());
    std::vector<Image> images;
    fs::path first_file;
    bool all_gray = true;
    for (std::size_t label = 0; label < data.class_names.size(); ++label) {
        fs::path class_dir = root / data.class_names[label];
        if (!fs::is_directory(class_dir, ec)) continue;  // a class present in the other split only
        for (const fs::path& file : entries(class_dir)) {
            if (fs::is_directory(file, ec)) continue;
            // Every image must have the first one's size: checked from the header, before decoding.
            std::optional<ImageSize> first_size;
            if (!images.empty()) first_size = ImageSize{images.front().height, images.front().width, first_file.string()};
            Image image = read_image(file, first_size);
            if (images.empty()) first_file = file;
            all_gray = all_gray && image.channels == 1;
            images.push_back(std::move(image));
            data.labels.push_back(static_cast<std::int32_t>(label));
        }
    }
    if (images.empty())
        throw Error(fmt::format("{}: no images (expected {}<class>/<image>)", dir.string(),
                                root == dir ? "" : split_name(split) + "/"));

    data.channels = all_gray ? 1 : 3;
    data.height = images.front().height;
    data.width = images.front().width;
    data.pixels.reserve(images.size() * data.image_bytes());
    for (Image& image : images) {
        std::vector<std::uint8_t> pixels = all_gray ? std::move(image.pixels) : as_rgb(image);
        data.pixels.insert(data.pixels.end(), pixels.begin(), pixels.end());
        image.pixels = {};
    }
    return data;
}

}  // namespace weft::datasets
