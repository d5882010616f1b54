// The one door into weft for operator and backend libraries.
//
// A plugin library exports a single C symbol, `weft_plugin_entry`, returning a PluginDescriptor.
// The host reads `abi_version` first and refuses the library unless it equals the host's
// kPluginAbiVersion; only then does it call `register_plugin`. Everything a plugin registers
// (schemas, kernels, backends) goes through PluginRegistrar. See docs/plugins.md.
//
// Bump WEFT_PLUGIN_ABI_VERSION whenever a type reachable from this header set changes layout or
// meaning (a field added to OpSchema, a virtual added to Kernel, ...); docs/plugins.md lists
// what does and does not need a bump.
#pragma once

#include <cstdint>

#include "weft/device.h"
#include "weft/graph_pass.h"
#include "weft/kernel.h"
#include "weft/op_schema.h"
#include "weft/optimizer_kernel.h"

namespace weft {

// The plugin ABI these headers describe. Every descriptor carries the value its plugin was
// compiled with, and the host refuses any other at load time.
#define WEFT_PLUGIN_ABI_VERSION 7
inline constexpr std::uint32_t kPluginAbiVersion = WEFT_PLUGIN_ABI_VERSION;

// Compile-time guard: a plugin written for one ABI defines WEFT_PLUGIN_ABI_REQUIRED (the
// weft_add_plugin(... ABI n) CMake helper does) and then fails to build, instead of failing to
// load, against headers of another version. The diagnostic names both numbers.
#ifdef WEFT_PLUGIN_ABI_REQUIRED
namespace detail {
template <std::uint32_t Required, std::uint32_t Headers>
struct PluginAbiCheck {
    static_assert(Required == Headers,
                  "this plugin requires another weft plugin ABI than these headers provide "
                  "(PluginAbiCheck<required, headers>); rebuild it against a matching weft");
    static constexpr bool ok = true;
};
static_assert(PluginAbiCheck<WEFT_PLUGIN_ABI_REQUIRED, kPluginAbiVersion>::ok);
}  // namespace detail
#endif

class PluginRegistrar {
public:
    virtual ~PluginRegistrar() = default;
    virtual void add_op(OpSchema schema) = 0;
    virtual void add_kernel(KernelFactory factory) = 0;
    virtual void add_backend(BackendFactory factory) = 0;
    virtual void add_pass(GraphPass pass) = 0;
    virtual void add_optimizer(OptimizerSchema schema) = 0;
    virtual void add_optimizer_kernel(OptimizerKernelFactory factory) = 0;
};

// Layout frozen across ABI versions: abi_version must stay the first field.
struct PluginDescriptor {
    std::uint32_t abi_version;
    const char* name;     // e.g. "group_conv_cpu"
    const char* version;  // the plugin's own version, free-form
    void (*register_plugin)(PluginRegistrar& registrar);
};

}  // namespace weft

#define WEFT_PLUGIN_ENTRY_SYMBOL "weft_plugin_entry"

// Defines the entry point. Usage, in exactly one source file of the library:
//   WEFT_PLUGIN("my_op_cpu", "1.0") { registrar.add_kernel(weft::kernel_factory<MyKernel>("my_op", "cpu", "mine")); }
#define WEFT_PLUGIN(NAME, VERSION)                                                      \
    static void weft_register_this_plugin(::weft::PluginRegistrar& registrar);          \
    extern "C" __attribute__((visibility("default"))) const ::weft::PluginDescriptor*  \
    weft_plugin_entry() {                                                               \
        static const ::weft::PluginDescriptor descriptor{::weft::kPluginAbiVersion, NAME, \
                                                         VERSION,                      \
                                                         &weft_register_this_plugin};   \
        return &descriptor;                                                             \
    }                                                                                   \
    static void weft_register_this_plugin([[maybe_unused]] ::weft::PluginRegistrar& registrar)
