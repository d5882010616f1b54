// The geometric transforms of ImageNet-style pipelines, on images of any size: which box of the
// source a sample is cut from (a random-resized crop for training, a centre crop of the image
// resized by its shorter side for evaluation), and the resampling of that box to the network's
// input size.
#pragma once

#include <cstdint>

namespace weft::datasets {

// A box of the source image in pixel units; edges may be fractional (a resize then crop is one
// box of the source).
struct CropBox {
    double top = 0, left = 0, height = 0, width = 0;
};

// The box's area as a fraction of the image, and its aspect ratio (width / height), are drawn
// uniformly and log-uniformly from these ranges: the Inception / ImageNet recipe.
struct RandomResizedCrop {
    double min_scale = 0.08, max_scale = 1.0;
    double min_ratio = 3.0 / 4.0, max_ratio = 4.0 / 3.0;
};

// Throws weft::Error naming the bad range.
void validate(const RandomResizedCrop& crop);

// torchvision's RandomResizedCrop.get_params: up to ten draws of (area, ratio) and a whole-pixel
// box that fits the image at a uniform offset; if none fits, the largest centred box whose ratio
// is clamped into the range. Consumes draws from `state` (random_stream.h's splitmix64).
CropBox random_resized_crop(std::int64_t height, std::int64_t width, const RandomResizedCrop& crop,
                            std::uint64_t& state);

// Evaluation's view: the image resized so that its shorter side is round(min(out) / fraction)
// (256 for 224 at the usual 0.875), then the centred out_height × out_width, as a box of the
// source.
CropBox centre_crop(std::int64_t height, std::int64_t width, std::int64_t out_height, std::int64_t out_width,
                    double fraction);

// Resamples `box` of a planar 8-bit image (channels × height × width) to out_height × out_width
// per channel, in [0, 255], mirrored left-right when `flip`. The filter is a triangle whose
// support widens with the reduction (PIL's antialiased bilinear), so a large shrink averages
// every pixel it covers instead of sampling a few; taps outside the image are dropped and the
// rest renormalised. `out` holds channels × out_height × out_width floats.
void resample(const std::uint8_t* planar, std::int64_t channels, std::int64_t height, std::int64_t width,
              const CropBox& box, std::int64_t out_height, std::int64_t out_width, bool flip, float* out);

}  // namespace weft::datasets
