#include "image_files.h"

#include <fmt/format.h>
#include <jpeglib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace weft::datasets::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / fmt::format("weft-datasets-{}-{}-{}", ::getpid(), counter++,
                                                    std::chrono::steady_clock::now().time_since_epoch().count());
    fs::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

void write_file(const fs::path& file, const Bytes& bytes) {
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << file;
}

Bytes read_bytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_png(const fs::path& file, int width, int height, png_uint_32 format, const void* pixels,
               const void* colormap, int colormap_entries) {
    fs::create_directories(file.parent_path());
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = format;
    image.colormap_entries = colormap_entries;
    ASSERT_TRUE(png_image_write_to_file(&image, file.c_str(), 0, pixels, 0, colormap)) << image.message;
}

void write_png_rows(const fs::path& file, int width, int height, int depth, int color, int interlace,
                    const Bytes& rows, int row_bytes) {
    std::FILE* out = std::fopen(file.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, out);
    png_set_IHDR(png, info, width, height, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    std::vector<png_bytep> pointers;
    for (int y = 0; y < height; ++y) pointers.push_back(const_cast<png_bytep>(rows.data()) + y * row_bytes);
    png_set_rows(png, info, pointers.data());
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
    png_destroy_write_struct(&png, &info);
    std::fclose(out);
}

void write_jpeg(const fs::path& file, int width, int height, int channels, const Bytes& interleaved, int quality) {
    fs::create_directories(file.parent_path());
    std::FILE* out = std::fopen(file.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    jpeg_compress_struct cinfo{};
    jpeg_error_mgr error{};
    cinfo.err = jpeg_std_error(&error);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, out);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = const_cast<std::uint8_t*>(interleaved.data()) + cinfo.next_scanline * width * channels;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    std::fclose(out);
}

Bytes smooth_rgb(int width, int height, int phase) {
    Bytes pixels;
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            pixels.push_back(static_cast<std::uint8_t>(40 + 4 * x + phase));
            pixels.push_back(static_cast<std::uint8_t>(60 + 3 * y));
            pixels.push_back(static_cast<std::uint8_t>(100 + 2 * (x + y)));
        }
    return pixels;
}

Bytes planar_from_interleaved(const Bytes& interleaved, int channels) {
    const std::size_t plane = interleaved.size() / channels;
    Bytes planar(interleaved.size());
    for (std::size_t i = 0; i < plane; ++i)
        for (int c = 0; c < channels; ++c) planar[c * plane + i] = interleaved[i * channels + c];
    return planar;
}

}  // namespace weft::datasets::testing
