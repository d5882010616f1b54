// PluginSet: plugin libraries loaded for a test, and where this weft keeps its own.
#include <dlfcn.h>

#include <fmt/format.h>

#include "weft/error.h"
#include "weft/registry.h"
#include "weft/testing/op_check.h"

namespace weft::testing {

namespace fs = std::filesystem;

// This library lives in <prefix>/lib (or the build tree's lib/), beside the plugin directory:
// found from the library's own file, so a moved prefix still finds its plugins.
fs::path weft_plugin_directory() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&weft_plugin_directory), &info) == 0 || !info.dli_fname)
        throw Error("weft::testing: cannot find the file of the testing library itself (dladdr failed)");
    const fs::path library = fs::weakly_canonical(fs::path(info.dli_fname));
    return library.parent_path().parent_path() / WEFT_PLUGIN_SUBDIR;
}

PluginSet::PluginSet(const std::vector<fs::path>& directories) : registry_(std::make_unique<Registry>()) {
    for (const fs::path& dir : directories) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec))
            throw Error(fmt::format("weft::testing: plugin directory '{}' does not exist", dir.string()));
    }
    registry_->load_directories(directories);
}

PluginSet::~PluginSet() = default;
PluginSet::PluginSet(PluginSet&&) noexcept = default;
PluginSet& PluginSet::operator=(PluginSet&&) noexcept = default;

std::vector<std::string> PluginSet::refused() const {
    std::vector<std::string> lines;
    for (const RefusedLibrary& r : registry_->refused()) lines.push_back(r.path.string() + ": " + r.reason);
    return lines;
}

std::string PluginSet::backend_unavailable_reason(const std::string& backend) const {
    const BackendFactory* factory = registry_->find_backend(backend);
    if (!factory) return fmt::format("no plugin registers the backend '{}'", backend);
    return factory->unavailable_reason ? factory->unavailable_reason() : std::string{};
}

const Registry& PluginSet::registry() const { return *registry_; }

}  // namespace weft::testing
