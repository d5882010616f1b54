// The channel maps of a pointwise_conv node (set by the fold_permutations pass), for the kernels
// that cannot read them: they decline such a node with this reason.
#pragma once

#include <string>

#include "weft/kernel.h"

namespace weft::pointwise {

inline std::string declines_channel_maps(const KernelConfig& config) {
    if (config.attrs.get_ints("input_map").empty() && config.attrs.get_ints("output_map").empty()) return {};
    return "channel maps (made by the fold_permutations pass) are read by the direct kernel only; "
           "--passes=-fold_permutations keeps the permutations as nodes";
}

}  // namespace weft::pointwise
