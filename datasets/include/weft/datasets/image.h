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

// Given the stored height and width, the denominator (1, 2, 4 or 8) to decode a JPEG at.
using DenominatorChoice = std::function<int(std::int64_t height, std::int64_t width)>;

struct ScaledImage {
    Image image;                                 // as decoded
    std::int64_t full_height = 0, full_width = 0;  // as stored
};

// read_image for pipelines that shrink what they read: a JPEG is decoded at 1/denominator of its
// stored size by libjpeg's scaled inverse DCT, far less work than decoding every pixel and
// shrinking afterwards; `choose` is asked once the header is read. A PNG decodes whole. CMYK JPEG
// (Adobe's inverted convention when its marker says so) becomes RGB, here and in read_image.
ScaledImage read_image_scaled(const std::filesystem::path& file, const DenominatorChoice& choose);

}  // namespace weft::datasets
