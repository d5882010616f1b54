// The plugin host: loads operator/kernel/backend libraries with Boost.DLL and keeps what they
// register. A library is accepted whole or refused whole, with the reason kept for `weft plugins`.
#include "weft/registry.h"

#include <dlfcn.h>

#include <algorithm>
#include <set>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "exception_text.h"
#include "weft/error.h"

namespace weft {
namespace fs = std::filesystem;

namespace {

// Collects one library's registrations so they can be checked before any is committed.
class StagingRegistrar final : public PluginRegistrar {
public:
    void add_op(OpSchema schema) override { ops.push_back(std::move(schema)); }
    void add_kernel(KernelFactory factory) override { kernels.push_back(std::move(factory)); }
    void add_backend(BackendFactory factory) override { backends.push_back(std::move(factory)); }
    void add_pass(GraphPass pass) override { passes.push_back(std::move(pass)); }
    void add_optimizer(OptimizerSchema schema) override { optimizers.push_back(std::move(schema)); }
    void add_optimizer_kernel(OptimizerKernelFactory factory) override {
        optimizer_kernels.push_back(std::move(factory));
    }

    std::vector<OpSchema> ops;
    std::vector<GraphPass> passes;
    std::vector<KernelFactory> kernels;
    std::vector<BackendFactory> backends;
    std::vector<OptimizerSchema> optimizers;
    std::vector<OptimizerKernelFactory> optimizer_kernels;
};

std::string library_stem(const fs::path& path) {
    std::string stem = path.stem().string();
    if (stem.rfind("lib", 0) == 0) stem = stem.substr(3);
    return stem;
}

}  // namespace

struct Registry::Impl {
    // Declared first so libraries are released last, after every function they provided.
    std::vector<boost::dll::shared_library> libraries;
    struct OpEntry {
        OpSchema schema;
        fs::path library;
    };
    std::vector<OpEntry> ops;
    std::vector<RegisteredKernel> kernels;
    struct BackendEntry {
        BackendFactory factory;
        fs::path library;
    };
    std::vector<BackendEntry> backends;
    struct PassEntry {
        GraphPass pass;
        fs::path library;
    };
    std::vector<PassEntry> passes;
    struct OptimizerEntry {
        OptimizerSchema schema;
        fs::path library;
    };
    std::vector<OptimizerEntry> optimizers;
    std::vector<RegisteredOptimizerKernel> optimizer_kernels;

    const OptimizerEntry* find_optimizer(std::string_view name) const {
        for (const auto& e : optimizers)
            if (e.schema.name == name) return &e;
        return nullptr;
    }
    const OpEntry* find_op(std::string_view name) const {
        for (const auto& e : ops)
            if (e.schema.name == name) return &e;
        return nullptr;
    }
    const BackendEntry* find_backend(std::string_view name) const {
        for (const auto& e : backends)
            if (e.factory.name == name) return &e;
        return nullptr;
    }

