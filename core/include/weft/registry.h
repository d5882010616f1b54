// The host side of plugins: every schema, kernel and backend that loaded libraries registered,
// with the library each came from, and the libraries that were refused and why.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/plugin.h"

namespace weft {

struct LoadedLibrary {
    std::filesystem::path path;
    std::string name;
    std::string version;
    std::vector<std::string> ops;
    std::vector<std::string> kernels;   // "op/backend/name"
    std::vector<std::string> backends;
    std::vector<std::string> passes;
};

struct RefusedLibrary {
    std::filesystem::path path;
    std::string reason;
};

struct RegisteredKernel {
    KernelFactory factory;
    std::filesystem::path library;
};

class Registry {
public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    const OpSchema* find_op(std::string_view name) const;
    const OpSchema& op(std::string_view name) const;  // throws if unknown
    std::vector<std::string> op_names() const;
    std::filesystem::path op_library(std::string_view name) const;

    // Kernels for an op on a backend, best first (priority, then load order).
    std::vector<const RegisteredKernel*> kernels(std::string_view op, std::string_view backend) const;
    // The kernel to use: forced by `overrides` ("op" -> library stem or kernel name) when given,
    // else the highest-priority usable one. Throws with the reasons when none is usable.
    const RegisteredKernel& select_kernel(std::string_view op, std::string_view backend,
                                          const std::map<std::string, std::string>& overrides = {}) const;

    // Graph passes registered by plugins, in run order.
    std::vector<const GraphPass*> passes() const;
    std::filesystem::path pass_library(std::string_view name) const;

    const BackendFactory* find_backend(std::string_view name) const;
    std::vector<std::string> backend_names() const;
    // Creates a device or throws with the reason it is unavailable.
    std::unique_ptr<Device> create_device(std::string_view backend, const DeviceOptions& options) const;

    // Loading. A library is accepted whole or refused whole (no partial registration).
    void load_library(const std::filesystem::path& path);
    // Loads every shared library in the directories (non-recursive, sorted by name), the backend
    // libraries (file names containing "backend") of all of them first: kernel libraries link a
    // backend, and one already loaded is the one they get, whatever their RPATH says.
    void load_directories(const std::vector<std::filesystem::path>& dirs);
    void load_directory(const std::filesystem::path& dir) { load_directories({dir}); }
    // Registers a plugin linked into the current program (tests, static builds).
    void register_builtin(const PluginDescriptor& descriptor, const std::string& origin);

    const std::vector<LoadedLibrary>& loaded() const { return loaded_; }
    const std::vector<RefusedLibrary>& refused() const { return refused_; }
    std::vector<std::filesystem::path> searched_directories() const { return searched_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::vector<LoadedLibrary> loaded_;
    std::vector<RefusedLibrary> refused_;
    std::vector<std::filesystem::path> searched_;
};

// The plugin search path: `extra` (from --plugin-path, colon-separated allowed), then
// WEFT_PLUGIN_PATH (colon-separated), then the default directory next to the running program
// (<prefix>/lib/weft/plugins for <prefix>/bin/weft).
std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& extra);
std::filesystem::path default_plugin_directory();

// Loads the plugins on the search path into `registry`. A directory given explicitly that does
// not exist is an error; a missing default directory is an error only when nothing else loaded.
void load_plugins(Registry& registry, const std::vector<std::string>& extra_dirs);

}  // namespace weft
