#include "weft/cuda/convolution_algorithm_cache.h"

#include <array>
#include <cstdint>
#include <optional>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft::cuda {

std::string_view direction_name(ConvolutionDirection direction) {
    switch (direction) {
        case ConvolutionDirection::forward: return "forward";
        case ConvolutionDirection::backward_data: return "backward data";
        case ConvolutionDirection::backward_filter: return "backward filter";
    }
    return "?";
}

std::string ConvolutionAlgorithmKey::str() const {
    return fmt::format("{} {}{} on cuda:{}", geometry.str(), direction_name(direction),
                       training ? " (training)" : "", device);
}

std::size_t ConvolutionAlgorithmKeyHash::operator()(const ConvolutionAlgorithmKey& key) const noexcept {
    const ConvolutionGeometry& g = key.geometry;
    const std::array<std::int64_t, 20> fields{g.batch,
                                              g.in_channels,
                                              g.in_height,
                                              g.in_width,
                                              g.out_channels,
                                              g.groups,
                                              g.kernel_h,
                                              g.kernel_w,
                                              g.stride_h,
                                              g.stride_w,
                                              g.padding_h,
                                              g.padding_w,
                                              g.dilation_h,
                                              g.dilation_w,
                                              g.bias,
                                              g.fused_relu,
                                              static_cast<std::int64_t>(key.direction),
                                              key.training,
                                              key.device,
                                              0};
    // FNV-1a over the fields: equal keys hash equal; the hash only spreads them.
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (const std::int64_t field : fields) {
        hash ^= static_cast<std::uint64_t>(field);
        hash *= 0x100000001b3ull;
    }
    return static_cast<std::size_t>(hash);
}

namespace {

bool qualifies(const AlgorithmCandidate& c, std::size_t max_workspace_bytes) {
    return c.succeeded && !c.tensor_math && c.workspace_bytes <= max_workspace_bytes;
}

}  // namespace

ConvolutionAlgorithm choose_algorithm(std::span<const AlgorithmCandidate> candidates,
                                      std::size_t max_workspace_bytes, std::string_view what) {
    std::optional<AlgorithmCandidate> best;
    const auto better = [](const AlgorithmCandidate& a, const AlgorithmCandidate& b) {
        if (a.deterministic != b.deterministic) return a.deterministic;
        return a.milliseconds < b.milliseconds;
    };
    for (const AlgorithmCandidate& c : candidates)
        if (qualifies(c, max_workspace_bytes) && (!best || better(c, *best))) best = c;
    if (!best)
        throw Error(
            fmt::format("cuDNN has no float32 algorithm for {} within {} MiB of workspace ({} measured)",
                        what, max_workspace_bytes >> 20, candidates.size()));
    return ConvolutionAlgorithm{best->algorithm, best->workspace_bytes, best->milliseconds,
                                best->deterministic};
}

ConvolutionAlgorithm ConvolutionAlgorithmCache::find(const ConvolutionAlgorithmKey& key,
                                                     const Search& search) {
    const std::lock_guard lock(mutex_);
    if (const auto it = algorithms_.find(key); it != algorithms_.end()) return it->second;
    ++searches_;
    const ConvolutionAlgorithm found = search();
    algorithms_.emplace(key, found);
    return found;
}

std::size_t ConvolutionAlgorithmCache::size() const {
    const std::lock_guard lock(mutex_);
    return algorithms_.size();
}

std::size_t ConvolutionAlgorithmCache::searches() const {
    const std::lock_guard lock(mutex_);
    return searches_;
}

void ConvolutionAlgorithmCache::clear() {
    const std::lock_guard lock(mutex_);
    algorithms_.clear();
    searches_ = 0;
}

ConvolutionAlgorithmCache& ConvolutionAlgorithmCache::process_wide() {
    static ConvolutionAlgorithmCache cache;
    return cache;
}

}  // namespace weft::cuda
