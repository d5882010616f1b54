#include "run_input.h"

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/datasets/image.h"
#include "weft/error.h"
#include "weft/npy.h"

namespace weft::runner {
namespace {

struct ImageDims {
    std::int64_t n, c, h, w;
};

// Where pixel (n, c, y, x) lies in the source array.
std::int64_t source_index(const ImageDims& d, InputLayout layout, std::int64_t n, std::int64_t c, std::int64_t y,
                          std::int64_t x) {
    return layout == InputLayout::nhwc ? ((n * d.h + y) * d.w + x) * d.c + c : ((n * d.c + c) * d.h + y) * d.w + x;
}

// Float32 NCHW images from a source in either layout; `value(index, channel)` reads one element.
Tensor to_nchw(const ImageDims& d, InputLayout layout, const std::function<float(std::int64_t, std::int64_t)>& value) {
    Tensor out(TensorDesc{DType::f32, {d.n, d.c, d.h, d.w}, Layout::row_major});
    float* p = out.as<float>();
    for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t c = 0; c < d.c; ++c)
            for (std::int64_t y = 0; y < d.h; ++y)
                for (std::int64_t x = 0; x < d.w; ++x) *p++ = value(source_index(d, layout, n, c, y, x), c);
    return out;
}

// Pixels in [0, 255] become what the network saw in training, (x/255 − mean) / std per channel
// (datasets' Normalization); weights without statistics get x/255. `note` says which.
struct PixelNormalisation {
    std::vector<float> mean, std;
    std::string note;

    PixelNormalisation(const training::ModelInfo& info, std::int64_t channels, const std::string& where) {
        if (!info.has_normalization()) {
            mean.assign(channels, 0.f), std.assign(channels, 1.f);
            note = "uint8 pixels scaled to [0, 1]: the weights carry no normalisation";
            return;
        }
        if (static_cast<std::int64_t>(info.mean.size()) != channels)
            throw Error(fmt::format("{}: {} channels, but the weights' normalisation has {}", where, channels,
                                    info.mean.size()));
        mean = info.mean, std = info.std;
        note = fmt::format("uint8 pixels normalised as the weights were trained: (x/255 − mean) / std with mean "
                           "[{:.4g}] and std [{:.4g}]",
                           fmt::join(mean, ", "), fmt::join(std, ", "));
    }
    float operator()(std::uint8_t pixel, std::int64_t channel) const {
        return (pixel / 255.f - mean[channel]) / std[channel];
    }
};

std::string shape_list(const Shape& s) { return fmt::format("{}", fmt::join(s, ", ")); }

// The layout of an array's last three dimensions against the graph's [C, H, W], and why.
InputLayout choose_layout(const Shape& dims, std::int64_t channels, InputLayout asked, std::string& why) {
    if (asked != InputLayout::detect) {
        why = asked == InputLayout::nhwc ? "--input-layout nhwc" : "";
        return asked;
    }
    if (dims[2] == channels && dims[0] != channels) {
        why = fmt::format("detected: the last dimension is the {} channels, the first image dimension is not; "
                          "--input-layout nchw overrides",
                          channels);
        return InputLayout::nhwc;
    }
    return InputLayout::nchw;
}

// An input that is not images ([N, features], say): float values as they are, in the graph's shape.
RunInput read_plain_npy(const std::string& path, const Tensor& array, const std::string& stored,
                        const Shape& sample_shape, InputLayout layout) {
    if (layout == InputLayout::nhwc)
        throw Error(fmt::format("--input-layout nhwc: the graph's input [N, {}] is not images", shape_list(sample_shape)));
    if (array.desc().dtype == DType::u8)
        throw Error(fmt::format("{}: uint8 arrays are read as image pixels, but the graph's input [N, {}] is not images",
                                path, shape_list(sample_shape)));
    Shape shape = array.shape();
    std::vector<std::string> steps;
    if (stored == "float64") steps.push_back("float64 narrowed to float32");
    if (shape.size() == sample_shape.size()) {
        shape.insert(shape.begin(), 1);
        steps.push_back("one sample, given a batch dimension of 1");
    }
    if (shape.size() != sample_shape.size() + 1 || !std::equal(sample_shape.begin(), sample_shape.end(), shape.begin() + 1))
        throw Error(fmt::format("{}: input has shape [{}], the graph expects [N, {}]", path, shape_list(array.shape()),
                                shape_list(sample_shape)));
    Tensor values(TensorDesc{DType::f32, shape, Layout::row_major});
    std::copy_n(array.as<float>(), array.numel(), values.as<float>());
    steps.push_back("float values used as given, not normalised");
    return {std::move(values), std::move(steps)};
}

}  // namespace

