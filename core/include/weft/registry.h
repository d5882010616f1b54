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
    std::vector<std::string> optimizers;  // schemas "sgd", kernels "sgd/cpu/plain"
};

struct RefusedLibrary {
    std::filesystem::path path;
    std::string reason;
};

// A library left unopened because it belongs to a backend nobody asked for.
struct SkippedLibrary {
    std::filesystem::path path;
    std::string backend;
};

struct RegisteredKernel {
    KernelFactory factory;
    std::filesystem::path library;
};

struct RegisteredOptimizerKernel {
    OptimizerKernelFactory factory;
    std::filesystem::path library;
};

// Why a kernel cannot run on this machine at all (its factory's unavailable_reason), or empty.
std::string kernel_unavailable_reason(const RegisteredKernel& kernel);

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
    // The kernel for a node: of the kernels usable on this machine, best first, the first that
    // does not decline `node` (KernelFactory::declines). A kernel forced by `overrides` ("op" ->
    // library stem or kernel name) is asked first; a node it declines gets the usual order.
    // Without `node`, the op-level choice (what `weft plugins` stars). `passed_over` receives
    // "library: why" for every kernel asked before the chosen one. Throws with the reasons when
    // no kernel takes the node, and when a forced kernel does not exist or cannot run here.
    const RegisteredKernel& select_kernel(std::string_view op, std::string_view backend,
                                          const std::map<std::string, std::string>& overrides = {},
                                          const KernelConfig* node = nullptr,
                                          std::vector<std::string>* passed_over = nullptr) const;

    // Optimisers (weft/optimizer_kernel.h): schemas by name, and the update kernel of one for a
    // backend (throws naming what is missing).
    const OptimizerSchema* find_optimizer(std::string_view name) const;
    std::vector<std::string> optimizer_names() const;
    std::filesystem::path optimizer_library(std::string_view name) const;
    const RegisteredOptimizerKernel& optimizer_kernel(std::string_view optimizer, std::string_view backend) const;
    std::vector<const RegisteredOptimizerKernel*> optimizer_kernels() const;

    // Graph passes registered by plugins, in run order.
    std::vector<const GraphPass*> passes() const;
    std::filesystem::path pass_library(std::string_view name) const;

    const BackendFactory* find_backend(std::string_view name) const;
    std::vector<std::string> backend_names() const;
    // Throws "device 'X' is not available: <why>" unless a loaded plugin provides `backend` and
    // it can make devices on this machine.
    void require_backend(std::string_view backend) const;
    // Creates a device or throws with the reason it is unavailable (require_backend).
    std::unique_ptr<Device> create_device(std::string_view backend, const DeviceOptions& options) const;

    // Loading. A library is accepted whole or refused whole (no partial registration).
    void load_library(const std::filesystem::path& path);
    // Loads every shared library in the directories (non-recursive, sorted by name), the backend
    // libraries (file names containing "backend") of all of them first: kernel libraries link a
    // backend, and one already loaded is the one they get, whatever their RPATH says.
    //
    // `backends` names the backends wanted; empty wants all. A backend is whatever a library
    // libweft_backend_<name>.so in the directories provides; for a backend not wanted, that
    // library and every library whose name ends in _<name> (its kernels) are skipped without
    // being opened (skipped()), so that a host which runs on one backend never maps another's
    // runtime.
    void load_directories(const std::vector<std::filesystem::path>& dirs,
                          const std::vector<std::string>& backends = {});
    void load_directory(const std::filesystem::path& dir, const std::vector<std::string>& backends = {}) {
        load_directories({dir}, backends);
    }
    // Registers a plugin linked into the current program (tests, static builds).
    void register_builtin(const PluginDescriptor& descriptor, const std::string& origin);

    const std::vector<LoadedLibrary>& loaded() const { return loaded_; }
    const std::vector<RefusedLibrary>& refused() const { return refused_; }
    const std::vector<SkippedLibrary>& skipped() const { return skipped_; }
    std::vector<std::filesystem::path> searched_directories() const { return searched_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::vector<LoadedLibrary> loaded_;
    std::vector<RefusedLibrary> refused_;
    std::vector<SkippedLibrary> skipped_;
    std::vector<std::filesystem::path> searched_;
};

// The backend a library file provides by its name: "cuda" for libweft_backend_cuda.so, empty for
// any other file.
std::string backend_library_name(const std::filesystem::path& file);

std::filesystem::path default_plugin_directory();

// Loads the plugins on the search path into `registry`, for the `backends` wanted (empty: all;
// see Registry::load_directories). A directory given explicitly that does not exist is an error;
// a missing default directory is an error only when nothing else loaded.
void load_plugins(Registry& registry, const std::vector<std::string>& extra_dirs,
                  const std::vector<std::string>& backends = {});

// The backends whose libraries lie on the search path (the existing directories of `extra_dirs`,
// WEFT_PLUGIN_PATH and the default directory), by file name alone: nothing is opened.
std::vector<std::string> backends_on_search_path(const std::vector<std::string>& extra_dirs = {});

}  // namespace weft
