// The channel maps of a pointwise_conv node (set by the fold_permutations pass): which geometries
// the direct kernel, the one that reads them, computes (so the pass maps those alone), and the
// reason the kernels that cannot read them decline a mapped node.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "weft/convolution.h"
#include "weft/kernel.h"

namespace weft::pointwise {

// Channels per group, each side, up to which the direct kernel computes a node: measured as fast
// as oneDNN's up to a dense 64 -> 64 convolution; wider ones, not measured, stay with oneDNN.
inline constexpr std::int64_t kDirectMaxChannelsPerGroup = 64;

// Why the direct kernel does not compute a convolution of this geometry, or empty if it does.
inline std::string direct_declines_geometry(const ConvolutionGeometry& conv) {
    if (conv.stride_h != 1 || conv.stride_w != 1)
        return fmt::format("stride {}x{}: the direct kernel reads every pixel (stride 1 only)", conv.stride_h,
                           conv.stride_w);
    if (conv.in_per_group() > kDirectMaxChannelsPerGroup || conv.out_per_group() > kDirectMaxChannelsPerGroup)
        return fmt::format("groups of {} input and {} output channels: at most {} each", conv.in_per_group(),
                           conv.out_per_group(), kDirectMaxChannelsPerGroup);
    return {};
}

inline std::string declines_channel_maps(const KernelConfig& config) {
    if (config.attrs.get_ints("input_map").empty() && config.attrs.get_ints("output_map").empty()) return {};
    return "channel maps (made by the fold_permutations pass) are read by the direct kernel only; "
           "--passes=-fold_permutations keeps the permutations as nodes";
}

}  // namespace weft::pointwise
