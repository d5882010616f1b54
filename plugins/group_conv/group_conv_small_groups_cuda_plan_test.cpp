// The small-group CUDA kernel without a GPU: its plans (tiles that cover the output, shared memory
// within bounds, conflict-free reads), its integer division, what it declines, and its kernel bodies
// run on the host — every thread of every block, one phase for all threads before the next, shared
// memory filled with NaN before each block so that a read of anything not staged shows — against
// the naive convolution (paper Eq. 1) and the oneDNN kernel's gradients.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "conv_tensors.h"
#include "group_conv_reference.h"
#include "group_conv_small_groups_cuda_body.h"
#include "group_conv_small_groups_cuda_plan.h"
#include "op_harness.h"

namespace {

namespace sg = weft::small_groups_cuda;
using weft::Tensor;
using weft::testing::all_close;
using weft::testing::ConvCase;
using weft::testing::ConvTensors;
using weft::testing::igc_primary_convolutions;
using weft::testing::random_conv_case;
using weft::testing::random_conv_tensors;
using weft::testing::RandomConvRanges;
using weft::testing::reference_group_conv;
using weft::testing::three_by_three_case;

constexpr float kUnstaged = std::numeric_limits<float>::quiet_NaN();
// Gradients sum up to a few thousand products of numbers in [-1, 1] in float32, in another order than
// oneDNN's.
constexpr double kGradientRtol = 1e-4, kGradientAtol = 1e-4;

weft::ConvolutionGeometry geometry_of(const ConvCase& c) {
    return weft::convolution_geometry(c.attrs(), weft::testing::f32(c.input_shape()));
}

// Random geometries within the kernel's groups: 1-16 channels, 3x3 / 3x1 / 1x3 / 1x1 / 5x5 kernels,
// strides 1-3, padding 0-2 (more than a 1x1 kernel reaches, for dL/dx), dilation 2, odd planes.
std::vector<ConvCase> random_cases(std::uint64_t seed, int count, bool fused_relu) {
    RandomConvRanges ranges;
    ranges.max_groups = 4, ranges.stride_h = {1, 1, 2}, ranges.max_padding = 2;
    ranges.max_height = 13, ranges.max_width = 37;
    ranges.random_fused_relu = fused_relu;
    return weft::testing::random_conv_cases(seed, count, ranges);
}

// --- the kernels' bodies on the host ---

// The direct-convolution kernel: every block, phase 1 for all its threads, then phase 2. Reads
// four floats at a time where the kernel would, unless `scalar_loads`.
void emulate_direct_convolution(const sg::ForwardPlan& plan, const float* input, const float* weight,
                                const float* bias, float* output, bool scalar_loads) {
    const bool vector_loads = !scalar_loads && sg::window_vector_loads(plan.conv, input);
    std::vector<float> shared(plan.shared_bytes / sizeof(float));
    sg::with_out_block(plan.out_block, [&](auto out_block) {
        constexpr int kOutBlock = decltype(out_block)::value;
        for (int index = 0; index < plan.blocks; ++index) {
            std::fill(shared.begin(), shared.end(), kUnstaged);
            const sg::ForwardBlock block = sg::forward_block(plan, index);
            for (int t = 0; t < plan.threads; ++t)
                sg::stage_forward_tile(plan, block, input, weight, shared.data(), t, plan.threads,
                                       vector_loads);
            for (int t = 0; t < plan.threads; ++t)
                sg::convolve_tile<kOutBlock, sg::rows_per_thread_for(kOutBlock)>(plan, block, shared.data(),
                                                                                 bias, output, t);
        }
    });
}

// The weight-gradient kernel (every block: per tile, staging then accumulation by all threads; then
// the lane sums) and the chunk-sum kernel. Partial sums start as NaN: a sum no block wrote shows.
void emulate_weight_gradient(const sg::WeightGradPlan& plan, const float* input, const float* grad_output,
                             float* grad_weight, float* grad_bias, bool scalar_loads) {
    const bool vector_input = !scalar_loads && sg::window_vector_loads(plan.conv, input);
    const bool vector_grad_output = !scalar_loads && sg::grad_output_vector_loads(plan.conv, grad_output);
    std::vector<float> partial(static_cast<std::size_t>(plan.partial_floats), kUnstaged);
    std::vector<float> shared(plan.shared_bytes / sizeof(float));
    sg::with_weight_gradient_blocks(plan.out_block, plan.tap_block, [&](auto out_block, auto tap_block) {
        using Thread = sg::WeightGradThread<decltype(out_block)::value, decltype(tap_block)::value>;
        std::vector<Thread> threads(static_cast<std::size_t>(plan.threads));
        for (int index = 0; index < plan.blocks; ++index) {
            std::fill(shared.begin(), shared.end(), kUnstaged);
            const sg::WeightGradBlock block = sg::weight_gradient_block(plan, index);
            for (int t = 0; t < plan.threads; ++t) sg::begin_weight_gradient(plan, block, t, threads[t]);
            for (int i = block.first_tile; i < block.end_tile; ++i) {
                const sg::WeightGradTile tile = sg::weight_gradient_tile(plan, i);
                for (int t = 0; t < plan.threads; ++t)
                    sg::stage_weight_gradient_tile(plan, block, tile, input, grad_output, shared.data(), t,
                                                   plan.threads, vector_input, vector_grad_output);
                for (int t = 0; t < plan.threads; ++t)
                    sg::accumulate_weight_gradient(plan, tile, shared.data(), threads[t]);
            }
            for (int t = 0; t < plan.threads; ++t) sg::store_lane_sums(plan, threads[t], shared.data(), t);
            for (int t = 0; t < plan.threads; ++t)
                sg::sum_lanes(plan, block, shared.data(), partial.data(), t, plan.threads);
        }
    });
    for (int i = 0; i < plan.weights + plan.conv.groups * plan.conv.out_per_group; ++i)
        sg::sum_chunks(plan, partial.data(), grad_weight, grad_bias, i);
}

void expect_forward_matches_the_reference(const ConvCase& c, std::uint64_t seed) {
    SCOPED_TRACE(c.str());
    const ConvTensors k = random_conv_tensors(c, seed);
    const sg::ForwardPlan plan = sg::plan_forward(sg::forward_convolution(geometry_of(c)));
    const Tensor expected = reference_group_conv(c, k.input, k.weight, c.bias ? &k.bias : nullptr);
    for (const bool scalar_loads : {false, true}) {
        SCOPED_TRACE(scalar_loads ? "float loads" : "float4 loads where aligned");
        Tensor output(expected.desc());
        emulate_direct_convolution(plan, k.input.as<float>(), k.weight.as<float>(),
                                   c.bias ? k.bias.as<float>() : nullptr, output.as<float>(), scalar_loads);
        EXPECT_TRUE(all_close(output, expected));
    }
}

void expect_gradients_match_onednn(const ConvCase& c, std::uint64_t seed, int multiprocessors) {
    SCOPED_TRACE(c.str() + ", " + std::to_string(multiprocessors) + " multiprocessors");
    const ConvTensors k = random_conv_tensors(c, seed);
    const auto onednn = weft::testing::run_op_backward("group_conv", c.attrs(), {k.input}, {k.grad_output},
                                                       k.params(c), "onednn");
    const weft::ConvolutionGeometry g = geometry_of(c);
    const sg::ForwardPlan data_plan = sg::plan_forward(sg::input_gradient_convolution(g));
    const sg::WeightGradPlan weight_plan = sg::plan_weight_gradient(g, multiprocessors);
    for (const bool scalar_loads : {false, true}) {
        SCOPED_TRACE(scalar_loads ? "float loads" : "float4 loads where aligned");
        Tensor grad_input(k.input.desc()), grad_weight(k.weight.desc()), grad_bias(k.bias.desc());
        emulate_direct_convolution(data_plan, k.grad_output.as<float>(), k.weight.as<float>(), nullptr,
                                   grad_input.as<float>(), scalar_loads);
        emulate_weight_gradient(weight_plan, k.input.as<float>(), k.grad_output.as<float>(),
                                grad_weight.as<float>(), c.bias ? grad_bias.as<float>() : nullptr,
                                scalar_loads);
        EXPECT_TRUE(all_close(grad_input, onednn.grad_inputs[0], kGradientRtol, kGradientAtol));
        EXPECT_TRUE(all_close(grad_weight, onednn.grad_params[0], kGradientRtol, kGradientAtol));
        if (c.bias) EXPECT_TRUE(all_close(grad_bias, onednn.grad_params[1], kGradientRtol, kGradientAtol));
    }
}

// --- integer division ---

TEST(SmallGroupsCudaFastDivmod, GivesTheQuotientAndRemainderOfIntegerDivision) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int> any(0, std::numeric_limits<int>::max());
    std::vector<std::int64_t> divisors;
    for (int d = 1; d <= 1100; ++d) divisors.push_back(d);
    for (std::int64_t d : {4095, 4096, 4097, (1 << 20) + 7, (1 << 30) - 1, (1 << 30) + 3, 2147483647})
        divisors.push_back(d);
    for (const std::int64_t d : divisors) {
        const sg::FastDivmod fast = sg::FastDivmod::of(d);
        std::vector<int> numbers{0, 1, 2, std::numeric_limits<int>::max(),
                                 std::numeric_limits<int>::max() - 1};
        for (int k = 1; k < 40; ++k) {
            const std::int64_t multiple = d * k;
            for (std::int64_t n : {multiple - 1, multiple, multiple + 1})
                if (n >= 0 && n <= std::numeric_limits<int>::max()) numbers.push_back(static_cast<int>(n));
        }
        for (int i = 0; i < 200; ++i) numbers.push_back(any(rng));
        for (const int n : numbers) {
            const int q = fast.quotient(n);
            ASSERT_EQ(q, n / d) << n << " / " << d;
            ASSERT_EQ(fast.remainder(n, q), n % d) << n << " % " << d;
        }
    }
}

