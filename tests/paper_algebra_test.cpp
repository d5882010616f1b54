// The paper's algebra of interleaved group convolutions, checked numerically with the real
// operators (group_conv, pointwise_conv, channel_permute, add):
//   Eq. 5–6   an IGC block is one regular convolution with the composite kernel P W^d P^T W^p;
//   Eq. 17–20 a regular convolution is an IGC block (L = 4) acting on the duplicated input;
//   Eq. 21–22 summation fusion is an IGC block whose secondary kernels are all ones.
// Channel order conventions: primary partition l holds channels l·M .. l·M+M-1; Eq. 2's P^T
// sends channel l·M+m to m·L+l (channel_permute with groups L), Eq. 4's P sends it back
// (groups M).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "op_harness.h"

namespace {

using weft::Shape;
using weft::Tensor;
using weft::testing::all_close;
using weft::testing::random_tensor;
using weft::testing::run_op;

constexpr double kRtol = 1e-4;
constexpr double kAtol = 1e-4;

Tensor zeros(const Shape& shape) {
    weft::TensorDesc desc;
    desc.shape = shape;
    return Tensor(desc);
}

// ---- the operators --------------------------------------------------------------------------

// A k×k convolution, stride 1, "same" padding; groups = 1 is a regular convolution.
Tensor group_conv(const Tensor& x, const Tensor& weight, std::int64_t groups) {
    weft::Attributes attrs;
    attrs.set("out_channels", weight.shape()[0]);
    attrs.set("kernel", weight.shape()[2]);
    attrs.set("stride", std::int64_t{1});
    attrs.set("padding", (weight.shape()[2] - 1) / 2);
    attrs.set("groups", groups);
    return run_op("group_conv", attrs, {x}, {{"weight", weight}}).at(0);
}

Tensor pointwise_conv(const Tensor& x, const Tensor& weight, std::int64_t groups) {
    weft::Attributes attrs;
    attrs.set("out_channels", weight.shape()[0]);
    attrs.set("groups", groups);
    return run_op("pointwise_conv", attrs, {x}, {{"weight", weight}}).at(0);
}

Tensor channel_permute(const Tensor& x, std::int64_t groups) {
    weft::Attributes attrs;
    attrs.set("groups", groups);
    return run_op("channel_permute", attrs, {x}).at(0);
}

// Eq. 5 as a sequence of operators: x' = P W^d P^T W^p x.
//   w_primary   [L·M, M, k, k]: L partitions of M channels (Eq. 1)
//   w_secondary [L·M, L, 1, 1]: M partitions of L channels (Eq. 3)
Tensor igc_block(const Tensor& x, const Tensor& w_primary, const Tensor& w_secondary,
                 std::int64_t L, std::int64_t M) {
    const Tensor y = group_conv(x, w_primary, L);                // Eq. 1: y = W^p x
    const Tensor y_bar = channel_permute(y, L);                  // Eq. 2: ȳ = P^T y
    const Tensor z_bar = pointwise_conv(y_bar, w_secondary, M);  // Eq. 3: z̄_m = W^d_mm ȳ_m
    return channel_permute(z_bar, M);                            // Eq. 4: x' = P z̄
}

// ---- tensors assembled by channel ---------------------------------------------------------

// Concatenation along dimension `axis` (0: weights' output channels, 1: images' channels).
Tensor concat(const std::vector<Tensor>& parts, int axis) {
    Shape shape = parts[0].shape();
    shape[axis] = 0;
    for (const Tensor& p : parts) shape[axis] += p.shape()[axis];
    Tensor out = zeros(shape);
    const std::int64_t outer = axis == 0 ? 1 : shape[0];
    float* dst = out.as<float>();
    for (std::int64_t o = 0; o < outer; ++o)
        for (const Tensor& p : parts) {
            const std::int64_t chunk = p.numel() / outer;
            std::memcpy(dst, p.as<float>() + o * chunk, chunk * sizeof(float));
            dst += chunk;
        }
    return out;
}

// Channels [begin, begin + count) of an [N, C, H, W] tensor.
Tensor channel_slice(const Tensor& x, std::int64_t begin, std::int64_t count) {
    Shape shape = x.shape();
    const std::int64_t channels = shape[1], plane = shape[2] * shape[3];
    shape[1] = count;
    Tensor out = zeros(shape);
    for (std::int64_t n = 0; n < shape[0]; ++n)
        std::memcpy(out.as<float>() + n * count * plane, x.as<float>() + (n * channels + begin) * plane,
                    count * plane * sizeof(float));
    return out;
}

// The block W[rows, cols] of a [C_out, C_in, k, k] kernel (Eq. 19's W_ij).
Tensor weight_block(const Tensor& w, std::int64_t row0, std::int64_t col0, std::int64_t rows,
                    std::int64_t cols) {
    const std::int64_t c_in = w.shape()[1], taps = w.shape()[2] * w.shape()[3];
    Tensor out = zeros({rows, cols, w.shape()[2], w.shape()[3]});
    for (std::int64_t r = 0; r < rows; ++r)
        std::memcpy(out.as<float>() + r * cols * taps, w.as<float>() + ((row0 + r) * c_in + col0) * taps,
                    cols * taps * sizeof(float));
    return out;
}

// ---- Eq. 5–6: the composite kernel --------------------------------------------------------

// W = P W^d P^T W^p as one dense [L·M, L·M, k, k] kernel, from the two sparse ones.
//
// W^p is block-diagonal in primary order: row k (partition k / M) reads columns of its own
// partition only. W^d is block-diagonal in secondary order; with π(l·M + m) = m·L + l, the
// position Eq. 2 gives channel l·M+m, the conjugate P W^d P^T in primary order is
// (P W^d P^T)[o][k] = W^d[π(o)][π(k)], non-zero only when π(o) and π(k) share a secondary
// partition. Then composite[o][c][ky][kx] = Σ_k (P W^d P^T)[o][k] · W^p[k][c][ky][kx].
Tensor composite_kernel(const Tensor& w_primary, const Tensor& w_secondary, std::int64_t L,
                        std::int64_t M) {
    const std::int64_t C = L * M, taps = w_primary.shape()[2] * w_primary.shape()[3];
    auto pi = [&](std::int64_t ch) { return (ch % M) * L + ch / M; };
    auto primary = [&](std::int64_t k, std::int64_t c, std::int64_t t) -> double {
        if (c / M != k / M) return 0.0;  // different primary partitions: no connection
        return w_primary.as<float>()[(k * M + c % M) * taps + t];
    };
    auto secondary_conjugated = [&](std::int64_t o, std::int64_t k) -> double {
        const std::int64_t row = pi(o), col = pi(k);
        if (row / L != col / L) return 0.0;  // different secondary partitions
        return w_secondary.as<float>()[row * L + col % L];
    };
    Tensor w = zeros({C, C, w_primary.shape()[2], w_primary.shape()[3]});
    for (std::int64_t o = 0; o < C; ++o)
        for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t t = 0; t < taps; ++t) {
                double sum = 0;
                for (std::int64_t k = 0; k < C; ++k) sum += secondary_conjugated(o, k) * primary(k, c, t);
                w.as<float>()[(o * C + c) * taps + t] = static_cast<float>(sum);
            }
    return w;
}

