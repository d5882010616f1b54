// The per-plane loops of the direct batch norm (batch_norm_planes.h), compiled once for each of
// AVX-512, AVX2 and the baseline, picked on the first call by the CPU (GCC's target_clones).
// The sums keep four 16-float vectors of partial sums; GCC splits each into what the target has
// (one zmm, two ymm, four xmm) without changing which values are added in which order.
#include "batch_norm_planes.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#define WEFT_BN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WEFT_BN_CLONES
#endif

// The helpers below pass 64-byte vectors; they are always inlined into the clones, so no call
// between differently compiled code passes one.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace weft::batch_norm {
namespace {

typedef float Vec __attribute__((vector_size(64)));
typedef std::int32_t Mask __attribute__((vector_size(64)));
constexpr std::int64_t kWidth = 16;  // floats in a Vec
constexpr std::int64_t kStep = 4 * kWidth;

[[gnu::always_inline]] inline Vec load(const float* p) {
    Vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
[[gnu::always_inline]] inline Vec splat(float f) { return Vec{} + f; }

// Four vectors of partial sums and a scalar one for the plane's tail, added in a fixed order.
struct Partial {
    Vec v[4] = {};
    float tail = 0;
    float total() const {
        const Vec v01 = v[0] + v[1], v23 = v[2] + v[3];
        Vec s = v01 + v23;
        float lanes[kWidth];
        std::memcpy(lanes, &s, sizeof lanes);
        for (std::int64_t w = kWidth / 2; w >= 1; w /= 2)
            for (std::int64_t l = 0; l < w; ++l) lanes[l] += lanes[l + w];
        return lanes[0] + tail;
    }
};

// g where the ReLU's input was positive, else 0, as a bit mask (a positive float's bits are a
// positive integer).
[[gnu::always_inline]] inline Vec relu_masked(Vec g, Vec pre) {
    return reinterpret_cast<Vec>(reinterpret_cast<Mask>(g) & (pre > 0));
}
inline float relu_masked(float g, float pre) { return pre > 0 ? g : 0.f; }

}  // namespace

WEFT_BN_CLONES PlaneMoments plane_moments(const float* x, std::int64_t n) {
    const std::int64_t whole = n / kStep * kStep;
    Partial sum;
    for (std::int64_t i = 0; i < whole; i += kStep)
        for (int k = 0; k < 4; ++k) sum.v[k] += load(x + i + k * kWidth);
    for (std::int64_t i = whole; i < n; ++i) sum.tail += x[i];
    const float total = sum.total();
    // The second pass reads the plane from the cache the first brought it into.
    const float mean = total / static_cast<float>(n);
    const Vec m = splat(mean);
    Partial squares;
    for (std::int64_t i = 0; i < whole; i += kStep)
        for (int k = 0; k < 4; ++k) {
            const Vec d = load(x + i + k * kWidth) - m;
            squares.v[k] += d * d;
        }
    for (std::int64_t i = whole; i < n; ++i) squares.tail += (x[i] - mean) * (x[i] - mean);
    return {total, squares.total()};
}

WEFT_BN_CLONES GradientSums plane_gradient_sums(const float* x, const float* dy, std::int64_t n, float mean,
                                               Affine affine, bool relu) {
    const std::int64_t whole = n / kStep * kStep;
    const Vec m = splat(mean), scale = splat(affine.scale), shift = splat(affine.shift);
    Partial g, g_x;
    for (std::int64_t i = 0; i < whole; i += kStep)
        for (int k = 0; k < 4; ++k) {
            const Vec xv = load(x + i + k * kWidth);
            Vec gv = load(dy + i + k * kWidth);
            if (relu) gv = relu_masked(gv, xv * scale + shift);
            g.v[k] += gv;
            g_x.v[k] += gv * (xv - m);
        }
    for (std::int64_t i = whole; i < n; ++i) {
        const float gi = relu ? relu_masked(dy[i], x[i] * affine.scale + affine.shift) : dy[i];
        g.tail += gi;
        g_x.tail += gi * (x[i] - mean);
    }
    return {g.total(), g_x.total()};
}

WEFT_BN_CLONES void normalise_plane(const float* x, float* y, std::int64_t n, Affine affine, bool relu) {
    const float scale = affine.scale, shift = affine.shift;
    if (relu) {
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) y[i] = std::max(x[i] * scale + shift, 0.f);
    } else {
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * scale + shift;
    }
}

WEFT_BN_CLONES void input_gradient_plane(const float* x, const float* dy, float* dx, std::int64_t n, float mean,
                                         Affine affine, bool relu, InputGradient t) {
    const float scale = affine.scale, shift = affine.shift;
    if (relu) {
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) {
            const float gi = relu_masked(dy[i], x[i] * scale + shift);
            dx[i] = t.k * (t.count * gi - t.sum_g - (x[i] - mean) * t.c2);
        }
    } else {
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) dx[i] = t.k * (t.count * dy[i] - t.sum_g - (x[i] - mean) * t.c2);
    }
}

}  // namespace weft::batch_norm
