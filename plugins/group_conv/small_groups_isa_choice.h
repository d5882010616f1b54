// Which vector code the small-group kernels run: AVX-512, else AVX2, else a portable loop, unless
// WEFT_SMALL_GROUPS_ISA=avx512|avx2|portable forces one (tests run each in turn). Shared by the
// group_conv kernel and the fused IGC block, which computes its primary with the same tiles.
// Include from host files only (not from the ISA translation units).
#pragma once

#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft::small_groups {

enum class Isa { avx512, avx2, portable };

inline std::string_view isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx512: return "avx512";
        case Isa::avx2: return "avx2";
        case Isa::portable: return "portable";
    }
    return "?";
}

inline bool cpu_supports(Isa isa) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (isa) {
        case Isa::avx512:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
        case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case Isa::portable: return true;
    }
    return false;
#else
    return isa == Isa::portable;
#endif
}

// The best path this CPU runs, unless WEFT_SMALL_GROUPS_ISA names one.
inline Isa chosen_isa() {
    const char* forced = std::getenv("WEFT_SMALL_GROUPS_ISA");
    if (forced == nullptr || *forced == '\0') {
        for (Isa isa : {Isa::avx512, Isa::avx2}) {
            if (cpu_supports(isa)) return isa;
        }
        return Isa::portable;
    }
    for (Isa isa : {Isa::avx512, Isa::avx2, Isa::portable}) {
        if (forced != isa_name(isa)) continue;
        if (!cpu_supports(isa)) {
            throw weft::Error(fmt::format(
                "WEFT_SMALL_GROUPS_ISA={}: this CPU does not support that instruction set", forced));
        }
        return isa;
    }
    throw weft::Error(fmt::format(
        "WEFT_SMALL_GROUPS_ISA={}: expected avx512, avx2 or portable", forced));
}

// Whether the AVX-512 tiles read the image itself (direct tiles) or a padded copy of it, as AVX2's
// always do. Each kernel has its default (`direct`); WEFT_SMALL_GROUPS_INPUT=direct|padded forces
// one (tests run both). The two make the same sums in the same order.
inline bool direct_input(Isa isa, bool direct) {
    if (isa != Isa::avx512) return false;
    const char* forced = std::getenv("WEFT_SMALL_GROUPS_INPUT");
    if (forced == nullptr || *forced == '\0') return direct;
    if (std::string_view(forced) == "direct") return true;
    if (std::string_view(forced) == "padded") return false;
    throw weft::Error(fmt::format("WEFT_SMALL_GROUPS_INPUT={}: expected direct or padded", forced));
}

// Whether the 3x3 weight gradient streams the input rows (the default) or the output rows:
// WEFT_SMALL_GROUPS_WEIGHT_GRAD=rows|columns (tests check the two give the same bits).
inline bool weight_grad_streams_rows() {
    const char* forced = std::getenv("WEFT_SMALL_GROUPS_WEIGHT_GRAD");
    if (forced == nullptr || *forced == '\0' || std::string_view(forced) == "rows") return true;
    if (std::string_view(forced) == "columns") return false;
    throw weft::Error(fmt::format("WEFT_SMALL_GROUPS_WEIGHT_GRAD={}: expected rows or columns", forced));
}

}  // namespace weft::small_groups
