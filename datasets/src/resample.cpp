// Separable antialiased resampling of a crop box: one set of filter taps per output column and
// per output row, a horizontal pass over the source rows the vertical taps need, then the
// vertical pass. The taps are PIL's bilinear ("triangle") filter, widened by the reduction factor.
#include <weft/datasets/transforms.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace weft::datasets {
namespace {

// For each output index along one axis: the first source index, and the weights of the source
// indices from there on (summing to 1).
struct Taps {
    std::vector<std::int64_t> first;
    std::vector<std::int64_t> count;
    std::vector<float> weights;  // out × span, row i's weights from weights[i * span]
    std::int64_t span = 0;
};

Taps taps_for(double start, double size, std::int64_t in, std::int64_t out) {
    const double step = size / double(out);
    const double radius = std::max(step, 1.0);  // the triangle's half-width in source pixels
    Taps taps;
    taps.span = static_cast<std::int64_t>(std::ceil(radius)) * 2 + 2;
    taps.first.resize(out);
    taps.count.resize(out);
    taps.weights.assign(out * taps.span, 0.0f);
    for (std::int64_t i = 0; i < out; ++i) {
        const double centre = start + (double(i) + 0.5) * step;
        std::int64_t lo = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(centre - radius)));
        std::int64_t hi = std::min<std::int64_t>(in, static_cast<std::int64_t>(std::ceil(centre + radius)) + 1);
        hi = std::min(hi, lo + taps.span);
        double sum = 0;
        std::vector<double> w;
        for (std::int64_t j = lo; j < hi; ++j) {
            const double t = 1.0 - std::abs(double(j) + 0.5 - centre) / radius;
            w.push_back(std::max(t, 0.0));
            sum += w.back();
        }
        if (!(sum > 0)) {  // the box lies beyond the image here: the nearest pixel
            lo = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(centre)), 0, in - 1);
            w.assign(1, 1.0);
            sum = 1;
        }
        taps.first[i] = lo;
        taps.count[i] = static_cast<std::int64_t>(w.size());
        for (std::size_t k = 0; k < w.size(); ++k) taps.weights[i * taps.span + k] = float(w[k] / sum);
    }
    return taps;
}

}  // namespace

void resample(const std::uint8_t* planar, std::int64_t channels, std::int64_t height, std::int64_t width,
              const CropBox& box, std::int64_t out_height, std::int64_t out_width, bool flip, float* out) {
    const Taps across = taps_for(box.left, box.width, width, out_width);
    const Taps down = taps_for(box.top, box.height, height, out_height);
    // Only the source rows some output row reads go through the horizontal pass.
    const std::int64_t row0 = down.first.front();
    std::int64_t row1 = row0;
    for (std::int64_t y = 0; y < out_height; ++y) row1 = std::max(row1, down.first[y] + down.count[y]);
    std::vector<float> rows((row1 - row0) * out_width);
    const std::int64_t plane = height * width, out_plane = out_height * out_width;
    for (std::int64_t c = 0; c < channels; ++c) {
        for (std::int64_t r = row0; r < row1; ++r) {
            const std::uint8_t* source = planar + c * plane + r * width;
            float* row = rows.data() + (r - row0) * out_width;
            for (std::int64_t x = 0; x < out_width; ++x) {
                const std::int64_t i = flip ? out_width - 1 - x : x;
                const std::uint8_t* s = source + across.first[i];
                const float* w = across.weights.data() + i * across.span;
                float sum = 0;
                for (std::int64_t k = 0; k < across.count[i]; ++k) sum += w[k] * float(s[k]);
                row[x] = sum;
            }
        }
        float* target = out + c * out_plane;
        for (std::int64_t y = 0; y < out_height; ++y) {
            float* line = target + y * out_width;
            std::fill(line, line + out_width, 0.0f);
            const float* w = down.weights.data() + y * down.span;
            for (std::int64_t k = 0; k < down.count[y]; ++k) {
                const float* row = rows.data() + (down.first[y] + k - row0) * out_width;
                for (std::int64_t x = 0; x < out_width; ++x) line[x] += w[k] * row[x];
            }
        }
    }
}

}  // namespace weft::datasets
