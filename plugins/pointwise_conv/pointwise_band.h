// A 1x1 group convolution over one band of pixels, forward and for the weight gradient, written
// once over a vector type (pointwise_band_body.h) and compiled per instruction set
// (pointwise_avx2.cpp, pointwise_avx512.cpp). Shared by pointwise_conv's direct kernel, which runs
// it on a tensor's own planes, and the fused IGC block, which runs it on the primary's output in a
// scratch through index maps. Plain structs and function pointers only, under the rules of
// group_conv_small_groups.h: the ISA files are compiled for instructions the host may lack.
#pragma once

#include <cstdint>

namespace weft::pointwise {

// Forward over one band: `pixels` consecutive pixels of one image.
struct Band {
    const float* band;  // the input at the band's first pixel
    const std::int64_t* source_offset;  // per input channel (group-major): offset of its plane in `band`
    const float* weight;                // [out_channels][in_per_group]
    const float* bias;                  // [out_channels], or null
    const std::int64_t* destination;    // per output channel: the plane of `output` it is written to
    float* output;                      // the output at the band's first pixel
    std::int64_t out_plane;             // floats between output planes
    std::int64_t pixels;
    std::int64_t groups, in_per_group, out_per_group;
    bool relu;
    // The input of the band this thread will likely run next (same offsets), or null: its lines
    // are asked of the cache as this band's first output block reads the same channels. A band's
    // channels lie a plane apart, each on its own pages, where the hardware prefetchers stop.
    const float* next_band = nullptr;
};

using BandFunction = void (*)(const Band& band);

// dL/dW over one band: grad_weight[o][i] += sum over the band's pixels of dy[o] * x[i], for each
// output channel o and each input channel i of its group, each read through its offset. Each
// weight's sum over the band is made in a fixed order (vector lanes, then the lanes added in
// order), so it does not depend on who computes it.
struct WeightGradBand {
    const float* input;                      // at the band's first pixel
    const std::int64_t* input_offset;        // per input channel (group-major): its plane's offset
    const float* grad_output;                // at the band's first pixel
    const std::int64_t* grad_output_offset;  // per output channel: its plane's offset
    float* grad_weight;                      // [out_channels][in_per_group], added to
    std::int64_t pixels;
    std::int64_t groups, in_per_group, out_per_group;
};

using WeightGradFunction = void (*)(const WeightGradBand& band);

// The ISA paths; null where not compiled (not x86-64). Callers check the CPU first.
// The AVX-512 band whose register block suits groups of `out_per_group` outputs over bands of
// `pixels` pixels, what the kernels run; avx512_band is its 8 x 3 block for every shape, the
// same sums in the same order, which pointwise_band_blocks_test holds the others to.
BandFunction avx512_band_for(std::int64_t out_per_group, std::int64_t pixels);
BandFunction avx512_band();
BandFunction avx2_band();
WeightGradFunction avx512_weight_grad();
WeightGradFunction avx2_weight_grad();

}  // namespace weft::pointwise
