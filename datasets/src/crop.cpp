// Crop boxes: torchvision's RandomResizedCrop for training and resize-then-centre-crop for
// evaluation, on the random streams every loader sample draws from.
#include "random_stream.h"

#include <weft/datasets/transforms.h>
#include <weft/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace weft::datasets {

void validate(const RandomResizedCrop& crop) {
    if (!(crop.min_scale > 0 && crop.min_scale <= crop.max_scale && crop.max_scale <= 1))
        throw Error(fmt::format("crop scale range {},{} is not inside (0, 1] with min <= max", crop.min_scale,
                                crop.max_scale));
    if (!(crop.min_ratio > 0 && crop.min_ratio <= crop.max_ratio && std::isfinite(crop.max_ratio)))
        throw Error(fmt::format("crop ratio range {},{} is not positive with min <= max", crop.min_ratio,
                                crop.max_ratio));
}

CropBox random_resized_crop(std::int64_t height, std::int64_t width, const RandomResizedCrop& crop,
                            std::uint64_t& state) {
    const double area = double(height) * double(width);
    const double log_min = std::log(crop.min_ratio), log_max = std::log(crop.max_ratio);
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double target = area * (crop.min_scale + (crop.max_scale - crop.min_scale) * unit_interval(splitmix64(state)));
        const double ratio = std::exp(log_min + (log_max - log_min) * unit_interval(splitmix64(state)));
        const auto w = static_cast<std::int64_t>(std::lround(std::sqrt(target * ratio)));
        const auto h = static_cast<std::int64_t>(std::lround(std::sqrt(target / ratio)));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            const auto top = static_cast<std::int64_t>(below(splitmix64(state), std::uint64_t(height - h + 1)));
            const auto left = static_cast<std::int64_t>(below(splitmix64(state), std::uint64_t(width - w + 1)));
            return {double(top), double(left), double(h), double(w)};
        }
    }
    // No draw fitted (a very long or tall image): the whole image, cut to the nearest allowed ratio.
    const double ratio = double(width) / double(height);
    std::int64_t w = width, h = height;
    if (ratio < crop.min_ratio) h = std::max<std::int64_t>(1, std::lround(double(w) / crop.min_ratio));
    else if (ratio > crop.max_ratio) w = std::max<std::int64_t>(1, std::lround(double(h) * crop.max_ratio));
    return {double((height - h) / 2), double((width - w) / 2), double(h), double(w)};
}

CropBox centre_crop(std::int64_t height, std::int64_t width, std::int64_t out_height, std::int64_t out_width,
                    double fraction) {
    const double shorter = double(std::min(out_height, out_width)) / fraction;
    const double scale = std::round(shorter) / double(std::min(height, width));  // resized / source
    const double h = double(out_height) / scale, w = double(out_width) / scale;
    return {(double(height) - h) / 2, (double(width) - w) / 2, h, w};
}

}  // namespace weft::datasets
