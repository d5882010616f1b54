// Where plugins and graph files are found, relative to the running program so that a build
// tree, a copied tree and an installed prefix all work without configuration.
#include <algorithm>
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

namespace {

// The plugin search path in order: --plugin-path, WEFT_PLUGIN_PATH, the default directory.
// `check`: a named directory that does not exist is an error (else it is left out); the
// default directory is left out when it does not exist.
std::vector<fs::path> plugin_search_path(const std::vector<std::string>& extra_dirs, bool check) {
    std::vector<fs::path> dirs;
    const auto add = [&](const fs::path& dir, const char* origin) {
        std::error_code ec;
        if (fs::is_directory(dir, ec)) {
            dirs.push_back(dir);
        } else if (check) {
            throw Error(fmt::format("plugin directory '{}' (from {}) does not exist", dir.string(), origin));
        }
    };
    for (const auto& e : extra_dirs)
        for (const auto& d : split_path_list(e)) add(d, "--plugin-path");
    for (const auto& d : env_path_list("WEFT_PLUGIN_PATH")) add(d, "WEFT_PLUGIN_PATH");
    std::error_code ec;
    if (fs::is_directory(default_plugin_directory(), ec)) dirs.push_back(default_plugin_directory());
    return dirs;
}

}  // namespace

void load_plugins(Registry& registry, const std::vector<std::string>& extra_dirs,
                  const std::vector<std::string>& backends) {
    const std::vector<fs::path> dirs = plugin_search_path(extra_dirs, /*check=*/true);
    const fs::path def = default_plugin_directory();
    std::error_code ec;
    const bool have_default = fs::is_directory(def, ec);
    registry.load_directories(dirs, backends);
    if (!have_default && registry.loaded().empty())
        throw Error(fmt::format("no plugins: the default plugin directory '{}' does not exist "
                                "(set WEFT_PLUGIN_PATH or --plugin-path)", def.string()));
}

std::vector<std::string> backends_on_search_path(const std::vector<std::string>& extra_dirs) {
    std::vector<std::string> names;
    for (const fs::path& dir : plugin_search_path(extra_dirs, /*check=*/false)) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            std::string name = backend_library_name(entry.path());
            if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end())
                names.push_back(std::move(name));
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<fs::path> graph_search_path() {
    std::vector<fs::path> dirs;
    for (const auto& d : env_path_list("WEFT_GRAPH_PATH")) dirs.emplace_back(d);
    dirs.push_back(program_prefix() / WEFT_GRAPH_SUBDIR);
    return dirs;
}

}  // namespace weft
