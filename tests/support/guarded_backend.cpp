#include "guarded_backend.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "op_harness.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace weft::testing {
namespace {

// Every guarded allocation, opened for the host while any Access object lives and closed again
// when the last one goes. One table for the process: the devices of several executors share it.
class GuardedMemory {
public:
    static GuardedMemory& instance() {
        static GuardedMemory memory;
        return memory;
    }
    void* map(std::size_t bytes) {
        const std::size_t length = round_to_pages(bytes);
        std::lock_guard lock(mutex_);
        void* p = ::mmap(nullptr, length, open_ > 0 ? PROT_READ | PROT_WRITE : PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw Error(fmt::format("guarded device: cannot map {} bytes", bytes));
        mappings_.emplace(p, length);
        return p;
    }
    void unmap(void* p) noexcept {
        std::lock_guard lock(mutex_);
        if (const auto it = mappings_.find(p); it != mappings_.end()) {
            ::munmap(p, it->second);
            mappings_.erase(it);
        }
    }
    void open() { set_access(+1); }
    void close() { set_access(-1); }

private:
    static std::size_t round_to_pages(std::size_t bytes) {
        const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        return (std::max<std::size_t>(bytes, 1) + page - 1) / page * page;
    }
    void set_access(int step) {
        std::lock_guard lock(mutex_);
        const int before = open_;
        open_ += step;
        if ((before == 0) == (open_ == 0)) return;  // still open, or still closed
        const int protection = open_ > 0 ? PROT_READ | PROT_WRITE : PROT_NONE;
        for (const auto& [p, length] : mappings_) ::mprotect(p, length, protection);
    }
    std::mutex mutex_;
    std::map<void*, std::size_t> mappings_;
    int open_ = 0;
};

// Guarded memory is the host's for the lifetime of one of these.
struct Access {
    Access() { GuardedMemory::instance().open(); }
    ~Access() { GuardedMemory::instance().close(); }
    Access(const Access&) = delete;
    Access& operator=(const Access&) = delete;
};

// A fault is most likely host code reading guarded memory: say so before dying of it.
void on_fault(int signal, siginfo_t* info, void*) {
    static const char hex[] = "0123456789abcdef";
    char text[] = "\nguarded backend: segmentation fault at 0x0000000000000000: host code touched device memory "
                  "outside the Device interface (or crashed otherwise)\n";
    auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    char* digits = std::strstr(text, "0x") + 2;
    for (int i = 15; i >= 0; --i, address >>= 4) digits[i] = hex[address & 0xf];
    [[maybe_unused]] const auto written = ::write(STDERR_FILENO, text, sizeof text - 1);
    ::signal(signal, SIG_DFL);
    ::raise(signal);
}

void report_faults() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action {};
        action.sa_sigaction = on_fault;
        action.sa_flags = SA_SIGINFO;
        ::sigaction(SIGSEGV, &action, nullptr);
    });
}

class GuardedDevice final : public Device {
public:
    explicit GuardedDevice(std::unique_ptr<Device> cpu) : cpu_(std::move(cpu)) {}
    const std::string& backend() const override {
        static const std::string name = "guarded";
        return name;
    }
    std::string description() const override { return "guarded (" + cpu_->description() + ")"; }
    void* allocate(std::size_t bytes) override { return GuardedMemory::instance().map(bytes); }
    void deallocate(void* ptr) noexcept override { GuardedMemory::instance().unmap(ptr); }
    void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
        Access access;
        std::memcpy(dst, src, bytes);
    }
    void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
        Access access;
        std::memcpy(dst, src, bytes);
    }
    void fill_zero(void* dst, std::size_t bytes) override {
        Access access;
        std::memset(dst, 0, bytes);
    }
    void synchronize() override { cpu_->synchronize(); }
    void accumulate(float* dst, const float* src, std::int64_t n) override {
        Access access;
        cpu_->accumulate(dst, src, n);
    }
    Device& cpu() { return *cpu_; }

private:
    std::unique_ptr<Device> cpu_;
};

Device& cpu_of(Device& device) {
    auto* guarded = dynamic_cast<GuardedDevice*>(&device);
    if (!guarded) throw Error(fmt::format("a guarded kernel was given a '{}' device", device.backend()));
    return guarded->cpu();
}

