// pool against a naive reference: max over each window, average over the window's real
// (unpadded) elements, and the global average of each channel.
#include <algorithm>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/error.h"

namespace {

using weft::testing::all_close;
using weft::testing::f32;
using weft::testing::throws_error_containing;
using weft::testing::infer_op;
using weft::testing::random_tensor;
using weft::testing::numeric_gradient;
using weft::testing::run_op;
using weft::testing::run_op_backward;
using weft::testing::weighted_sum;
using weft::testing::tensor_from;

struct Window {
    std::int64_t kh, kw, sh, sw, ph, pw;
};

weft::Attributes pool_attrs(const std::string& mode, const Window& w) {
    weft::Attributes attrs;
    attrs.set("mode", mode);
    attrs.set("kernel", std::vector<std::int64_t>{w.kh, w.kw});
    attrs.set("stride", std::vector<std::int64_t>{w.sh, w.sw});
    attrs.set("padding", std::vector<std::int64_t>{w.ph, w.pw});
    return attrs;
}

weft::Attributes mode_only(const std::string& mode) {
    weft::Attributes attrs;
    attrs.set("mode", mode);
    return attrs;
}

// Max or average (divided by the number of real elements in the window) of [N, C, H, W].
weft::Tensor reference_pool(const weft::Tensor& x, bool max, const Window& w) {
    const std::int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], wd = x.shape()[3];
    const std::int64_t oh = (h + 2 * w.ph - w.kh) / w.sh + 1,
                       ow = (wd + 2 * w.pw - w.kw) / w.sw + 1;
    weft::Tensor y(f32({n, c, oh, ow}));
    float* out = y.as<float>();
    for (std::int64_t plane = 0; plane < n * c; ++plane) {
        const float* in = x.as<float>() + plane * h * wd;
        for (std::int64_t oy = 0; oy < oh; ++oy)
            for (std::int64_t ox = 0; ox < ow; ++ox) {
                double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
                int count = 0;
                for (std::int64_t ky = 0; ky < w.kh; ++ky)
                    for (std::int64_t kx = 0; kx < w.kw; ++kx) {
                        const std::int64_t iy = oy * w.sh - w.ph + ky, ix = ox * w.sw - w.pw + kx;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                        const double v = in[iy * wd + ix];
                        acc = max ? std::max(acc, v) : acc + v;
                        ++count;
                    }
                *out++ = static_cast<float>(max ? acc : acc / count);
            }
    }
    return y;
}

// Random windows with padding < kernel over odd-sized inputs with batch > 1.
struct PoolCase {
    weft::Shape shape;
    Window window;
};
std::vector<PoolCase> random_cases(unsigned seed, int count) {
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    std::vector<PoolCase> cases;
    for (int i = 0; i < count; ++i) {
        Window w{pick(1, 4), pick(1, 4), pick(1, 3), pick(1, 3), 0, 0};
        w.ph = pick(0, static_cast<int>(w.kh) - 1);
        w.pw = pick(0, static_cast<int>(w.kw) - 1);
        cases.push_back({{pick(2, 3), pick(1, 5), 2 * pick(2, 6) + 1, 2 * pick(2, 6) + 1}, w});
    }
    return cases;
}

std::string describe(const PoolCase& c) {
    const Window& w = c.window;
    return weft::shape_str(c.shape) + " kernel " + std::to_string(w.kh) + "x" +
           std::to_string(w.kw) + " stride " + std::to_string(w.sh) + "x" + std::to_string(w.sw) +
           " padding " + std::to_string(w.ph) + "x" + std::to_string(w.pw);
}

TEST(Pool, MaxMatchesTheNaiveReferenceOnRandomWindows) {
    for (const PoolCase& c : random_cases(21, 8)) {
        SCOPED_TRACE(describe(c));
        const weft::Tensor x = random_tensor(c.shape, 3);
        EXPECT_TRUE(all_close(run_op("pool", pool_attrs("max", c.window), {x}).at(0),
                              reference_pool(x, true, c.window)));
    }
}

