// pool's cuda kernel: the window arithmetic its kernels share (on any host), and max, average
// and global average pooling against the cpu kernel, forward and backward (on a GPU).
//
// Tolerances (float32): max pooling picks an input, so its forward is exact; its backward sums
// overlapping windows' gradients (1e-6 relative + 1e-7 absolute for another order). Averages sum
// in another order and may divide rather than multiply by a reciprocal: 1e-5 relative + 1e-6
// absolute (a mean of a 32×32 plane of U(−1, 1) is ~0.02, where relative error says little).
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend_compare.h"
#include "op_harness.h"
#include "pool_windows.h"

namespace {

using weft::pool::Axis;
using weft::pool::Span;
using weft::testing::backward_matches;
using weft::testing::forward_matches;
using weft::testing::random_tensor;
using weft::testing::Tolerance;

constexpr Tolerance kExact{0.0, 0.0};
constexpr Tolerance kMaxBackward{1e-6, 1e-7};
constexpr Tolerance kAverage{1e-5, 1e-6};

// Every window geometry of small extents that pool_geometry.h accepts (padding < kernel, floor mode).
std::vector<Axis> small_axes() {
    std::vector<Axis> axes;
    for (std::int64_t in = 1; in <= 12; ++in)
        for (std::int64_t kernel = 1; kernel <= 5; ++kernel)
            for (std::int64_t stride = 1; stride <= 4; ++stride)
                for (std::int64_t padding = 0; padding < kernel; ++padding)
                    if (in + 2 * padding >= kernel)
                        axes.push_back(Axis{in, (in + 2 * padding - kernel) / stride + 1, kernel, stride, padding});
    return axes;
}

TEST(PoolCudaWindows, AWindowsItemsAreItsPositionsInsideTheInput) {
    for (const Axis& a : small_axes())
        for (std::int64_t o = 0; o < a.out; ++o) {
            std::int64_t first = -1, last = -1;
            for (std::int64_t i = o * a.stride - a.padding; i < o * a.stride - a.padding + a.kernel; ++i)
                if (i >= 0 && i < a.in) {
                    if (first < 0) first = i;
                    last = i + 1;
                }
            const Span s = weft::pool::window_items(a, o);
            ASSERT_GT(s.size(), 0) << "window " << o << " of in " << a.in << " k " << a.kernel << " s " << a.stride;
            EXPECT_EQ(s.first, first);
            EXPECT_EQ(s.last, last);
        }
}

TEST(PoolCudaWindows, TheWindowsHoldingAnItemAreExactlyThoseWhoseItemsIncludeIt) {
    for (const Axis& a : small_axes())
        for (std::int64_t i = 0; i < a.in; ++i) {
            std::vector<std::int64_t> holding;
            for (std::int64_t o = 0; o < a.out; ++o) {
                const Span s = weft::pool::window_items(a, o);
                if (s.first <= i && i < s.last) holding.push_back(o);
            }
            const Span found = weft::pool::windows_holding(a, i);
            std::vector<std::int64_t> listed;
            for (std::int64_t o = found.first; o < found.last; ++o) listed.push_back(o);
            EXPECT_EQ(listed, holding) << "item " << i << " of in " << a.in << " k " << a.kernel << " s " << a.stride
                                       << " p " << a.padding;
        }
}

struct Case {
    weft::Shape shape;
    std::vector<std::int64_t> kernel, stride, padding;
};

const std::vector<Case>& windowed_cases() {
    static const std::vector<Case> all = {
        {{256, 48, 32, 32}, {3}, {2}, {1}},  // ResNet's stem window on an IGC batch
        {{32, 96, 16, 16}, {3}, {1}, {1}},   // overlapping windows everywhere
        {{16, 192, 8, 8}, {2}, {2}, {0}},
        {{3, 5, 7, 9}, {2, 3}, {2, 1}, {1, 0}},
        {{2, 3, 5, 5}, {3}, {2}, {1}},
        {{2, 4, 11}, {3}, {2}, {1}},         // one spatial dimension
        {{2, 3, 4, 5, 6}, {2}, {2}, {1}},    // three
    };
    return all;
}

weft::Attributes window(const std::string& mode, const Case& c) {
    weft::Attributes attrs;
    attrs.set("mode", mode);
    attrs.set("kernel", c.kernel);
    attrs.set("stride", c.stride);
    attrs.set("padding", c.padding);
    return attrs;
}

weft::Attributes global_avg() {
    weft::Attributes attrs;
    attrs.set("mode", std::string("global_avg"));
    return attrs;
}

const std::vector<weft::Shape> kGlobalShapes = {{256, 192, 8, 8}, {64, 96, 16, 16}, {8, 48, 32, 32},
                                                {3, 5, 7, 9},     {2, 3, 1, 1},     {2, 4, 3, 3, 3}};

TEST(PoolCuda, MaxAndAveragePoolingMatchTheCpuKernel) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 1;
    for (const Case& c : windowed_cases()) {
        SCOPED_TRACE(weft::shape_str(c.shape));
        const weft::Tensor x = random_tensor(c.shape, seed++);
        EXPECT_TRUE(forward_matches("pool", window("max", c), {x}, kExact)) << "max";
        EXPECT_TRUE(forward_matches("pool", window("avg", c), {x}, kAverage)) << "avg";
    }
}

TEST(PoolCuda, GlobalAveragePoolingMatchesTheCpuKernel) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 50;
    for (const weft::Shape& shape : kGlobalShapes) {
        SCOPED_TRACE(weft::shape_str(shape));
        EXPECT_TRUE(forward_matches("pool", global_avg(), {random_tensor(shape, seed++)}, kAverage));
    }
}

TEST(PoolCuda, BackwardRoutesGradientsAsTheCpuKernelDoes) {
    WEFT_SKIP_WITHOUT_CUDA();
    int seed = 100;
    for (const Case& c : windowed_cases()) {
        SCOPED_TRACE(weft::shape_str(c.shape));
        const weft::Tensor x = random_tensor(c.shape, seed++);
        const weft::Shape out_shape = weft::testing::infer_op("pool", window("max", c), {x.desc()}).outputs[0].shape;
        const weft::Tensor dy = random_tensor(out_shape, seed++);
        EXPECT_TRUE(backward_matches("pool", window("max", c), {x}, {dy}, kMaxBackward)) << "max";
        EXPECT_TRUE(backward_matches("pool", window("avg", c), {x}, {dy}, kAverage)) << "avg";
    }
    for (const weft::Shape& shape : kGlobalShapes) {
        SCOPED_TRACE(weft::shape_str(shape) + " global_avg");
        weft::Shape out_shape(shape.begin(), shape.begin() + 2);
        out_shape.insert(out_shape.end(), shape.size() - 2, 1);
        EXPECT_TRUE(backward_matches("pool", global_avg(), {random_tensor(shape, seed++)},
                                     {random_tensor(out_shape, seed++)}, kAverage));
    }
}

}  // namespace
