// The AVX-512 band's register blocks (avx512_band_for: 6 outputs x 4 vectors, 4 x 6, 8 x 3) make
// the same sums in the same order, so each gives avx512_band's bits (8 x 3, the one block there
// was before the choice); all of them the portable loop's sums to rounding. Band widths and group
// sizes of the IGC networks and awkward ones that leave remainders of channels and vectors.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pointwise_band.h"
#include "pointwise_portable.h"

namespace {

struct Shape {
    std::int64_t groups, in_per_group, out_per_group, pixels;
};

std::vector<float> output_of(weft::pointwise::BandFunction run, const Shape& s, bool relu) {
    std::mt19937 random(static_cast<std::uint32_t>(s.groups * 1000 + s.out_per_group * 10 + s.pixels));
    std::normal_distribution<float> normal;
    const std::int64_t in_channels = s.groups * s.in_per_group, out_channels = s.groups * s.out_per_group;
    const std::int64_t plane = s.pixels + 5;  // planes a little apart, as a band's are
    std::vector<float> input(static_cast<std::size_t>(in_channels * plane));
    std::vector<float> weight(static_cast<std::size_t>(out_channels * s.in_per_group));
    std::vector<float> bias(static_cast<std::size_t>(out_channels));
    for (float& v : input) v = normal(random);
    for (float& v : weight) v = normal(random);
    for (float& v : bias) v = normal(random);
    std::vector<std::int64_t> source(static_cast<std::size_t>(in_channels));
    std::vector<std::int64_t> destination(static_cast<std::size_t>(out_channels));
    for (std::int64_t i = 0; i < in_channels; ++i) source[i] = (in_channels - 1 - i) * plane;  // reversed
    for (std::int64_t q = 0; q < out_channels; ++q) destination[q] = (q * 7) % out_channels;  // a permutation
    std::vector<float> output(static_cast<std::size_t>(out_channels * plane), -1.f);
    const weft::pointwise::Band band{input.data(), source.data(),  weight.data(),  bias.data(),
                                     destination.data(), output.data(), plane, s.pixels,
                                     s.groups,           s.in_per_group, s.out_per_group, relu};
    run(band);
    return output;
}

}  // namespace

TEST(PointwiseBandBlocks, EveryAvx512BlockGivesTheSameBits) {
    if (weft::pointwise::avx512_band() == nullptr || !__builtin_cpu_supports("avx512f"))
        GTEST_SKIP() << "this CPU has no AVX-512";
    // (Output q goes to plane 7q mod the count: a permutation, as 7 divides no count here.)
    for (const Shape& s : {Shape{2, 24, 24, 256}, Shape{2, 24, 24, 128}, Shape{2, 24, 24, 64},
                           Shape{4, 24, 24, 64}, Shape{8, 4, 4, 256}, Shape{16, 4, 4, 64},
                           Shape{2, 12, 12, 192}, Shape{3, 5, 6, 64}, Shape{2, 3, 4, 100},
                           Shape{3, 6, 6, 33}, Shape{2, 9, 8, 50}, Shape{5, 2, 12, 17}}) {
        for (const bool relu : {false, true}) {
            SCOPED_TRACE(fmt::format("{} groups of {} -> {}, {} pixels, relu {}", s.groups, s.in_per_group,
                                     s.out_per_group, s.pixels, relu));
            const std::vector<float> chosen =
                output_of(weft::pointwise::avx512_band_for(s.out_per_group, s.pixels), s, relu);
            const std::vector<float> eight_by_three = output_of(weft::pointwise::avx512_band(), s, relu);
            const std::vector<float> portable = output_of(&weft::pointwise::forward_band_portable, s, relu);
            ASSERT_EQ(chosen.size(), portable.size());
            std::int64_t written = 0;
            for (std::size_t i = 0; i < chosen.size(); ++i) {
                ASSERT_EQ(chosen[i], eight_by_three[i]) << "at " << i;
                ASSERT_NEAR(chosen[i], portable[i], 1e-4f * (1.f + std::abs(portable[i]))) << "at " << i;
                written += chosen[i] != -1.f;
            }
            EXPECT_GT(written, static_cast<std::int64_t>(chosen.size()) / 2);  // the band was computed
        }
    }
}
