// One decoded image file, for image-folder datasets and anything else that reads pictures.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace weft::datasets {

struct Image {
    std::int64_t channels = 0, height = 0, width = 0;  // channels: 1 (gray) or 3 (RGB)
    std::vector<std::uint8_t> pixels;                  // planar CHW
};

struct ImageSize {
    std::int64_t height = 0, width = 0;
    std::string source;  // what has this size, for the error: "1.png", "the input of graph 'x'"
};

// PNG or JPEG, told apart by content, not by extension. PNG palette, gray, 16-bit and alpha
// images become 8-bit gray or RGB (alpha dropped, no gamma applied); corrupt or truncated data is
// a weft::Error naming the file, never a partial image. What the header claims is checked before
// anything is allocated for it: against `expected` when given (the size the graph takes, or the
// first image of a dataset), against the most a file of this size can encode, and against 256 MiB
// decoded. Only regular files are read (a FIFO would block).
Image read_image(const std::filesystem::path& file, std::optional<ImageSize> expected = std::nullopt);

// What of a JPEG to decode, decided once its header is read: the scale (1/denominator: 1, 2, 4
// or 8) and the part of the stored image that is needed (height 0: all of it).
struct DecodePlan {
    int denominator = 1;
    std::int64_t top = 0, left = 0, height = 0, width = 0;  // stored pixels
};
using DecodePlanner = std::function<DecodePlan(std::int64_t height, std::int64_t width)>;

struct ScaledImage {
    Image image;                                      // the decoded part
    std::int64_t full_height = 0, full_width = 0;      // as stored
    std::int64_t scaled_height = 0, scaled_width = 0;  // the whole image at the plan's scale
    std::int64_t top = 0, left = 0;                    // where `image` sits in the scaled image
};

// read_image for pipelines that crop and shrink what they read. A JPEG is decoded at
// 1/denominator of its stored size by libjpeg's scaled inverse DCT, far less work than decoding
// every pixel and shrinking afterwards, and only over the rows and columns of the plan's part
// (libjpeg-turbo's skipped scanlines and cropped rows, widened to whole coding blocks): its pixels
// are those a decode of the whole image at that scale has there. A PNG decodes whole and the
// planner is not asked. CMYK JPEG (Adobe's inverted convention when its marker says so) becomes
// RGB, here and in read_image.
ScaledImage read_image_scaled(const std::filesystem::path& file, const DecodePlanner& plan);

}  // namespace weft::datasets
