// PNG and JPEG decoding. Both libraries report errors by longjmp. Every function that calls
// setjmp below holds only trivially destructible locals and writes its results through
// pointers, so a longjmp back into it skips no destructor; the C++ objects (buffers, the RAII
// guards that destroy the decoder) live in the caller, which throws weft::Error after cleanup.
#include "byte_stream.h"

#include <weft/datasets/image.h>
#include <weft/error.h>

#include <fmt/format.h>
#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>

namespace weft::datasets {
namespace {

constexpr std::uint64_t file_limit = 1ull << 30;
// Bytes of one decoded image: a 9000×9000 RGB photograph fits, a header's fantasy does not.
constexpr std::uint64_t pixel_limit = 1ull << 28;
// Deflate expands at most 1032-fold (a 258-byte match per 2 bits), so a PNG of n bytes holds at
// most 1032·n bytes of filtered rows, whatever its header says.
constexpr std::uint64_t deflate_max_ratio = 1032;
// Huffman-coded JPEG spends at least one bit on each 8×8 block's DC coefficient.
constexpr std::uint64_t jpeg_blocks_per_byte = 8;

bool is_png(const std::vector<std::uint8_t>& bytes) {
    static const std::uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return bytes.size() >= 8 && std::memcmp(bytes.data(), signature, 8) == 0;
}

bool is_jpeg(const std::vector<std::uint8_t>& bytes) {
    return bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff;
}

// Interleaved rows (HWC) to the planar CHW layout datasets keep.
std::vector<std::uint8_t> to_planar(const std::vector<std::uint8_t>& interleaved, std::int64_t channels,
                                    std::int64_t plane) {
    if (channels == 1) return interleaved;
    std::vector<std::uint8_t> planar(interleaved.size());
    for (std::int64_t i = 0; i < plane; ++i)
        for (std::int64_t c = 0; c < channels; ++c)
            planar[c * plane + i] = interleaved[i * channels + c];
    return planar;
}

// The checks of what a header claims, before anything is allocated for it.
void check_size(const std::filesystem::path& file, std::uint64_t width, std::uint64_t height,
                std::uint64_t channels, const std::optional<ImageSize>& expected) {
    if (width == 0 || height == 0)
        throw Error(fmt::format("{}: empty image ({}x{})", file.string(), width, height));
    if (expected && (std::int64_t(height) != expected->height || std::int64_t(width) != expected->width))
        throw Error(fmt::format("{}: {}x{} image, but {} is {}x{}", file.string(), width, height, expected->source,
                                expected->width, expected->height));
    if (width * height * channels > pixel_limit)
        throw Error(fmt::format("{}: {}x{} image is larger than {} bytes decoded", file.string(), width,
                                height, pixel_limit));
}

void check_claim_fits_file(const std::filesystem::path& file, std::uint64_t width, std::uint64_t height,
                           std::uint64_t needed, std::uint64_t most, const char* unit) {
    if (needed > most)
        throw Error(fmt::format("{}: the header claims a {}x{} image, {} {}, more than a file of its size can "
                                "hold ({} at most): corrupt or hostile",
                                file.string(), width, height, needed, unit, most));
}

// ---- PNG ----

struct PngState {
    const std::uint8_t* data;
    std::size_t size, position;
    char message[200];
};

void png_fail(png_structp png, png_const_charp message) {
    auto* state = static_cast<PngState*>(png_get_error_ptr(png));
    std::snprintf(state->message, sizeof state->message, "%s", message);
    png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}

void png_read_memory(png_structp png, png_bytep out, png_size_t n) {
    auto* state = static_cast<PngState*>(png_get_io_ptr(png));
    if (state->size - state->position < n) png_error(png, "truncated file");
    std::memcpy(out, state->data + state->position, n);
    state->position += n;
}

struct PngInfo {
    png_uint_32 width, height;
    int channels;
    std::uint64_t raw_row_bytes;  // as stored, before the conversion: what the deflate data holds
};

// Reads the header and sets up the conversion to 8-bit gray or RGB without alpha.
bool png_start(png_structp png, png_infop info, PngInfo* out) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_read_info(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    out->raw_row_bytes = (std::uint64_t{png_get_image_width(png, info)} * depth * png_get_channels(png, info) + 7) / 8;
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_scale_16(png);
    if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    out->width = png_get_image_width(png, info);
    out->height = png_get_image_height(png, info);
    out->channels = png_get_channels(png, info);
    return true;
}

// Rows are appended as they decode, so a truncated file costs what it holds, not what its header
// claims; interlaced images are read pass after pass into the same rows, all allocated first.
bool png_rows(png_structp png, png_infop info, std::vector<std::uint8_t>* pixels, std::size_t row_bytes,
              png_uint_32 height, int passes) {
    if (setjmp(png_jmpbuf(png))) return false;
    if (passes > 1) pixels->resize(row_bytes * height);
    for (int pass = 0; pass < passes; ++pass)
        for (png_uint_32 y = 0; y < height; ++y) {
            if (passes == 1) pixels->resize(row_bytes * (y + 1));
            png_read_row(png, pixels->data() + y * row_bytes, nullptr);
        }
    png_read_end(png, info);
    return true;
}

Image decode_png(const std::filesystem::path& file, const std::vector<std::uint8_t>& bytes,
                 const std::optional<ImageSize>& expected) {
    PngState state{bytes.data(), bytes.size(), 0, {}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, png_fail, png_ignore_warning);
    if (!png) throw Error(fmt::format("{}: cannot create a PNG decoder", file.string()));
    png_infop info = png_create_info_struct(png);
    struct Guard {
        png_structp* png;
        png_infop* info;
        ~Guard() { png_destroy_read_struct(png, info, nullptr); }
    } guard{&png, &info};
    if (!info) throw Error(fmt::format("{}: cannot create a PNG decoder", file.string()));
    png_set_read_fn(png, &state, png_read_memory);

    auto fail = [&] { return Error(fmt::format("{}: corrupt PNG: {}", file.string(), state.message)); };
    PngInfo header{};
    if (!png_start(png, info, &header)) throw fail();
    if (header.channels != 1 && header.channels != 3)
        throw Error(fmt::format("{}: PNG decodes to {} channels", file.string(), header.channels));
    check_size(file, header.width, header.height, header.channels, expected);
    // Each row is stored with one filter byte in front.
    check_claim_fits_file(file, header.width, header.height, (header.raw_row_bytes + 1) * header.height,
                          deflate_max_ratio * bytes.size(), "bytes of rows");
    const std::size_t row_bytes = std::size_t{header.width} * header.channels;
    if (png_get_rowbytes(png, info) != row_bytes)
        throw Error(fmt::format("{}: unexpected PNG row size", file.string()));
    std::vector<std::uint8_t> interleaved;
    int passes = png_get_interlace_type(png, info) == PNG_INTERLACE_NONE ? 1 : 7;
    if (!png_rows(png, info, &interleaved, row_bytes, header.height, passes)) throw fail();

    Image image{header.channels, header.height, header.width, {}};
    image.pixels = to_planar(interleaved, image.channels, image.height * image.width);
    return image;
}

// ---- JPEG ----

struct JpegError {
    jpeg_error_mgr manager;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
    auto* error = reinterpret_cast<JpegError*>(cinfo->err);
    error->manager.format_message(cinfo, error->message);
    std::longjmp(error->jump, 1);
}

// libjpeg only warns about corrupt or truncated data and decodes grey filler; a dataset must not
// train on that, so the first warning is an error.
void jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_fail(cinfo);
}

struct JpegInfo {
    JDIMENSION full_width, full_height;  // as stored
    JDIMENSION width, height;            // as decoded: scaled, and after the colour conversion
    int channels;                        // decoded: 1, 3, or 4 for CMYK (made RGB after decoding)
    bool cmyk;
    bool inverted;  // CMYK as Adobe writes it: 255 means no ink
    bool arithmetic;
    std::uint64_t blocks;  // 8×8 blocks over all components: what the entropy-coded data describes
};

bool jpeg_start(jpeg_decompress_struct* cinfo, const std::uint8_t* data, std::size_t size,
                JpegInfo* out) {
    auto* error = reinterpret_cast<JpegError*>(cinfo->err);
    if (setjmp(error->jump)) return false;
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
    jpeg_read_header(cinfo, TRUE);
    out->arithmetic = cinfo->arith_code;
    out->blocks = 0;
    for (int c = 0; c < cinfo->num_components; ++c)
        out->blocks += std::uint64_t{cinfo->comp_info[c].width_in_blocks} * cinfo->comp_info[c].height_in_blocks;
    out->cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    out->inverted = out->cmyk && cinfo->saw_Adobe_marker;
    out->full_width = cinfo->image_width;
    out->full_height = cinfo->image_height;
    return true;
}

// The output size for a decode at 1/denominator (libjpeg's scaled DCT) and the colour space asked for.
bool jpeg_scale(jpeg_decompress_struct* cinfo, unsigned denominator, JpegInfo* out) {
    auto* error = reinterpret_cast<JpegError*>(cinfo->err);
    if (setjmp(error->jump)) return false;
    cinfo->out_color_space = out->cmyk ? JCS_CMYK : cinfo->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    cinfo->scale_num = 1;
    cinfo->scale_denom = denominator;
    jpeg_calc_output_dimensions(cinfo);
    out->width = cinfo->output_width;
    out->height = cinfo->output_height;
    out->channels = cinfo->output_components;
    return true;
}

// Ink to light: r = (1 - c)(1 - k) per channel, as Photoshop and PIL read CMYK.
std::vector<std::uint8_t> cmyk_to_rgb(const std::vector<std::uint8_t>& cmyk, bool inverted) {
    std::vector<std::uint8_t> rgb(cmyk.size() / 4 * 3);
    for (std::size_t i = 0, o = 0; i < cmyk.size(); i += 4, o += 3) {
        const unsigned k = inverted ? cmyk[i + 3] : 255u - cmyk[i + 3];
        for (int c = 0; c < 3; ++c) {
            const unsigned light = inverted ? cmyk[i + c] : 255u - cmyk[i + c];
            rgb[o + c] = static_cast<std::uint8_t>((light * k + 127) / 255);
        }
    }
    return rgb;
}

// Scanlines are appended as they decode, so a truncated file costs what it holds.
bool jpeg_rows(jpeg_decompress_struct* cinfo, std::vector<std::uint8_t>* pixels, std::size_t row_bytes) {
    auto* error = reinterpret_cast<JpegError*>(cinfo->err);
    if (setjmp(error->jump)) return false;
    jpeg_start_decompress(cinfo);
    while (cinfo->output_scanline < cinfo->output_height) {
        pixels->resize(row_bytes * (std::size_t{cinfo->output_scanline} + 1));
        JSAMPROW row = pixels->data() + std::size_t{cinfo->output_scanline} * row_bytes;
        jpeg_read_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_decompress(cinfo);
    return true;
}

// Rows first_row..end_row-1 of the (scaled) output, columns first_column..+columns. Rows
// before are skipped (libjpeg-turbo decodes skipped rows' context exactly) and the decode stops
// after the last one. Columns are cropped (jpeg_crop_scanline, which widens to whole iMCUs), but
// chroma upsampling treats the crop's edges as the image's, so the crop asked of libjpeg reaches an
// iMCU further on each side and those columns are dropped: what is returned is what a decode of
// the whole image has there.
bool jpeg_part(jpeg_decompress_struct* cinfo, std::vector<std::uint8_t>* pixels, std::vector<std::uint8_t>* row,
               JDIMENSION first_row, JDIMENSION end_row, JDIMENSION first_column, JDIMENSION columns) {
    auto* error = reinterpret_cast<JpegError*>(cinfo->err);
    if (setjmp(error->jump)) return false;
    jpeg_start_decompress(cinfo);
    const JDIMENSION imcu = JDIMENSION(cinfo->max_h_samp_factor) * JDIMENSION(cinfo->min_DCT_scaled_size);
    JDIMENSION crop_first = first_column > imcu ? first_column - imcu : 0;
    JDIMENSION crop_columns = std::min(first_column + columns + imcu, cinfo->output_width) - crop_first;
    if (crop_columns < cinfo->output_width) jpeg_crop_scanline(cinfo, &crop_first, &crop_columns);
    const std::size_t channels = cinfo->output_components;
    row->resize(std::size_t{cinfo->output_width} * channels);
    const std::size_t skip = std::size_t{first_column - crop_first} * channels, kept = std::size_t{columns} * channels;
    if (first_row > 0) jpeg_skip_scanlines(cinfo, first_row);
    while (cinfo->output_scanline < end_row) {
        const std::size_t at = std::size_t{cinfo->output_scanline} - first_row;
        JSAMPROW target = row->data();
        jpeg_read_scanlines(cinfo, &target, 1);
        pixels->resize(kept * (at + 1));
        std::memcpy(pixels->data() + at * kept, row->data() + skip, kept);
    }
    jpeg_abort_decompress(cinfo);
    return true;
}

// The part of the scaled output that covers [start, start + size) stored pixels, in whole pixels.
std::pair<JDIMENSION, JDIMENSION> scaled_span(std::int64_t start, std::int64_t size, JDIMENSION stored,
                                              JDIMENSION scaled) {
    const double ratio = double(scaled) / double(stored);
    const auto first = static_cast<std::int64_t>(std::floor(double(std::max<std::int64_t>(start, 0)) * ratio));
    const auto end = static_cast<std::int64_t>(std::ceil(double(start + size) * ratio));
    const auto clamp = [&](std::int64_t v) { return static_cast<JDIMENSION>(std::clamp<std::int64_t>(v, 0, scaled)); };
    return {clamp(first), std::max(clamp(end), clamp(first) + 1)};
}

Image decode_jpeg(const std::filesystem::path& file, const std::vector<std::uint8_t>& bytes,
                  const std::optional<ImageSize>& expected, const DecodePlanner& planner,
                  ScaledImage* scaled = nullptr) {
    jpeg_decompress_struct cinfo{};
    JpegError error{};
    cinfo.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = jpeg_fail;
    error.manager.emit_message = jpeg_message;
    struct Guard {
        jpeg_decompress_struct* cinfo;
        ~Guard() { jpeg_destroy_decompress(cinfo); }
    } guard{&cinfo};

    auto fail = [&] { return Error(fmt::format("{}: corrupt JPEG: {}", file.string(), error.message)); };
    JpegInfo header{};
    if (!jpeg_start(&cinfo, bytes.data(), bytes.size(), &header)) throw fail();
    // Arithmetic coding may spend less than a bit per block, so no file size bounds what it claims.
    if (header.arithmetic)
        throw Error(fmt::format("{}: arithmetic-coded JPEG is not supported (only Huffman-coded JPEG, whose "
                                "size bounds its image, is read)", file.string()));
    const int stored_channels = header.cmyk ? 4 : cinfo.num_components == 1 ? 1 : 3;
    check_size(file, header.full_width, header.full_height, stored_channels, expected);
    // Progressive JPEG keeps every block's coefficients from the start: checked before that.
    check_claim_fits_file(file, header.full_width, header.full_height, header.blocks,
                          jpeg_blocks_per_byte * bytes.size(), "8x8 blocks");
    DecodePlan plan;
    if (planner) {
        plan = planner(header.full_height, header.full_width);
        if (plan.denominator != 1 && plan.denominator != 2 && plan.denominator != 4 && plan.denominator != 8)
            throw Error(fmt::format("{}: JPEG scale 1/{} is not 1/1, 1/2, 1/4 or 1/8", file.string(), plan.denominator));
    }
    if (!jpeg_scale(&cinfo, static_cast<unsigned>(plan.denominator), &header)) throw fail();
    if (header.channels != 1 && header.channels != 3 && header.channels != 4)
        throw Error(fmt::format("{}: JPEG decodes to {} channels", file.string(), header.channels));
    std::vector<std::uint8_t> interleaved;
    JDIMENSION first_row = 0, first_column = 0, rows = header.height, columns = header.width;
    if (plan.height > 0 && plan.width > 0) {
        const auto [top, bottom] = scaled_span(plan.top, plan.height, header.full_height, header.height);
        const auto [left, right] = scaled_span(plan.left, plan.width, header.full_width, header.width);
        first_row = top, rows = bottom - top, first_column = left, columns = right - left;
        std::vector<std::uint8_t> row;
        if (!jpeg_part(&cinfo, &interleaved, &row, top, bottom, left, columns)) throw fail();
    } else {
        if (!jpeg_rows(&cinfo, &interleaved, std::size_t{header.width} * header.channels)) throw fail();
    }
    if (header.cmyk) interleaved = cmyk_to_rgb(interleaved, header.inverted);
    if (scaled) {
        scaled->full_height = header.full_height;
        scaled->full_width = header.full_width;
        scaled->scaled_height = header.height;
        scaled->scaled_width = header.width;
        scaled->top = first_row;
        scaled->left = first_column;
    }

    Image image{header.cmyk ? 3 : header.channels, rows, columns, {}};
    image.pixels = to_planar(interleaved, image.channels, image.height * image.width);
    return image;
}

}  // namespace

Image read_image(const std::filesystem::path& file, std::optional<ImageSize> expected) {
    std::vector<std::uint8_t> bytes = read_file(file, file_limit);
    if (is_png(bytes)) return decode_png(file, bytes, expected);
    if (is_jpeg(bytes)) return decode_jpeg(file, bytes, expected, nullptr);
    throw Error(fmt::format("{}: neither a PNG nor a JPEG image", file.string()));
}

ScaledImage read_image_scaled(const std::filesystem::path& file, const DecodePlanner& plan) {
    std::vector<std::uint8_t> bytes = read_file(file, file_limit);
    ScaledImage scaled;
    if (is_png(bytes)) {
        scaled.image = decode_png(file, bytes, std::nullopt);
        scaled.full_height = scaled.scaled_height = scaled.image.height;
        scaled.full_width = scaled.scaled_width = scaled.image.width;
        return scaled;
    }
    if (is_jpeg(bytes)) {
        scaled.image = decode_jpeg(file, bytes, std::nullopt, plan, &scaled);
        return scaled;
    }
    throw Error(fmt::format("{}: neither a PNG nor a JPEG image", file.string()));
}

}  // namespace weft::datasets
