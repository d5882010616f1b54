// The CUDA backend's cuDNN algorithm cache and choice (weft/cuda/convolution_algorithm_cache.h): host
// logic, built and run with or without CUDA. The search is a function handed in, so these tests count
// when it runs.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/cuda/convolution_algorithm_cache.h"

namespace {

using weft::ConvolutionGeometry;
using weft::cuda::AlgorithmCandidate;
using weft::cuda::ConvolutionAlgorithm;
using weft::cuda::ConvolutionAlgorithmCache;
using weft::cuda::ConvolutionAlgorithmKey;
using weft::cuda::ConvolutionAlgorithmKeyHash;
using weft::cuda::ConvolutionDirection;

// IGC-L24M2's first primary convolution at batch 64.
ConvolutionGeometry primary() {
    ConvolutionGeometry g;
    g.batch = 64, g.in_channels = 48, g.in_height = 32, g.in_width = 32;
    g.out_channels = 48, g.groups = 24;
    g.kernel_h = g.kernel_w = 3, g.padding_h = g.padding_w = 1;
    return g;
}

ConvolutionAlgorithmKey key_of(const ConvolutionGeometry& g) {
    return ConvolutionAlgorithmKey{g, ConvolutionDirection::forward, false, 0};
}

// Each field of the geometry changed on its own.
std::vector<ConvolutionGeometry> one_field_changed() {
    std::vector<ConvolutionGeometry> changed;
    const auto with = [&](const std::function<void(ConvolutionGeometry&)>& change) {
        ConvolutionGeometry g = primary();
        change(g);
        changed.push_back(g);
    };
    with([](ConvolutionGeometry& g) { g.batch = 65; });
    with([](ConvolutionGeometry& g) { g.in_channels = 72; });
    with([](ConvolutionGeometry& g) { g.in_height = 31; });
    with([](ConvolutionGeometry& g) { g.in_width = 31; });
    with([](ConvolutionGeometry& g) { g.out_channels = 96; });
    with([](ConvolutionGeometry& g) { g.groups = 12; });
    with([](ConvolutionGeometry& g) { g.kernel_h = 1; });
    with([](ConvolutionGeometry& g) { g.kernel_w = 1; });
    with([](ConvolutionGeometry& g) { g.stride_h = 2; });
    with([](ConvolutionGeometry& g) { g.stride_w = 2; });
    with([](ConvolutionGeometry& g) { g.padding_h = 0; });
    with([](ConvolutionGeometry& g) { g.padding_w = 0; });
    with([](ConvolutionGeometry& g) { g.dilation_h = 2; });
    with([](ConvolutionGeometry& g) { g.dilation_w = 2; });
    with([](ConvolutionGeometry& g) { g.bias = true; });
    with([](ConvolutionGeometry& g) { g.fused_relu = true; });
    return changed;
}

TEST(ConvolutionAlgorithmKey, KeysAreEqualExactlyWhenTheGeometriesAre) {
    const ConvolutionAlgorithmKey key = key_of(primary());
    EXPECT_EQ(key, key_of(primary()));
    EXPECT_EQ(ConvolutionAlgorithmKeyHash{}(key), ConvolutionAlgorithmKeyHash{}(key_of(primary())));
    for (const ConvolutionGeometry& g : one_field_changed()) {
        SCOPED_TRACE(g.str() + (g.fused_relu ? ", fused_relu" : ""));
        EXPECT_NE(key, key_of(g));
        EXPECT_EQ(key_of(g), key_of(g));
    }
}

TEST(ConvolutionAlgorithmKey, DirectionTrainingAndDeviceMakeKeysOfTheirOwn) {
    const ConvolutionAlgorithmKey key = key_of(primary());
    ConvolutionAlgorithmKey other = key;
    other.direction = ConvolutionDirection::backward_filter;
    EXPECT_NE(key, other);
    other = key, other.training = true;
    EXPECT_NE(key, other);
    other = key, other.device = 1;
    EXPECT_NE(key, other);
}

// A search that counts its calls and answers `algorithm`.
struct CountingSearch {
    int calls = 0;
    ConvolutionAlgorithmCache::Search answering(int algorithm) {
        return [this, algorithm] {
            ++calls;
            return ConvolutionAlgorithm{algorithm, 1024, 0.5f, true};
        };
    }
};

TEST(ConvolutionAlgorithmCache, AHitReturnsTheKeptChoiceWithoutSearching) {
    ConvolutionAlgorithmCache cache;
    CountingSearch search;
    EXPECT_EQ(cache.find(key_of(primary()), search.answering(1)).algorithm, 1);
    EXPECT_EQ(search.calls, 1);
    // The same shape again (a second node, or the graph compiled again): no search, the kept answer.
    EXPECT_EQ(cache.find(key_of(primary()), search.answering(6)).algorithm, 1);
    EXPECT_EQ(search.calls, 1);
    EXPECT_EQ(cache.searches(), 1u);
    EXPECT_EQ(cache.size(), 1u);
}

TEST(ConvolutionAlgorithmCache, EveryOtherKeySearchesOnce) {
    ConvolutionAlgorithmCache cache;
    CountingSearch search;
    std::vector<ConvolutionAlgorithmKey> keys{key_of(primary())};
    for (const ConvolutionGeometry& g : one_field_changed()) keys.push_back(key_of(g));
    for (int round = 0; round < 2; ++round)
        for (std::size_t i = 0; i < keys.size(); ++i)
            EXPECT_EQ(cache.find(keys[i], search.answering(static_cast<int>(i))).algorithm,
                      static_cast<int>(i));
    EXPECT_EQ(search.calls, static_cast<int>(keys.size()));
    EXPECT_EQ(cache.size(), keys.size());
}

TEST(ConvolutionAlgorithmCache, AFailedSearchKeepsNothing) {
    ConvolutionAlgorithmCache cache;
    EXPECT_THROW(
        cache.find(key_of(primary()), []() -> ConvolutionAlgorithm { throw std::runtime_error("no GPU"); }),
        std::runtime_error);
    EXPECT_EQ(cache.size(), 0u);
    CountingSearch search;
    EXPECT_EQ(cache.find(key_of(primary()), search.answering(2)).algorithm, 2);
    EXPECT_EQ(search.calls, 1);
}

TEST(ConvolutionAlgorithmCache, TheProcessWideCacheIsOneForTheWholeProcess) {
    EXPECT_EQ(&ConvolutionAlgorithmCache::process_wide(), &ConvolutionAlgorithmCache::process_wide());
}

// --- the choice among measured algorithms ---

AlgorithmCandidate candidate(int algorithm, float milliseconds, bool deterministic = true,
                             std::size_t workspace_bytes = 0) {
    return AlgorithmCandidate{algorithm, true, milliseconds, workspace_bytes, deterministic, false};
}

TEST(ChooseAlgorithm, TakesTheFastestDeterministicFloat32AlgorithmWithinTheWorkspace) {
    std::vector<AlgorithmCandidate> measured{candidate(0, 3.f),        candidate(1, 2.f),
                                             candidate(2, 1.f, false), candidate(3, 0.5f, true, 1 << 30),
                                             candidate(4, 0.2f),       candidate(5, 0.1f)};
    measured[4].tensor_math = true;  // TF32: not float32 results
    measured[5].succeeded = false;
    const ConvolutionAlgorithm chosen = weft::cuda::choose_algorithm(measured, 256 << 20, "conv");
    EXPECT_EQ(chosen.algorithm, 1);
    EXPECT_TRUE(chosen.deterministic);
    EXPECT_FLOAT_EQ(chosen.milliseconds, 2.f);
}

TEST(ChooseAlgorithm, FallsBackToTheFastestNondeterministicOneWhenNoOtherQualifies) {
    const std::vector<AlgorithmCandidate> measured{candidate(0, 3.f, false), candidate(1, 2.f, false),
                                                   candidate(2, 1.f, true, 1 << 30)};
    const ConvolutionAlgorithm chosen = weft::cuda::choose_algorithm(measured, 256 << 20, "conv");
    EXPECT_EQ(chosen.algorithm, 1);
    EXPECT_FALSE(chosen.deterministic);
}

TEST(ChooseAlgorithm, NamesTheConvolutionWhenNoAlgorithmQualifies) {
    std::vector<AlgorithmCandidate> measured{candidate(0, 1.f, true, 1 << 30), candidate(1, 1.f)};
    measured[1].tensor_math = true;
    EXPECT_TRUE(weft::testing::throws_error_containing(
        [&] { weft::cuda::choose_algorithm(measured, 256 << 20, "the convolution X (forward)"); },
        "cuDNN has no float32 algorithm for the convolution X (forward) within 256 MiB of workspace (2 "
        "measured)"));
}

}  // namespace