TEST(SmallGroupsCudaFastDivmod, RefusesADivisorOutsideItsRange) {
    EXPECT_TRUE(weft::testing::throws_error_containing([] { sg::FastDivmod::of(0); }, "outside [1, 2^31)"));
    EXPECT_TRUE(weft::testing::throws_error_containing([] { sg::FastDivmod::of(std::int64_t{1} << 31); },
                                                       "outside [1, 2^31)"));
}

// --- shared-memory banks ---

TEST(SmallGroupsCudaBanks, CountsTheLanesThatShareABankAtDifferentAddresses) {
    int consecutive[32], every_other[32], same[32], one_bank[32];
    for (int lane = 0; lane < 32; ++lane) {
        consecutive[lane] = 100 + lane;
        every_other[lane] = 2 * lane;
        same[lane] = 7;              // one broadcast
        one_bank[lane] = 32 * lane;  // all in bank 0
    }
    EXPECT_EQ(sg::bank_conflict_ways(consecutive), 1);
    EXPECT_EQ(sg::bank_conflict_ways(every_other), 2);
    EXPECT_EQ(sg::bank_conflict_ways(same), 1);
    EXPECT_EQ(sg::bank_conflict_ways(one_bank), 32);
}

// The banks a warp of the forward kernel reads at once (the kernel's own first read of each lane).
int forward_read_conflicts(const sg::ForwardPlan& p) {
    int addresses[32];
    for (int lane = 0; lane < 32; ++lane) addresses[lane] = sg::forward_first_read(p, p.window, lane);
    return sg::bank_conflict_ways(addresses);
}

