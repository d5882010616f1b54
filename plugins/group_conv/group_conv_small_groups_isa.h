// Test support for the small-group kernel's instruction-set paths: forcing one for a scope, and
// telling whether this CPU can run it.
#pragma once

#include <cstdlib>
#include <string>

namespace weft::testing {

// Sets WEFT_SMALL_GROUPS_ISA for one scope; the kernel reads it when it is created.
class ForcedIsa {
public:
    explicit ForcedIsa(const std::string& isa) { setenv(kVariable, isa.c_str(), 1); }
    ~ForcedIsa() { unsetenv(kVariable); }
    ForcedIsa(const ForcedIsa&) = delete;
    ForcedIsa& operator=(const ForcedIsa&) = delete;

private:
    static constexpr const char* kVariable = "WEFT_SMALL_GROUPS_ISA";
};

// Why this CPU cannot run an instruction-set path, or empty when it can.
inline std::string missing_isa(const std::string& isa) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (isa == "avx512" && !(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")))
        return "this CPU lacks AVX-512F/VL";
    if (isa == "avx2" && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return "this CPU lacks AVX2/FMA";
    return "";
#else
    return isa == "portable" ? "" : "not an x86-64 CPU";
#endif
}

}  // namespace weft::testing