InputLayout parse_input_layout(std::string_view name) {
    if (name == "detect") return InputLayout::detect;
    if (name == "nchw") return InputLayout::nchw;
    if (name == "nhwc") return InputLayout::nhwc;
    throw Error(fmt::format("--input-layout '{}': expected detect, nchw or nhwc", name));
}

bool is_image_file(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

RunInput read_npy_input(const std::string& path, const Shape& sample_shape, InputLayout layout,
                        const training::ModelInfo& info) {
    const bool of_images = sample_shape.size() == 3;
    const std::int64_t C = of_images ? sample_shape[0] : 0, H = of_images ? sample_shape[1] : 0,
                       W = of_images ? sample_shape[2] : 0;
    const auto refuse = [&](const Shape& s) {
        if (!of_images)
            return Error(fmt::format("{}: input has shape [{}], the graph expects [N, {}]", path, shape_list(s),
                                     shape_list(sample_shape)));
        return Error(fmt::format("{}: input has shape [{}], the graph expects [N, {}, {}, {}] (NCHW) or [N, {}, {}, {}] "
                                 "(NHWC), or one image without N",
                                 path, shape_list(s), C, H, W, H, W, C));
    };
    // The header's shape is checked against the graph before the data is read: a file claiming
    // another shape costs nothing, however large it says it is.
    const auto check_shape = [&](const Shape& s) {
        const std::size_t rank = sample_shape.size();
        if (s.size() != rank && s.size() != rank + 1) throw refuse(s);
        const Shape dims(s.end() - static_cast<std::ptrdiff_t>(rank), s.end());
        if (!of_images) {
            if (dims != sample_shape) throw refuse(s);
            return;
        }
        std::string unused;
        const InputLayout chosen = choose_layout(dims, C, layout, unused);
        if (dims != (chosen == InputLayout::nhwc ? Shape{H, W, C} : Shape{C, H, W})) throw refuse(s);
    };
    std::string stored;
    const Tensor array = load_npy(path, &stored, check_shape);
    if (!of_images) return read_plain_npy(path, array, stored, sample_shape, layout);
    const Shape& s = array.shape();
    const Shape dims(s.end() - 3, s.end());
    std::string why;
    layout = choose_layout(dims, C, layout, why);

    const ImageDims d{s.size() == 4 ? s[0] : 1, C, H, W};
    std::vector<std::string> steps;
    if (stored == "float64") steps.push_back("float64 narrowed to float32");
    if (layout == InputLayout::nhwc) steps.push_back(fmt::format("NHWC transposed to NCHW ({})", why));
    if (s.size() == 3) steps.push_back("one image, given a batch dimension of 1");
    Tensor images;
    if (array.desc().dtype == DType::u8) {
        const PixelNormalisation normalise(info, C, path);
        const std::uint8_t* pixels = array.as<std::uint8_t>();
        images = to_nchw(d, layout, [&](std::int64_t i, std::int64_t c) { return normalise(pixels[i], c); });
        steps.push_back(normalise.note);
    } else {
        const float* values = array.as<float>();
        images = to_nchw(d, layout, [&](std::int64_t i, std::int64_t) { return values[i]; });
        steps.push_back("float values used as given, not normalised");
    }
    return {std::move(images), std::move(steps)};
}

RunInput read_picture_input(const std::string& path, const Shape& image_shape, const training::ModelInfo& info) {
    // The size is checked from the header, before anything is decoded.
    const std::optional<datasets::ImageSize> size =
        image_shape.size() == 3 ? std::optional(datasets::ImageSize{image_shape[1], image_shape[2], "the graph's input"})
                                : std::nullopt;
    const datasets::Image image = datasets::read_image(path, size);
    if (image_shape != Shape{image.channels, image.height, image.width})
        throw Error(fmt::format("{}: a {}×{}×{} image, but the graph takes {}", path, image.channels, image.height,
                                image.width, shape_str(image_shape)));
    const PixelNormalisation normalise(info, image.channels, path);
    const ImageDims d{1, image.channels, image.height, image.width};
    Tensor images = to_nchw(d, InputLayout::nchw, [&](std::int64_t i, std::int64_t c) { return normalise(image.pixels[i], c); });
    return {std::move(images), {normalise.note}};
}

}  // namespace weft::runner
