// Test support for the small-group kernel's instruction-set paths: forcing one for a scope, and
// telling whether this CPU can run it.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>

namespace weft::testing {

// Sets WEFT_SMALL_GROUPS_ISA for one scope; the kernel reads it when it is created. A suffix
// "_direct" or "_padded" (as in "avx512_padded") also sets WEFT_SMALL_GROUPS_INPUT: AVX-512's
// tiles read the image itself or a padded copy of it, whatever the kernel's default.
class ForcedIsa {
public:
    explicit ForcedIsa(std::string isa) {
        for (const std::string_view input : {"direct", "padded"}) {
            const std::string suffix = "_" + std::string(input);
            if (!isa.ends_with(suffix)) continue;
            isa.resize(isa.size() - suffix.size());
            setenv(kInput, std::string(input).c_str(), 1);
        }
        setenv(kIsa, isa.c_str(), 1);
    }
    ~ForcedIsa() {
        unsetenv(kIsa);
        unsetenv(kInput);
    }
    ForcedIsa(const ForcedIsa&) = delete;
    ForcedIsa& operator=(const ForcedIsa&) = delete;

private:
    static constexpr const char* kIsa = "WEFT_SMALL_GROUPS_ISA";
    static constexpr const char* kInput = "WEFT_SMALL_GROUPS_INPUT";
};

// Why this CPU cannot run an instruction-set path, or empty when it can.
inline std::string missing_isa(std::string isa) {
    for (const char* suffix : {"_direct", "_padded"})
        if (isa.ends_with(suffix)) isa.resize(isa.size() - std::string_view(suffix).size());
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
