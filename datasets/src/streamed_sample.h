// One sample of a streamed set: its file decoded (at the smallest JPEG scale that still covers
// the crop), the crop box chosen, resampled to the batch's size, flipped, normalised.
#pragma once

#include <weft/datasets/loader.h>

#include <cstdint>
#include <filesystem>

namespace weft::datasets {

// Writes channels × height × width floats to `out` (channels 3: gray files are replicated);
// `scale` and `shift` per channel turn [0, 255] into the normalised value. Draws the crop and
// the flip from `state`.
void make_streamed_sample(const std::filesystem::path& file, std::int64_t height, std::int64_t width,
                          const Augmentation& augment, std::uint64_t& state, const float* scale,
                          const float* shift, float* out);

// The largest JPEG denominator (8, 4, 2, 1) at which `box` still has at least out_height ×
// out_width pixels, so the scaled decode never costs resolution the resize would keep.
int jpeg_denominator_for(const CropBox& box, std::int64_t out_height, std::int64_t out_width);

}  // namespace weft::datasets