// The cpu kernel the registry would choose for the node, run with guarded memory opened.
class GuardedKernel final : public Kernel {
public:
    GuardedKernel(const Registry& registry, const std::string& op, const KernelConfig& config) {
        const KernelConfig on_cpu{config.node_name, config.attrs,   config.inputs,  config.outputs,
                                  config.params,    cpu_of(config.device), config.training, config.in_place,
                                  config.batch_group};
        const RegisteredKernel& chosen = registry.select_kernel(op, "cpu", {}, &on_cpu);
        Access access;
        kernel_ = chosen.factory.create(on_cpu);
    }
    std::size_t workspace_bytes() const override { return kernel_->workspace_bytes(); }
    std::size_t saved_bytes() const override { return kernel_->saved_bytes(); }
    bool has_backward() const override { return kernel_->has_backward(); }
    void forward(const ForwardArgs& args) override {
        Access access;
        kernel_->forward(args);
    }
    void backward(const BackwardArgs& args) override {
        Access access;
        kernel_->backward(args);
    }

private:
    std::unique_ptr<Kernel> kernel_;
};

class GuardedOptimizerKernel final : public OptimizerKernel {
public:
    GuardedOptimizerKernel(const Registry& registry, const std::string& optimizer, const OptimizerConfig& config)
        : kernel_(registry.optimizer_kernel(optimizer, "cpu")
                      .factory.create(OptimizerConfig{config.attrs, cpu_of(config.device)})) {}
    void update(const ParameterUpdate& update) override {
        Access access;
        kernel_->update(update);
    }

private:
    std::unique_ptr<OptimizerKernel> kernel_;
};

const Registry* registry_being_filled = nullptr;  // read by the registration function only

void register_guarded(PluginRegistrar& registrar) {
    const Registry& registry = *registry_being_filled;
    BackendFactory backend;
    backend.name = "guarded";
    backend.create = [&registry](const DeviceOptions& options) -> std::unique_ptr<Device> {
        return std::make_unique<GuardedDevice>(registry.create_device("cpu", options));
    };
    registrar.add_backend(std::move(backend));
    for (const std::string& op : registry.op_names()) {
        if (registry.kernels(op, "cpu").empty()) continue;
        KernelFactory kernel;
        kernel.op = op;
        kernel.backend = "guarded";
        kernel.name = "cpu_guarded";
        kernel.create = [&registry, op](const KernelConfig& config) -> std::unique_ptr<Kernel> {
            return std::make_unique<GuardedKernel>(registry, op, config);
        };
        registrar.add_kernel(std::move(kernel));
    }
    for (const RegisteredOptimizerKernel* cpu : registry.optimizer_kernels()) {
        if (cpu->factory.backend != "cpu") continue;
        const std::string optimizer = cpu->factory.optimizer;
        OptimizerKernelFactory kernel;
        kernel.optimizer = optimizer;
        kernel.backend = "guarded";
        kernel.name = "cpu_guarded";
        kernel.create = [&registry, optimizer](const OptimizerConfig& config) -> std::unique_ptr<OptimizerKernel> {
            return std::make_unique<GuardedOptimizerKernel>(registry, optimizer, config);
        };
        registrar.add_optimizer_kernel(std::move(kernel));
    }
}

}  // namespace

void register_guarded_backend(Registry& registry) {
    report_faults();
    registry_being_filled = &registry;
    const PluginDescriptor descriptor{kPluginAbiVersion, "guarded_backend", "test", &register_guarded};
    const std::size_t refused_before = registry.refused().size();
    registry.register_builtin(descriptor, "guarded_backend (test support)");
    registry_being_filled = nullptr;
    if (registry.refused().size() != refused_before)
        throw Error("guarded backend: refused: " + registry.refused().back().reason);
}

const Registry& guarded_registry() {
    static Registry registry;
    static std::once_flag once;
    std::call_once(once, [] {
        registry.load_directory(WEFT_TEST_PLUGIN_DIR, {"cpu"});
        register_guarded_backend(registry);
    });
    return registry;
}

const Registry& registry_for(const std::string& backend) {
    return backend == "guarded" ? guarded_registry() : build_registry();
}

}  // namespace weft::testing