TEST(Pool, AvgMatchesTheNaiveReferenceOnRandomWindows) {
    for (const PoolCase& c : random_cases(23, 8)) {
        SCOPED_TRACE(describe(c));
        const weft::Tensor x = random_tensor(c.shape, 5);
        EXPECT_TRUE(all_close(run_op("pool", pool_attrs("avg", c.window), {x}).at(0),
                              reference_pool(x, false, c.window)));
    }
}

TEST(Pool, AvgExcludesPaddingFromTheDivisor) {
    // A constant map stays constant: the corner window holds 4 real elements and divides by 4,
    // not by 9 (which would give 4/9 if the padding were counted).
    const weft::Tensor ones = tensor_from({1, 1, 3, 3}, std::vector<float>(9, 1.f));
    const weft::Tensor y = run_op("pool", pool_attrs("avg", {3, 3, 1, 1, 1, 1}), {ones}).at(0);
    EXPECT_TRUE(all_close(y, ones));
}

TEST(Pool, ResNetStemMaxPoolThreeByThreeStrideTwoPaddingOneHalvesTheMap) {
    const Window stem{3, 3, 2, 2, 1, 1};
    EXPECT_EQ(
        infer_op("pool", pool_attrs("max", stem), {f32({1, 64, 112, 112})}).outputs.at(0).shape,
        (weft::Shape{1, 64, 56, 56}));
    const weft::Tensor x = random_tensor({2, 3, 15, 17}, 7);
    const weft::Tensor y = run_op("pool", pool_attrs("max", stem), {x}).at(0);
    EXPECT_EQ(y.shape(), (weft::Shape{2, 3, 8, 9}));
    EXPECT_TRUE(all_close(y, reference_pool(x, true, stem)));
}

TEST(Pool, GlobalAvgAveragesEachChannelToOneByOne) {
    const weft::Tensor x = random_tensor({3, 5, 7, 9}, 9);
    const weft::Tensor y = run_op("pool", mode_only("global_avg"), {x}).at(0);
    EXPECT_TRUE(all_close(y, reference_pool(x, false, {7, 9, 1, 1, 0, 0})));
    EXPECT_EQ(y.shape(), (weft::Shape{3, 5, 1, 1}));
}

TEST(Pool, SingleValuesApplyToBothDimensionsAndStrideDefaultsToTheKernel) {
    weft::Attributes attrs = mode_only("max");
    attrs.set("kernel", std::int64_t{2});
    const weft::Tensor x = random_tensor({2, 3, 9, 8}, 11);
    EXPECT_TRUE(
        all_close(run_op("pool", attrs, {x}).at(0), reference_pool(x, true, {2, 2, 2, 2, 0, 0})));
}

TEST(Pool, HasNoParametersOrCost) {
    const weft::NodeSignature sig = infer_op("pool", mode_only("global_avg"), {f32({2, 64, 8, 8})});
    EXPECT_TRUE(sig.params.empty());
    EXPECT_EQ(sig.macs, 0);
}

TEST(Pool, RejectsAnUnknownMode) {
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("pool", mode_only("min"), {f32({2, 3, 8, 8})});
        },
        "not one of: max, avg, global_avg"));
}

TEST(Pool, MaxAndAvgNeedAKernel) {
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("pool", mode_only("max"), {f32({2, 3, 8, 8})});
        },
        "needs attribute 'kernel'"));
}

TEST(Pool, RejectsPaddingThatCoversAWholeWindow) {
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("pool", pool_attrs("max", {2, 2, 1, 1, 2, 0}), {f32({2, 3, 8, 8})});
        },
        "padding 2 must be smaller than the kernel 2"));
}

TEST(Pool, RejectsAKernelLargerThanThePaddedInput) {
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("pool", pool_attrs("avg", {5, 5, 1, 1, 0, 0}), {f32({2, 3, 4, 8})});
        },
        "larger than the padded input"));
}

