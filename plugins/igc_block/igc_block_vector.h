// The fused IGC block's secondary 1x1 group convolution over one band of the primary's output
// (the primary's tiles and padded copy are the small-group kernel's), shared by the kernel
// (igc_block_cpu.cpp) and its per-ISA translation units (igc_block_avx2.cpp, igc_block_avx512.cpp). Plain
// structs and function pointers only, under the rules of group_conv_small_groups.h: the ISA files are
// compiled for instructions the host may lack.
#pragma once

#include <cstdint>

namespace weft::igc_block {

// One band: `pixels` consecutive output pixels (whole rows) of one image.
struct SecondaryBand {
    const float* band;  // the primary's output for the band: channel c at band + c * band_stride
    const std::int64_t* source_offset;  // per secondary input channel: offset of its plane in `band`
    const float* weight;                // [out_channels][in_per_group]
    const float* bias;                  // [out_channels], or null
    const std::int64_t* destination;    // per secondary output channel: the block output channel
    float* output;                      // the image's output at the band's first pixel
    std::int64_t out_plane;             // floats between output channels
    std::int64_t pixels;
    std::int64_t groups, in_per_group, out_per_group;
    bool relu;
};

using SecondaryFunction = void (*)(const SecondaryBand& band);

// The ISA paths; null where not compiled (not x86-64). Callers check the CPU first.
SecondaryFunction avx512_secondary();
SecondaryFunction avx2_secondary();


}  // namespace weft::igc_block
