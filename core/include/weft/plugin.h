// The one door into weft for operator and backend libraries.
//
// A plugin library exports a single C symbol, `weft_plugin_entry`, returning a PluginDescriptor.
// The host reads `abi_version` first and refuses the library unless it equals the host's
// kPluginAbiVersion; only then does it call `register_plugin`. Everything a plugin registers
// (schemas, kernels, backends) goes through PluginRegistrar. See docs/plugins.md.
//
// Bump kPluginAbiVersion whenever a type reachable from this header set changes layout or
// meaning (a field added to OpSchema, a virtual added to Kernel, ...).
#pragma once

#include <cstdint>

#include "weft/device.h"
#include "weft/kernel.h"
#include "weft/op_schema.h"

namespace weft {

inline constexpr std::uint32_t kPluginAbiVersion = 1;

class PluginRegistrar {
public:
    virtual ~PluginRegistrar() = default;
    virtual void add_op(OpSchema schema) = 0;
    virtual void add_kernel(KernelFactory factory) = 0;
    virtual void add_backend(BackendFactory factory) = 0;
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
//   WEFT_PLUGIN("my_op_cpu", "1.0") { registrar.add_kernel(...); }
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