// --- plans ---

TEST(SmallGroupsCudaPlan, ForwardTilesCoverTheOutputWithinTheBlockAndSharedMemoryLimits) {
    std::vector<ConvCase> cases = igc_primary_convolutions(256, 16);
    for (const ConvCase& c : random_cases(31, 40, false)) cases.push_back(c);
    for (const ConvCase& c : cases) {
        SCOPED_TRACE(c.str());
        for (const sg::DirectConvolution& conv :
             {sg::forward_convolution(geometry_of(c)), sg::input_gradient_convolution(geometry_of(c))}) {
            const sg::ForwardPlan p = sg::plan_forward(conv);
            EXPECT_LE(p.shared_bytes, sg::kSharedMemoryBytes);
            EXPECT_LE(p.threads, sg::kMaxThreads);
            EXPECT_EQ(p.threads, p.threads_x * p.threads_y * p.groups_per_block);
            EXPECT_GE(std::int64_t{p.tiles_x} * p.tile_w, conv.out_width);
            EXPECT_GE(std::int64_t{p.tiles_y} * p.tile_h, conv.out_height);
            EXPECT_GE(std::int64_t{p.group_blocks} * p.groups_per_block, conv.groups);
            EXPECT_EQ(p.blocks, std::int64_t{p.tiles_x} * p.tiles_y * p.group_blocks * conv.batch);
            EXPECT_GE(p.out_block, conv.out_per_group);
            EXPECT_GE(p.window.phases * p.window.phase_width, p.window.cols);
        }
    }
}

