#include <weft/datasets/dataset.h>
#include <weft/datasets/loader.h>
#include <weft/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <thread>

namespace weft::datasets {
namespace {

// Evenly spaced images (the files are in class order, so every class is in the sample), each
// through evaluation's resize and centre crop, in [0, 1].
Normalization streamed_statistics(const Dataset& data, std::int64_t sample) {
    if (data.size() == 0 || data.height <= 0 || data.width <= 0)
        throw Error(fmt::format("dataset '{}': no images to take statistics of", data.name));
    Dataset chosen = slice(data, 0, 0);  // the set's shape and classes, not its whole file list
    const std::int64_t n = std::clamp<std::int64_t>(sample, 1, data.size());
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t index = i * data.size() / n;
        chosen.files.push_back(data.files[index]);
        chosen.labels.push_back(data.labels[index]);
    }
    LoaderOptions options;
    options.batch = std::min<std::int64_t>(n, 32);
    options.workers = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 64u));
    BatchLoader loader(chosen, options, 0);
    std::vector<double> sum(data.channels, 0.0), squares(data.channels, 0.0);
    const std::int64_t plane = data.height * data.width;
    Tensor images, labels;
    std::int64_t count = 0;
    while (loader.next(images, labels, count)) {
        const float* p = images.as<float>();
        for (std::int64_t row = 0; row < count; ++row)
            for (std::int64_t c = 0; c < data.channels; ++c) {
                const float* plane_values = p + (row * data.channels + c) * plane;
                for (std::int64_t k = 0; k < plane; ++k) {
                    sum[c] += plane_values[k];
                    squares[c] += double(plane_values[k]) * plane_values[k];
                }
            }
    }
    Normalization result;
    const double values = double(n) * double(plane);
    for (std::int64_t c = 0; c < data.channels; ++c) {
        const double mean = sum[c] / values;
        const double deviation = std::sqrt(std::max(squares[c] / values - mean * mean, 0.0));
        result.mean.push_back(static_cast<float>(mean));
        result.std.push_back(deviation > 1e-6 ? static_cast<float>(deviation) : 1.0f);
    }
    return result;
}

}  // namespace

Normalization channel_statistics(const Dataset& data, std::int64_t streamed_sample) {
    if (data.streamed()) return streamed_statistics(data, streamed_sample);
    const std::int64_t plane = data.height * data.width;
    if (data.size() == 0 || plane <= 0 || data.channels <= 0 ||
        static_cast<std::int64_t>(data.pixels.size()) != data.size() * data.image_bytes())
        throw Error(fmt::format("dataset '{}': no pixels to take statistics of", data.name));
    // A histogram per channel makes the sums exact and the pass a single increment per byte.
    std::vector<std::array<std::uint64_t, 256>> histograms(data.channels);
    for (auto& histogram : histograms) histogram.fill(0);
    for (std::int64_t i = 0; i < data.size(); ++i) {
        const std::uint8_t* image = data.image(i);
        for (std::int64_t c = 0; c < data.channels; ++c) {
            const std::uint8_t* p = image + c * plane;
            auto& histogram = histograms[c];
            for (std::int64_t k = 0; k < plane; ++k) ++histogram[p[k]];
        }
    }
    Normalization result;
    const double count = static_cast<double>(data.size() * plane);
    for (const auto& histogram : histograms) {
        double sum = 0;
        for (int v = 0; v < 256; ++v) sum += histogram[v] * (v / 255.0);
        double mean = sum / count;
        double squares = 0;
        for (int v = 0; v < 256; ++v) squares += histogram[v] * (v / 255.0 - mean) * (v / 255.0 - mean);
        double variance = squares / count;
        double deviation = std::sqrt(variance);
        result.mean.push_back(static_cast<float>(mean));
        result.std.push_back(deviation > 0 ? static_cast<float>(deviation) : 1.0f);
    }
    return result;
}

}  // namespace weft::datasets
