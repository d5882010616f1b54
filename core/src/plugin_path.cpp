// Where plugins and graph files are found, relative to the running program so that a build
// tree, a copied tree and an installed prefix all work without configuration.
#include <cstdlib>

#include <boost/dll/runtime_symbol_info.hpp>
#include <fmt/format.h>

#include "weft/error.h"
#include "weft/graph_file.h"
#include "weft/registry.h"

namespace weft {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_path_list(const std::string& list) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= list.size()) {
        std::size_t end = list.find(':', start);
        if (end == std::string::npos) end = list.size();
        if (end > start) parts.push_back(list.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

fs::path program_prefix() {
    // <prefix>/bin/weft, or <build>/tests/<test> in the build tree: both have the prefix one up.
    return fs::path(boost::dll::program_location().string()).parent_path().parent_path();
}

std::vector<std::string> env_path_list(const char* var) {
    const char* value = std::getenv(var);
    return value ? split_path_list(value) : std::vector<std::string>{};
}

}  // namespace

fs::path default_plugin_directory() { return program_prefix() / WEFT_PLUGIN_SUBDIR; }

void load_plugins(Registry& registry, const std::vector<std::string>& extra_dirs) {
    auto check_dir = [](const fs::path& dir, const char* origin) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec))
            throw Error(fmt::format("plugin directory '{}' (from {}) does not exist", dir.string(), origin));
    };
    std::vector<fs::path> dirs;
    for (const auto& e : extra_dirs)
        for (const auto& d : split_path_list(e)) {
            check_dir(d, "--plugin-path");
            dirs.emplace_back(d);
        }
    for (const auto& d : env_path_list("WEFT_PLUGIN_PATH")) {
        check_dir(d, "WEFT_PLUGIN_PATH");
        dirs.emplace_back(d);
    }
    const fs::path def = default_plugin_directory();
    std::error_code ec;
    const bool have_default = fs::is_directory(def, ec);
    if (have_default) dirs.push_back(def);
    registry.load_directories(dirs);
    if (!have_default && registry.loaded().empty())
        throw Error(fmt::format("no plugins: the default plugin directory '{}' does not exist "
                                "(set WEFT_PLUGIN_PATH or --plugin-path)", def.string()));
}

std::vector<fs::path> graph_search_path() {
    std::vector<fs::path> dirs;
    for (const auto& d : env_path_list("WEFT_GRAPH_PATH")) dirs.emplace_back(d);
    dirs.push_back(program_prefix() / WEFT_GRAPH_SUBDIR);
    return dirs;
}

}  // namespace weft