// Conflict-free where a warp spans groups or 32 columns; where it must span two rows of one group
// (IGC-L4M8's 16-channel groups at 16 pixels), the planner pads a row by at most 7 words and accepts
// two ways rather than half again the shared memory.
TEST(SmallGroupsCudaPlan, ForwardReadsOfTheIgcPrimaryConvolutionsHitDistinctBanksWithFourWarpsABlock) {
    for (const ConvCase& c : igc_primary_convolutions(256, 16)) {
        SCOPED_TRACE(c.str());
        const int most_ways = c.groups == 4 && c.width == 16 ? 2 : 1;
        const sg::ForwardPlan p = sg::plan_forward(sg::forward_convolution(geometry_of(c)));
        EXPECT_LE(forward_read_conflicts(p), most_ways);
        EXPECT_GE(p.threads, 128);
        const sg::ForwardPlan d = sg::plan_forward(sg::input_gradient_convolution(geometry_of(c)));
        EXPECT_LE(forward_read_conflicts(d), most_ways);
    }
}

TEST(SmallGroupsCudaPlan, WeightGradientSplitsTheBatchIntoChunksOfWholeTilesWithinSharedMemory) {
    std::vector<ConvCase> cases = igc_primary_convolutions(256, 16);
    for (const ConvCase& c : random_cases(32, 40, false)) cases.push_back(c);
    for (const ConvCase& c : cases) {
        SCOPED_TRACE(c.str());
        for (const int multiprocessors : {1, 132}) {
            const sg::WeightGradPlan p = sg::plan_weight_gradient(geometry_of(c), multiprocessors);
            EXPECT_LE(p.shared_bytes, sg::kSharedMemoryBytes);
            EXPECT_LE(p.threads, sg::kMaxThreads);
            EXPECT_EQ(p.threads, p.items_per_block * p.lanes);
            EXPECT_GE(std::int64_t{p.items_per_block} * p.item_slices, p.items);
            EXPECT_GE(std::int64_t{p.image_groups} * p.tile_images, c.batch);
            EXPECT_GE(std::int64_t{p.row_bands} * p.tile_rows, c.out_height());
            EXPECT_GE(std::int64_t{p.chunks} * p.tiles_per_chunk, p.tiles);
            EXPECT_LT(std::int64_t{p.chunks - 1} * p.tiles_per_chunk, p.tiles);  // no empty chunk
            EXPECT_EQ(p.weights, c.out_channels * (c.in_channels / c.groups) * c.kernel_h * c.kernel_w);
        }
    }
    // At batch 256, IGC-L24M2's first stage keeps every multiprocessor of an H100 busy.
    const sg::WeightGradPlan stage1 =
        sg::plan_weight_gradient(geometry_of(three_by_three_case(256, 24, 2, 2, 32, 1)), 132);
    EXPECT_GE(stage1.blocks, 132 * 2);
}

// --- declines ---

