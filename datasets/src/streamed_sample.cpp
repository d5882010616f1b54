#include "streamed_sample.h"

#include "random_stream.h"

#include <weft/datasets/image.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace weft::datasets {

int jpeg_denominator_for(const CropBox& box, std::int64_t out_height, std::int64_t out_width) {
    for (int denominator : {8, 4, 2})
        if (box.height / denominator >= double(out_height) && box.width / denominator >= double(out_width))
            return denominator;
    return 1;
}

void make_streamed_sample(const std::filesystem::path& file, std::int64_t height, std::int64_t width,
                          const Augmentation& augment, std::uint64_t& state, const float* scale,
                          const float* shift, float* out) {
    // The box is chosen from the stored size, before decoding, so the decoder can scale for it and
    // decode only what the resampling filter reads: the box and, around it, the filter's reach
    // (at most the reduction factor, at least a pixel, at the decoded scale) and a pixel more.
    CropBox box;
    bool chosen = false;
    const auto choose_box = [&](std::int64_t full_height, std::int64_t full_width) {
        box = augment.random_resized_crop ? random_resized_crop(full_height, full_width, augment.crop, state)
                                          : centre_crop(full_height, full_width, height, width, augment.centre_fraction);
        chosen = true;
    };
    ScaledImage read = read_image_scaled(file, [&](std::int64_t full_height, std::int64_t full_width) {
        choose_box(full_height, full_width);
        DecodePlan plan;
        plan.denominator = augment.scaled_decode ? jpeg_denominator_for(box, height, width) : 1;
        if (augment.partial_decode) {
            const double d = plan.denominator;
            const auto margin = [&](double size, std::int64_t out) {
                return std::ceil(std::max(size / double(out), d)) + 2 * d;
            };
            const double my = margin(box.height, height), mx = margin(box.width, width);
            plan.top = static_cast<std::int64_t>(std::floor(box.top - my));
            plan.left = static_cast<std::int64_t>(std::floor(box.left - mx));
            plan.height = static_cast<std::int64_t>(std::ceil(box.top + box.height + my)) - plan.top;
            plan.width = static_cast<std::int64_t>(std::ceil(box.left + box.width + mx)) - plan.left;
        }
        return plan;
    });
    if (!chosen) choose_box(read.full_height, read.full_width);  // a PNG: decoded whole, no question asked
    const bool flip = augment.horizontal_flip && (splitmix64(state) >> 63) != 0;

    // The box in the decoded part's pixels.
    const Image& image = read.image;
    const double sy = double(read.scaled_height) / double(read.full_height);
    const double sx = double(read.scaled_width) / double(read.full_width);
    const CropBox part{box.top * sy - double(read.top), box.left * sx - double(read.left), box.height * sy,
                       box.width * sx};
    resample(image.pixels.data(), image.channels, image.height, image.width, part, height, width, flip, out);

    const std::int64_t plane = height * width;
    for (std::int64_t c = 2; c > 0 && image.channels == 1; --c)  // gray: one plane made three
        std::memcpy(out + c * plane, out, plane * sizeof(float));
    for (std::int64_t c = 0; c < 3; ++c) {
        float* p = out + c * plane;
        for (std::int64_t i = 0; i < plane; ++i) p[i] = p[i] * scale[c] + shift[c];
    }
}

}  // namespace weft::datasets
