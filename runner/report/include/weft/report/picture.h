// Pictures as files. Every picture weft draws is SVG first; a .png path gets that SVG rasterised
// by librsvg, the one PNG renderer of the runner (charts here, graph views in weft_viz).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace weft::report {

enum class PictureFormat { svg, png };

// By the path's extension, any case: .svg or .png. Anything else is a weft::Error naming the path
// and both extensions, so a command can refuse a name before it does its work.
PictureFormat picture_format(const std::filesystem::path& path);
std::string_view picture_format_name(PictureFormat format);

// The SVG document as PNG bytes: its intrinsic size at 96 dpi (pixel units stay as they are,
// points become 4/3 pixels), on white. Rendered in a child process (child_process.h); a document
// librsvg cannot read is a weft::Error with its reason.
std::string svg_to_png(std::string_view svg);

// `svg` in the format `path` names, written atomically (weft::write_file_atomically); the bytes written.
std::size_t write_picture(const std::filesystem::path& path, const std::string& svg);

}  // namespace weft::report