TEST(SmallGroupsCudaDeclines, GroupsWiderThanSixteenChannelsAndTrainingWithFusedRelu) {
    EXPECT_EQ(sg::small_groups_declines(geometry_of(three_by_three_case(2, 2, 24, 20, 9, 1)), false),
              "groups of 24 input and 20 output channels: at most 16 each");
    EXPECT_EQ(sg::small_groups_declines(geometry_of(three_by_three_case(2, 2, 16, 17, 9, 1)), false),
              "groups of 16 input and 17 output channels: at most 16 each");
    ConvCase relu = three_by_three_case(2, 24, 2, 2, 32, 1);
    relu.fused_relu = true;
    EXPECT_EQ(sg::small_groups_declines(geometry_of(relu), false), "");
    EXPECT_EQ(sg::small_groups_declines(geometry_of(relu), true),
              "fused_relu is an inference-only rewrite (backward would need the ReLU's mask)");
    for (const ConvCase& c : igc_primary_convolutions(256, 16)) {
        EXPECT_EQ(sg::small_groups_declines(geometry_of(c), true), "") << c.str();
    }
}

TEST(SmallGroupsCudaDeclines, AKernelWhoseTileCannotFitInSharedMemory) {
    ConvCase huge = three_by_three_case(1, 1, 16, 16, 200, 1);
    huge.kernel_h = huge.kernel_w = 31, huge.dilation_h = huge.dilation_w = 3,
    huge.padding_h = huge.padding_w = 45;
    const std::string why = sg::small_groups_declines(geometry_of(huge), false);
    EXPECT_NE(why.find("bytes of shared memory, more than 49152"), std::string::npos) << why;
}

// --- the kernel bodies against the CPU ---

TEST(SmallGroupsCudaBody, ForwardMatchesTheReferenceOnTheIgcPrimaryConvolutions) {
    std::uint64_t seed = 100;
    for (const ConvCase& c : igc_primary_convolutions(2, 16))
        expect_forward_matches_the_reference(c, seed += 4);
}

TEST(SmallGroupsCudaBody, ForwardMatchesTheReferenceOnRandomGeometriesWithBiasAndFusedRelu) {
    std::uint64_t seed = 200;
    for (const ConvCase& c : random_cases(2017, 60, true)) expect_forward_matches_the_reference(c, seed += 4);
}

TEST(SmallGroupsCudaBody, ForwardCoversSeveralTilesAcrossWideAndTallPlanes) {
    ConvCase wide = three_by_three_case(1, 3, 2, 3, 1, 1);
    wide.height = 70, wide.width = 75, wide.bias = true;
    expect_forward_matches_the_reference(wide, 300);
    ConvCase strided = wide;
    strided.stride_h = strided.stride_w = 2, strided.dilation_w = 2;
    expect_forward_matches_the_reference(strided, 304);
}

TEST(SmallGroupsCudaBody, GradientsMatchOnednnOnTheIgcPrimaryConvolutions) {
    std::uint64_t seed = 400;
    for (const ConvCase& c : igc_primary_convolutions(2, 16))
        expect_gradients_match_onednn(c, seed += 4, 132);
}

TEST(SmallGroupsCudaBody, GradientsMatchOnednnOnRandomGeometriesWhateverTheChunking) {
    std::uint64_t seed = 500;
    int multiprocessors = 1;
    for (ConvCase c : random_cases(2018, 40, false)) {
        expect_gradients_match_onednn(c, seed += 4, multiprocessors);
        multiprocessors =
            multiprocessors * 5 % 137;  // 1, 5, 25, 125, 77, ...: from one chunk to one per tile
    }
}

TEST(SmallGroupsCudaBody, WeightGradientSumsTilesOfSeveralImagesAndRowBands) {
    ConvCase small_planes = three_by_three_case(7, 3, 8, 8, 4, 1);  // several 4x4 images a tile
    small_planes.bias = true;
    expect_gradients_match_onednn(small_planes, 600, 3);
    ConvCase tall = three_by_three_case(2, 2, 16, 16, 1, 1);  // row bands of a tall plane
    tall.height = 96, tall.width = 40, tall.bias = true;
    expect_gradients_match_onednn(tall, 604, 9);
}

}  // namespace
