// Files the dataset tests write for themselves: a temporary directory, PNG and JPEG images
// (gray, RGB and CMYK), and the checks of one-line errors. Test-only (weft_datasets_test_files).
#pragma once

#include <weft/error.h>

#include <gtest/gtest.h>
#include <png.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

namespace weft::datasets::testing {

using Bytes = std::vector<std::uint8_t>;

// A fresh directory under the system's temporary directory, removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

void write_file(const std::filesystem::path& file, const Bytes& bytes);
Bytes read_bytes(const std::filesystem::path& file);

// Interleaved pixels in, PNG of the given simplified-API format out.
void write_png(const std::filesystem::path& file, int width, int height, png_uint_32 format, const void* pixels,
               const void* colormap = nullptr, int colormap_entries = 0);
// The low-level writer, for what the simplified API cannot write (bit depths, interlacing).
void write_png_rows(const std::filesystem::path& file, int width, int height, int depth, int color, int interlace,
                    const Bytes& rows, int row_bytes);
// channels 1 (gray), 3 (RGB) or 4 (CMYK, written as given with libjpeg's Adobe marker, so a
// reader takes 255 as no ink).
void write_jpeg(const std::filesystem::path& file, int width, int height, int channels, const Bytes& interleaved,
                int quality = 98);

// A smooth RGB picture (JPEG keeps those close) as interleaved bytes.
Bytes smooth_rgb(int width, int height, int phase);
Bytes planar_from_interleaved(const Bytes& interleaved, int channels);

// Runs f, expecting a weft::Error on one line whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
        ADD_FAILURE() << "expected weft::Error containing '" << *parts.begin() << "'";
    } catch (const weft::Error& e) {
        std::string message = e.what();
        for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    }
}

}  // namespace weft::datasets::testing