struct Partitions {
    std::int64_t L;
    std::int64_t M;
};
const Partitions kPartitions[] = {{2, 3}, {4, 2}, {3, 4}};  // {2, 3}: the paper's Figure 1

TEST(PaperAlgebra, IgcBlockEqualsOneRegularConvolutionWithTheCompositeKernel) {
    for (const auto [L, M] : kPartitions) {
        SCOPED_TRACE("L " + std::to_string(L) + " M " + std::to_string(M));
        const Tensor x = random_tensor({2, L * M, 7, 9}, 1);
        const Tensor w_primary = random_tensor({L * M, M, 3, 3}, 2);
        const Tensor w_secondary = random_tensor({L * M, L, 1, 1}, 3);
        const Tensor block = igc_block(x, w_primary, w_secondary, L, M);
        const Tensor regular = group_conv(x, composite_kernel(w_primary, w_secondary, L, M), 1);
        EXPECT_TRUE(all_close(block, regular, kRtol, kAtol));
    }
}

TEST(PaperAlgebra, CompositeKernelConnectsEveryOutputChannelToEveryInputChannel) {
    // Section 2: each channel out of the secondary group convolution has a path to each channel
    // into the primary one, so the product of two sparse kernels is dense (exactly one path per
    // pair: the composite entry is a single product of non-zero weights).
    for (const auto [L, M] : kPartitions) {
        SCOPED_TRACE("L " + std::to_string(L) + " M " + std::to_string(M));
        const Tensor w = composite_kernel(random_tensor({L * M, M, 3, 3}, 4, 0.5f, 1.f),
                                          random_tensor({L * M, L, 1, 1}, 5, 0.5f, 1.f), L, M);
        for (std::int64_t i = 0; i < w.numel(); ++i) ASSERT_NE(w.as<float>()[i], 0.f) << "entry " << i;
    }
}

