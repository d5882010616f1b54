// An ImageNet-style tree: DIR/train/CLASS/* and DIR/val/CLASS/* (or DIR/test/CLASS/*), images
// of any size. Only the listing happens here; the loader decodes each file when a batch needs it.
#include "readers.h"

#include <weft/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace weft::datasets {
namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path& path) { return path.filename().string().starts_with("."); }

bool image_extension(const fs::path& file) {
    std::string extension = file.extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

std::vector<fs::directory_entry> entries(const fs::path& dir) {
    std::vector<fs::directory_entry> found;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (!hidden(it->path())) found.push_back(*it);
    if (ec) throw Error(fmt::format("{}: cannot list: {}", dir.string(), ec.message()));
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.path() < b.path(); });
    return found;
}

std::set<std::string> class_folders(const fs::path& root) {
    std::set<std::string> names;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return names;
    for (const fs::directory_entry& entry : entries(root))
        if (entry.is_directory(ec)) names.insert(entry.path().filename().string());
    return names;
}

// The evaluation split: ImageNet calls it val; test is accepted too.
fs::path evaluation_root(const fs::path& dir) {
    std::error_code ec;
    return fs::is_directory(dir / "val", ec) ? dir / "val" : dir / "test";
}

}  // namespace

Dataset load_image_tree(const fs::path& dir, Split split) {
    require_directory(dir);
    const fs::path root = split == Split::train ? dir / "train" : evaluation_root(dir);
    require_directory(root);
    // Labels must mean the same in both splits, so classes come from both.
    std::set<std::string> classes = class_folders(dir / "train");
    classes.merge(class_folders(evaluation_root(dir)));

    Dataset data;
    data.name = "imagenet";
    data.channels = 3;  // gray and CMYK files become RGB as they are decoded
    data.class_names.assign(classes.begin(), classes.end());
    std::error_code ec;
    for (std::size_t label = 0; label < data.class_names.size(); ++label) {
        const fs::path class_dir = root / data.class_names[label];
        if (!fs::is_directory(class_dir, ec)) continue;  // a class present in the other split only
        for (const fs::directory_entry& entry : entries(class_dir)) {
            if (entry.is_directory(ec)) continue;
            if (!entry.is_regular_file(ec) || !image_extension(entry.path()))
                throw Error(fmt::format("{}: not a .jpg, .jpeg or .png file (an image tree holds only images)",
                                        entry.path().string()));
            data.files.push_back(entry.path());
            data.labels.push_back(static_cast<std::int32_t>(label));
        }
    }
    if (data.files.empty())
        throw Error(fmt::format("{}: no images (expected {}/<class>/<image>.jpg)", dir.string(),
                                root.filename().string()));
    return data;
}

}  // namespace weft::datasets