    // Returns an empty string when the staged registrations fit, else the reason to refuse.
    std::string conflicts(const StagingRegistrar& staged) const {
        for (std::size_t i = 0; i < staged.ops.size(); ++i) {
            const OpSchema& s = staged.ops[i];
            if (s.name.empty()) return "registers an operator with no name";
            if (!s.infer) return fmt::format("operator '{}' has no shape rule", s.name);
            if (const OpEntry* e = find_op(s.name))
                return fmt::format("registers operator '{}' already registered by {}", s.name, e->library.string());
            for (std::size_t j = 0; j < i; ++j)
                if (staged.ops[j].name == s.name) return fmt::format("registers operator '{}' twice", s.name);
        }
        for (const KernelFactory& k : staged.kernels) {
            if (k.op.empty() || k.backend.empty() || !k.create)
                return "registers a kernel without op, backend or create function";
        }
        for (const GraphPass& p : staged.passes) {
            if (p.name.empty() || !p.run) return "registers a graph pass without name or run function";
            for (const auto& e : passes)
                if (e.pass.name == p.name)
                    return fmt::format("registers graph pass '{}' already registered by {}", p.name, e.library.string());
        }
        for (std::size_t i = 0; i < staged.optimizers.size(); ++i) {
            const OptimizerSchema& o = staged.optimizers[i];
            if (o.name.empty()) return "registers an optimizer with no name";
            if (const OptimizerEntry* e = find_optimizer(o.name))
                return fmt::format("registers optimizer '{}' already registered by {}", o.name, e->library.string());
            for (std::size_t j = 0; j < i; ++j)
                if (staged.optimizers[j].name == o.name) return fmt::format("registers optimizer '{}' twice", o.name);
        }
        for (const OptimizerKernelFactory& k : staged.optimizer_kernels)
            if (k.optimizer.empty() || k.backend.empty() || !k.create)
                return "registers an optimizer kernel without optimizer, backend or create function";
        for (const BackendFactory& b : staged.backends) {
            if (b.name.empty() || !b.create) return "registers a backend without name or create function";
            if (const BackendEntry* e = find_backend(b.name))
                return fmt::format("registers backend '{}' already registered by {}", b.name, e->library.string());
        }
        return {};
    }
};

// Core's own pass needs no plugin: it knows no operator.
Registry::Registry() : impl_(std::make_unique<Impl>()) { impl_->passes.push_back({dead_node_pass(), "weft_core"}); }
Registry::~Registry() = default;

const OpSchema* Registry::find_op(std::string_view name) const {
    const auto* e = impl_->find_op(name);
    return e ? &e->schema : nullptr;
}

const OpSchema& Registry::op(std::string_view name) const {
    if (const OpSchema* s = find_op(name)) return *s;
    throw Error(fmt::format("unknown op '{}'", name));
}

std::vector<std::string> Registry::op_names() const {
    std::vector<std::string> names;
    for (const auto& e : impl_->ops) names.push_back(e.schema.name);
    std::sort(names.begin(), names.end());
    return names;
}

fs::path Registry::op_library(std::string_view name) const {
    const auto* e = impl_->find_op(name);
    return e ? e->library : fs::path{};
}

std::vector<const RegisteredKernel*> Registry::kernels(std::string_view op, std::string_view backend) const {
    std::vector<const RegisteredKernel*> out;
    for (const auto& k : impl_->kernels)
        if (k.factory.op == op && k.factory.backend == backend) out.push_back(&k);
    std::stable_sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->factory.priority > b->factory.priority; });
    return out;
}

namespace {

// A kernel's answer to "do you take this node?"; one that throws (anything) declines, saying why.
std::string ask_declines(const RegisteredKernel& kernel, const KernelConfig& node) {
    try {
        return kernel.factory.declines(node);
    } catch (...) {
        return fmt::format("its declines() failed: {}", detail::current_exception_text());
    }
}

}  // namespace

const RegisteredKernel& Registry::select_kernel(std::string_view op, std::string_view backend,
                                                const std::map<std::string, std::string>& overrides,
                                                const KernelConfig* node, std::vector<std::string>* passed_over) const {
    const auto candidates = kernels(op, backend);
    if (candidates.empty())
        throw Error(fmt::format("no {} kernel is registered for op '{}'", backend, op));
    const RegisteredKernel* forced = nullptr;
    if (auto it = overrides.find(std::string(op)); it != overrides.end()) {
        const std::string& want = it->second;
        for (const RegisteredKernel* k : candidates) {
            const std::string stem = library_stem(k->library);
            if (want == k->factory.name || want == stem || "weft_" + want == stem || want == k->library.string())
                forced = k;
        }
        if (!forced) {
            std::vector<std::string> names;
            for (const RegisteredKernel* k : candidates)
                names.push_back(fmt::format("{} ({})", k->factory.name, library_stem(k->library)));
            throw Error(fmt::format("--kernel {}={}: no such {} kernel (available: {})", op, want, backend,
                                    fmt::join(names, ", ")));
        }
        if (std::string why = kernel_unavailable_reason(*forced); !why.empty())
            throw Error(fmt::format("--kernel {}={}: that kernel is unavailable: {}", op, want, why));
    }
    std::vector<std::string> reasons;
    const auto takes = [&](const RegisteredKernel* k) {
        std::string why = kernel_unavailable_reason(*k);
        if (why.empty() && node && k->factory.declines) why = ask_declines(*k, *node);
        if (why.empty()) return true;
        reasons.push_back(fmt::format("{}: {}", library_stem(k->library), why));
        return false;
    };
    // A forced kernel comes first for every node; a node it declines gets the usual order.
    const RegisteredKernel* chosen = forced && takes(forced) ? forced : nullptr;
    for (auto it = candidates.begin(); !chosen && it != candidates.end(); ++it)
        if (*it != forced && takes(*it)) chosen = *it;
    if (passed_over) *passed_over = reasons;
    if (!chosen) throw Error(fmt::format("no usable {} kernel for op '{}' ({})", backend, op, fmt::join(reasons, "; ")));
    return *chosen;
}