// ---- Eq. 17–20: a regular convolution as an IGC block -------------------------------------

TEST(PaperAlgebra, RegularConvolutionIsAnIgcBlockWithFourPartitionsOnTheDuplicatedInput) {
    constexpr std::int64_t L = 4;
    for (const std::int64_t C : {4, 6}) {
        SCOPED_TRACE("C " + std::to_string(C));
        const std::int64_t half = C / 2, M = half;  // 2C = L·M channels in the IGC form
        const Tensor x = random_tensor({2, C, 5, 7}, 10 + C);
        const Tensor w = random_tensor({C, C, 3, 3}, 20 + C);
        const Tensor x_prime = group_conv(x, w, 1);  // x' = W x

        // Eq. 18–19: W^p = diag(W11, W12, W21, W22) over the partitions x1, x2, x1, x2 of [x; x].
        const Tensor w_primary = concat({weight_block(w, 0, 0, half, half),
                                         weight_block(w, 0, half, half, half),
                                         weight_block(w, half, 0, half, half),
                                         weight_block(w, half, half, half, half)},
                                        /*axis=*/0);
        // Eq. 20: every secondary partition (y1m, y2m, y3m, y4m) gets the same 4×4 block, which
        // forms (y1m + y2m, y3m + y4m, y1m + y2m, y3m + y4m).
        const float eq20[4][4] = {{1, 1, 0, 0}, {0, 0, 1, 1}, {1, 1, 0, 0}, {0, 0, 1, 1}};
        Tensor w_secondary = zeros({L * M, L, 1, 1});
        for (std::int64_t m = 0; m < M; ++m)
            for (std::int64_t r = 0; r < L; ++r)
                for (std::int64_t c = 0; c < L; ++c)
                    w_secondary.as<float>()[(m * L + r) * L + c] = eq20[r][c];

        // Eq. 17: x̄' = P W^d P^T W^p x̄ with x̄ = [x; x] gives [x'; x'].
        const Tensor out = igc_block(concat({x, x}, 1), w_primary, w_secondary, L, M);
        EXPECT_TRUE(all_close(out, concat({x_prime, x_prime}, 1), kRtol, kAtol));
    }
}

// ---- Eq. 21–22: summation fusion as an IGC block ------------------------------------------

TEST(PaperAlgebra, SummationFusionIsAnIgcBlockWithAllOnesSecondaryKernels) {
    for (const auto [L, M] : {Partitions{4, 3}, Partitions{3, 2}}) {  // {4, ·}: the paper's example
        SCOPED_TRACE("L " + std::to_string(L) + " M " + std::to_string(M));
        const Tensor x = random_tensor({2, M, 7, 5}, 30 + L);
        std::vector<Tensor> branch_kernels, branch_outputs;
        for (std::int64_t i = 0; i < L; ++i) {
            branch_kernels.push_back(random_tensor({M, M, 3, 3}, 40 + 10 * L + i));
            branch_outputs.push_back(group_conv(x, branch_kernels.back(), 1));
        }
        const Tensor fused = run_op("add", {}, branch_outputs).at(0);  // Eq. 21: x' = Σ_i y_i

        // Every branch reads the same x: the primary partitions are L copies of it, and
        // W^p = diag(W_1, ..., W_L). Eq. 22: each W^d_mm is the L×L all-ones matrix, so every
        // output partition receives the sum of all branches.
        const Tensor w_primary = concat(branch_kernels, 0);
        Tensor w_secondary = zeros({L * M, L, 1, 1});
        for (std::int64_t i = 0; i < w_secondary.numel(); ++i) w_secondary.as<float>()[i] = 1.f;
        const Tensor out = igc_block(concat(std::vector<Tensor>(L, x), 1), w_primary, w_secondary, L, M);
        for (std::int64_t l = 0; l < L; ++l) {
            SCOPED_TRACE("output partition " + std::to_string(l));
            EXPECT_TRUE(all_close(channel_slice(out, l * M, M), fused, kRtol, kAtol));
        }
    }
}

}  // namespace