TEST(Pool, RejectsAWrongNumberOfWindowValues) {
    weft::Attributes attrs = mode_only("max");
    attrs.set("kernel", std::vector<std::int64_t>{3, 3, 3});
    EXPECT_TRUE(throws_error_containing(
        [&] {
            infer_op("pool", attrs, {f32({2, 3, 8, 8})});
        },
        "should have 1 or 2 values"));
}

TEST(Pool, GlobalAvgTakesNoWindow) {
    weft::Attributes attrs = mode_only("global_avg");
    attrs.set("kernel", std::int64_t{8});
    EXPECT_TRUE(throws_error_containing(
        [&] {
            infer_op("pool", attrs, {f32({2, 3, 8, 8})});
        },
        "takes no 'kernel'"));
}

TEST(Pool, RejectsInputsWithoutSpatialDimensions) {
    EXPECT_TRUE(throws_error_containing(
        [] {
            infer_op("pool", mode_only("global_avg"), {f32({2, 3})});
        },
        "spatial"));
}

// Distinct values 0.05 apart in a random order, so no window's maximum is tied or changes under
// a finite-difference step.
weft::Tensor distinct_values(const weft::Shape& shape, unsigned seed) {
    weft::Tensor x(f32(shape));
    std::vector<float> values(static_cast<std::size_t>(x.numel()));
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.05f * static_cast<float>(i) - 1.f;
    std::shuffle(values.begin(), values.end(), std::mt19937(seed));
    std::copy(values.begin(), values.end(), x.as<float>());
    return x;
}

// Compares pool's analytic dL/dx with central differences of L = Σ y·r.
::testing::AssertionResult backward_matches_finite_differences(const weft::Attributes& attrs,
                                                               const weft::Tensor& x) {
    const weft::Tensor y = run_op("pool", attrs, {x}).at(0);
    const weft::Tensor r = random_tensor(y.shape(), 91);
    const weft::testing::BackwardResult result = run_op_backward("pool", attrs, {x}, {r});
    const weft::Tensor expected =
        numeric_gradient(x, [&] { return weighted_sum(run_op("pool", attrs, {x}), {r}); });
    return all_close(result.grad_inputs.at(0), expected, 1e-2, 1e-3);
}

TEST(Pool, MaxBackwardMatchesFiniteDifferencesWithOverlappingPaddedWindows) {
    const weft::Tensor x = distinct_values({2, 3, 6, 5}, 92);
    EXPECT_TRUE(backward_matches_finite_differences(pool_attrs("max", {3, 3, 2, 1, 1, 1}), x));
    EXPECT_TRUE(backward_matches_finite_differences(pool_attrs("max", {2, 2, 2, 2, 0, 0}), x));
}

TEST(Pool, AvgBackwardMatchesFiniteDifferencesExcludingPadding) {
    const weft::Tensor x = random_tensor({2, 3, 6, 5}, 93);
    EXPECT_TRUE(backward_matches_finite_differences(pool_attrs("avg", {3, 3, 2, 1, 1, 1}), x));
    EXPECT_TRUE(backward_matches_finite_differences(pool_attrs("avg", {2, 2, 2, 2, 0, 0}), x));
}

TEST(Pool, GlobalAvgBackwardSpreadsEachGradientEvenlyOverItsChannel) {
    const weft::Tensor x = random_tensor({3, 4, 5, 3}, 94);
    EXPECT_TRUE(backward_matches_finite_differences(mode_only("global_avg"), x));
    const weft::Tensor dy = random_tensor({3, 4, 1, 1}, 95);
    const weft::Tensor dx = run_op_backward("pool", mode_only("global_avg"), {x}, {dy}).grad_inputs.at(0);
    weft::Tensor expected(x.desc());
    for (std::int64_t i = 0; i < x.numel(); ++i) expected.as<float>()[i] = dy.as<float>()[i / 15] / 15.f;
    EXPECT_TRUE(all_close(dx, expected));
}

}  // namespace