std::string kernel_unavailable_reason(const RegisteredKernel& kernel) {
    if (!kernel.factory.unavailable_reason) return {};
    try {
        return kernel.factory.unavailable_reason();
    } catch (...) {
        return fmt::format("its availability check failed: {}", detail::current_exception_text());
    }
}

const OptimizerSchema* Registry::find_optimizer(std::string_view name) const {
    const auto* e = impl_->find_optimizer(name);
    return e ? &e->schema : nullptr;
}

std::vector<std::string> Registry::optimizer_names() const {
    std::vector<std::string> names;
    for (const auto& e : impl_->optimizers) names.push_back(e.schema.name);
    std::sort(names.begin(), names.end());
    return names;
}

fs::path Registry::optimizer_library(std::string_view name) const {
    const auto* e = impl_->find_optimizer(name);
    return e ? e->library : fs::path{};
}

const RegisteredOptimizerKernel& Registry::optimizer_kernel(std::string_view optimizer, std::string_view backend) const {
    if (!find_optimizer(optimizer)) {
        const auto names = optimizer_names();
        throw Error(fmt::format("unknown optimizer '{}' (registered: {})", optimizer,
                                names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
    }
    for (const auto& k : impl_->optimizer_kernels)
        if (k.factory.optimizer == optimizer && k.factory.backend == backend) return k;
    throw Error(fmt::format("optimizer '{}' has no {} kernel (is its {} library on the plugin path?)", optimizer,
                            backend, backend));
}

std::vector<const RegisteredOptimizerKernel*> Registry::optimizer_kernels() const {
    std::vector<const RegisteredOptimizerKernel*> out;
    for (const auto& k : impl_->optimizer_kernels) out.push_back(&k);
    return out;
}

std::vector<const GraphPass*> Registry::passes() const {
    std::vector<const GraphPass*> out;
    for (const auto& e : impl_->passes) out.push_back(&e.pass);
    std::sort(out.begin(), out.end(), [](const GraphPass* a, const GraphPass* b) {
        return a->order != b->order ? a->order < b->order : a->name < b->name;
    });
    return out;
}

fs::path Registry::pass_library(std::string_view name) const {
    for (const auto& e : impl_->passes)
        if (e.pass.name == name) return e.library;
    return {};
}

const BackendFactory* Registry::find_backend(std::string_view name) const {
    const auto* e = impl_->find_backend(name);
    return e ? &e->factory : nullptr;
}

std::vector<std::string> Registry::backend_names() const {
    std::vector<std::string> names;
    for (const auto& e : impl_->backends) names.push_back(e.factory.name);
    return names;
}

void Registry::require_backend(std::string_view backend) const {
    const BackendFactory* f = find_backend(backend);
    if (!f) {
        auto names = backend_names();
        throw Error(fmt::format("device '{}' is not available: no plugin provides that backend (loaded: {})", backend,
                                names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
    }
    // The backend's own checks run plugin code: whatever they throw is an error naming the library.
    const fs::path& library = impl_->find_backend(backend)->library;
    std::string why;
    try {
        if (f->unavailable_reason) why = f->unavailable_reason();
    } catch (...) {
        throw Error(fmt::format("device '{}' ({}): its availability check failed: {}", backend, library.string(),
                                detail::current_exception_text()));
    }
    if (!why.empty()) throw Error(fmt::format("device '{}' is not available: {}", backend, why));
}

std::unique_ptr<Device> Registry::create_device(std::string_view backend, const DeviceOptions& options) const {
    require_backend(backend);
    try {
        return find_backend(backend)->create(options);
    } catch (...) {
        throw Error(fmt::format("device '{}' ({}) could not be created: {}", backend,
                                impl_->find_backend(backend)->library.string(), detail::current_exception_text()));
    }
}

namespace {

// Calls the plugin's registration function, turning anything it throws into a refusal reason.
std::string stage_plugin(const PluginDescriptor& d, StagingRegistrar& staged) {
    if (d.abi_version != kPluginAbiVersion)
        return fmt::format("built for plugin ABI {}, but this weft loads plugin ABI {} only: rebuild it against "
                           "this weft's SDK (docs/plugins.md, \"The ABI promise\")",
                           d.abi_version, kPluginAbiVersion);
    if (!d.register_plugin) return "its descriptor has no registration function";
    try {
        d.register_plugin(staged);
    } catch (...) {
        return fmt::format("its registration failed: {}", detail::current_exception_text());
    }
    return {};
}

}  // namespace

void Registry::register_builtin(const PluginDescriptor& descriptor, const std::string& origin) {
    StagingRegistrar staged;
    std::string why = stage_plugin(descriptor, staged);
    if (why.empty()) why = impl_->conflicts(staged);
    if (!why.empty()) {
        refused_.push_back({origin, why});
        return;
    }
    LoadedLibrary info{origin, descriptor.name ? descriptor.name : "", descriptor.version ? descriptor.version : "",
                       {}, {}, {}, {}, {}};
    for (auto& s : staged.ops) {
        info.ops.push_back(s.name);
        impl_->ops.push_back({std::move(s), origin});
    }
    for (auto& k : staged.kernels) {
        info.kernels.push_back(fmt::format("{}/{}/{}", k.op, k.backend, k.name));
        impl_->kernels.push_back({std::move(k), origin});
    }
    for (auto& b : staged.backends) {
        info.backends.push_back(b.name);
        impl_->backends.push_back({std::move(b), origin});
    }
    for (auto& p : staged.passes) {
        info.passes.push_back(p.name);
        impl_->passes.push_back({std::move(p), origin});
    }
    for (auto& o : staged.optimizers) {
        info.optimizers.push_back(o.name);
        impl_->optimizers.push_back({std::move(o), origin});
    }
    for (auto& k : staged.optimizer_kernels) {
        info.optimizers.push_back(fmt::format("{}/{}/{}", k.optimizer, k.backend, k.name));
        impl_->optimizer_kernels.push_back({std::move(k), origin});
    }
    loaded_.push_back(std::move(info));
}

void Registry::load_library(const fs::path& path) {
    boost::dll::shared_library lib;
    // RTLD_NOW: an undefined symbol refuses the library here instead of crashing later.
    // RTLD_NODELETE: kernels may start threads (OpenMP) that must not see their code unmapped.
    const auto mode = static_cast<boost::dll::load_mode::type>(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    try {
        lib.load(boost::dll::fs::path(path.string()), mode);
    } catch (const std::exception& e) {
        refused_.push_back({path, fmt::format("cannot be loaded as a shared library: {}", e.what())});
        return;
    }
    using Entry = const PluginDescriptor* (*)();
    if (!lib.has(WEFT_PLUGIN_ENTRY_SYMBOL)) {
        refused_.push_back({path, "has no weft_plugin_entry symbol (not a weft plugin?)"});
        return;
    }
    Entry entry = lib.get<const PluginDescriptor*()>(WEFT_PLUGIN_ENTRY_SYMBOL);
    // dlsym also searches a library's dependencies: a library that links a real plugin but
    // defines no entry of its own would otherwise pass for that plugin.
    std::error_code ec;
    boost::dll::fs::error_code bec;
    auto where = boost::dll::symbol_location_ptr(entry, bec);
    if (!bec && fs::weakly_canonical(fs::path(where.string()), ec) != fs::weakly_canonical(path, ec)) {
        refused_.push_back({path, "has no weft_plugin_entry symbol of its own (not a weft plugin?)"});
        return;
    }
    const PluginDescriptor* d = nullptr;
    try {
        d = entry();
    } catch (...) {
        refused_.push_back({path, fmt::format("its weft_plugin_entry failed: {}", detail::current_exception_text())});
        return;
    }
    if (!d) {
        refused_.push_back({path, "its weft_plugin_entry returned no descriptor"});
        return;
    }
    const std::size_t refused_before = refused_.size();
    register_builtin(*d, path.string());
    if (refused_.size() == refused_before) impl_->libraries.push_back(std::move(lib));
}

std::string backend_library_name(const fs::path& file) {
    static const std::string prefix = "weft_backend_";
    const std::string stem = library_stem(file);
    if (file.extension() != ".so" || stem.rfind(prefix, 0) != 0 || stem.size() == prefix.size()) return {};
    return stem.substr(prefix.size());
}

namespace {

// The `*.so` files of one plugin directory, sorted. An entry that cannot be examined (a symlink
// loop, a dangling link, no permission) or is not a regular file is refused on its own, and a
// directory that cannot be listed is refused as a whole: neither stops the other plugins.
std::vector<fs::path> plugin_files(const fs::path& dir, std::vector<RefusedLibrary>& refused) {
    std::vector<fs::path> here;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const fs::path& p = it->path();
        if (p.extension() != ".so") continue;
        std::error_code status_error;
        const bool regular = it->is_regular_file(status_error);
        if (status_error)
            refused.push_back({p, fmt::format("cannot be examined: {}", status_error.message())});
        else if (!regular)
            refused.push_back({p, "is not a regular file"});
        else
            here.push_back(p);
    }
    if (ec) refused.push_back({dir, fmt::format("this plugin directory cannot be listed: {}", ec.message())});
    std::sort(here.begin(), here.end());
    return here;
}

// The backend in `known` whose libraries `file` belongs to (its own library, or a library named
// *_<backend>, which is what kernel libraries of that backend are called) and which is not
// `wanted`; empty when the file is wanted. Core knows no backend by name: `known` comes from
// the backend libraries found, `wanted` from the caller.
std::string unwanted_backend_of(const fs::path& file, const std::set<std::string>& known,
                                const std::vector<std::string>& wanted) {
    if (wanted.empty()) return {};
    const std::string stem = library_stem(file);
    for (const std::string& backend : known) {
        if (std::find(wanted.begin(), wanted.end(), backend) != wanted.end()) continue;
        if (stem.ends_with("_" + backend)) return backend;  // weft_backend_<name> ends so too
    }
    return {};
}

}  // namespace

void Registry::load_directories(const std::vector<fs::path>& dirs, const std::vector<std::string>& backends) {
    std::vector<fs::path> files;
    for (const fs::path& dir : dirs) {
        searched_.push_back(dir);
        const std::vector<fs::path> here = plugin_files(dir, refused_);
        files.insert(files.end(), here.begin(), here.end());
    }
    std::set<std::string> known;
    for (const fs::path& f : files)
        if (std::string backend = backend_library_name(f); !backend.empty()) known.insert(std::move(backend));
    std::erase_if(files, [&](const fs::path& f) {
        std::string backend = unwanted_backend_of(f, known, backends);
        if (backend.empty()) return false;
        skipped_.push_back({f, std::move(backend)});
        return true;
    });
    // The backend libraries first, so kernel libraries that link them find their device — and
    // the copy of it in the directory searched, not one their RPATH might name elsewhere.
    std::stable_partition(files.begin(), files.end(),
                          [](const fs::path& p) { return p.filename().string().find("backend") != std::string::npos; });
    for (const auto& f : files) load_library(f);
}

}  // namespace weft
