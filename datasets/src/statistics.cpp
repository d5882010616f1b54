#include <weft/datasets/loader.h>
#include <weft/error.h>

#include <fmt/format.h>

#include <array>
#include <cmath>

namespace weft::datasets {

Normalization channel_statistics(const Dataset& data) {
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
