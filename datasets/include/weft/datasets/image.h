// One decoded image file, for image-folder datasets and anything else that reads pictures.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace weft::datasets {

struct Image {
    std::int64_t channels = 0, height = 0, width = 0;  // channels: 1 (gray) or 3 (RGB)
    std::vector<std::uint8_t> pixels;                  // planar CHW
};

// PNG or JPEG, told apart by content, not by extension. PNG palette, gray, 16-bit and alpha
// images become 8-bit gray or RGB (alpha dropped, no gamma applied); corrupt or truncated data is
// a weft::Error naming the file, never a partial image.
Image read_image(const std::filesystem::path& file);

}  // namespace weft::datasets
