// The fused IGC block's vector pieces other than the primary's tiles — the secondary 1x1 group
// convolution over one band of the primary's output, and the padded copy of a band's input — shared
// by the kernel (igc_block_cpu.cpp) and its per-ISA translation units (igc_block_avx2.cpp,
// igc_block_avx512.cpp). Plain structs and function pointers only, under the rules of
// group_conv_small_groups.h: the ISA files are compiled for instructions the host may lack.
#pragma once

#include <cstdint>

namespace weft::igc_block {

// One band: `pixels` consecutive output pixels (whole rows) of one image.
struct SecondaryBand {
    const float* band;                  // the primary's output for the band: channel c at band + c * band_stride
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

// The input rows a band's primary reads, of one group, copied with the zero padding written out
// (rows above and below the image, `left` columns before each row, zeros after it up to
// `padded_width`, a whole number of vectors).
struct PaddedRows {
    const float* input;          // the group's first input channel plane
    float* padded;               // [channels][rows][padded_width]
    std::int64_t channels, height, width;
    std::int64_t top;            // the input row of padded row 0 (negative above the image)
    std::int64_t rows;           // padded rows to fill
    std::int64_t left;           // zero columns before each row
    std::int64_t padded_width;
    std::int64_t channel_stride;  // floats between the copy's channels
    // Input rows between this band's first and the next band's: each row copied asks the cache
    // for the row as far below, which the next band (on this thread, as a rule) will copy.
    std::int64_t prefetch_rows;
};

using PadFunction = void (*)(const PaddedRows& rows);

// The ISA paths; null where not compiled (not x86-64). Callers check the CPU first.
SecondaryFunction avx512_secondary();
SecondaryFunction avx2_secondary();
PadFunction avx512_pad();
PadFunction avx2_pad();

}  // namespace weft::igc_block
