// The zoo: family files on the graph search path (WEFT_GRAPH_PATH, then the installed graphs),
// which list_zoo enumerates and resolve_graph searches for a variant id or family name. It is
// separate because it finds files rather than reads one: it reads each family's header like
// read_graph_file_info and loads the one it picks through load_graph_file.
#include <algorithm>
#include <optional>
#include <set>
#include <system_error>

#include <fmt/format.h>

#include "graph_file_family.h"
#include "weft/graph_file.h"

namespace weft {
namespace fs = std::filesystem;
using graph_file::FamilyFile;
using graph_file::info_of;
using graph_file::load_source;
using graph_file::read_family_from;
using graph_file::SourceFilePtr;

namespace {

std::vector<fs::path> yaml_files_under(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& path = it->path();
        if (it->is_regular_file(ec) && (path.extension() == ".yaml" || path.extension() == ".yml")) files.push_back(path);
    }
    std::sort(files.begin(), files.end());
    return files;
}

// Block libraries (files without `family:`) live beside the families and are skipped.
std::optional<FamilyFile> read_if_family(const fs::path& path) {
    SourceFilePtr source = load_source(path, path.string());
    const YAML::Node& root = source->root;
    if (!root.IsMap() || !root["family"].IsDefined()) return std::nullopt;
    return read_family_from(source);
}

std::vector<GraphFileInfo> zoo_families() {
    std::vector<GraphFileInfo> families;
    std::set<fs::path> seen;
    for (const fs::path& dir : graph_search_path()) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) continue;
        for (const fs::path& path : yaml_files_under(dir)) {
            if (!seen.insert(fs::weakly_canonical(path, ec)).second) continue;
            if (auto family = read_if_family(path)) families.push_back(info_of(*family));
        }
    }
    return families;
}

}  // namespace

Graph resolve_graph(const std::string& spec, const GraphFileOptions& options) {
    std::error_code ec;
    // A file that is there is the graph meant, even when it cannot be read (a FIFO): the loader
    // says why, rather than a search of the zoo for its name.
    const fs::file_status status = fs::status(spec, ec);
    if (fs::exists(status) && !fs::is_directory(status)) return load_graph_file(spec, options);
    const std::vector<GraphFileInfo> families = zoo_families();
    for (const GraphFileInfo& info : families)
        for (const VariantInfo& variant : info.variants) {
            if (variant.id != spec) continue;
            if (!options.variant.empty() && options.variant != spec)
                throw Error(fmt::format("'{}' is itself a variant; it cannot also take variant '{}'", spec,
                                        options.variant));
            GraphFileOptions chosen = options;
            chosen.variant = spec;
            return load_graph_file(info.path, chosen);
        }
    for (const GraphFileInfo& info : families)
        if (info.family == spec) return load_graph_file(info.path, options);
    std::vector<std::string> dirs;
    for (const fs::path& dir : graph_search_path()) dirs.push_back(dir.string());
    throw Error(fmt::format("'{}' is neither a graph file nor a variant id or family on the graph search path "
                            "(searched: {}; set WEFT_GRAPH_PATH to add directories)", spec, fmt::join(dirs, ", ")));
}

std::vector<std::pair<GraphFileInfo, VariantInfo>> list_zoo() {
    std::vector<std::pair<GraphFileInfo, VariantInfo>> zoo;
    for (const GraphFileInfo& info : zoo_families())
        for (const VariantInfo& variant : info.variants) zoo.emplace_back(info, variant);
    return zoo;
}

}  // namespace weft
