// Which cuDNN algorithm computes a convolution: measured once per shape, then kept for the life of
// the process. Compiling the same graph again, or a second node of the same shape, finds the choice
// here instead of timing every algorithm again (a search takes tens of milliseconds per direction).
//
// Host logic only — the search itself is a function handed in — so the key, the lookup and the rule
// that picks an algorithm from a search's measurements are tested without a GPU.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "weft/convolution.h"

namespace weft::cuda {

enum class ConvolutionDirection { forward, backward_data, backward_filter };
std::string_view direction_name(ConvolutionDirection direction);  // "forward", "backward data", ...

// What an algorithm choice depends on: the convolution, the direction, whether it was compiled for
// training, and the GPU (two kinds of GPU in one process may prefer different algorithms). Keys are
// equal exactly when all of these are.
struct ConvolutionAlgorithmKey {
    ConvolutionGeometry geometry;
    ConvolutionDirection direction = ConvolutionDirection::forward;
    bool training = false;
    int device = 0;

    bool operator==(const ConvolutionAlgorithmKey&) const = default;
    std::string str() const;
};

struct ConvolutionAlgorithmKeyHash {
    std::size_t operator()(const ConvolutionAlgorithmKey& key) const noexcept;
};

// The algorithm chosen for one key.
struct ConvolutionAlgorithm {
    int algorithm = 0;                // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
    std::size_t workspace_bytes = 0;  // as the search measured it
    float milliseconds = 0.f;
    bool deterministic = true;
};

// One algorithm as a search measured it: cuDNN's perf result reduced to the facts the choice reads.
struct AlgorithmCandidate {
    int algorithm = 0;
    bool succeeded = false;  // status CUDNN_STATUS_SUCCESS
    float milliseconds = 0.f;
    std::size_t workspace_bytes = 0;
    bool deterministic = false;
    bool tensor_math = false;  // Tensor Core math (TF32 on float32 data): not float32 results
};

// The fastest candidate that succeeded, computes in float32 (no Tensor Core math), needs at most
// `max_workspace_bytes` and is deterministic — training runs repeat bit for bit; when no
// deterministic one qualifies, the fastest of the others. Throws weft::Error naming `what` (the
// convolution and direction) when none qualifies at all.
ConvolutionAlgorithm choose_algorithm(std::span<const AlgorithmCandidate> candidates,
                                      std::size_t max_workspace_bytes, std::string_view what);

class ConvolutionAlgorithmCache {
public:
    using Search = std::function<ConvolutionAlgorithm()>;

    // The algorithm kept for `key`; on a miss, runs `search` (under the cache's lock, so two
    // compilations of one shape search once) and keeps its answer. A search that throws keeps
    // nothing and the exception propagates.
    ConvolutionAlgorithm find(const ConvolutionAlgorithmKey& key, const Search& search);

    std::size_t size() const;      // keys kept
    std::size_t searches() const;  // searches run (misses)
    void clear();

    // The one cache of this process, shared by every CUDA kernel library (it lives in the backend).
    static ConvolutionAlgorithmCache& process_wide();

private:
    mutable std::mutex mutex_;
    std::unordered_map<ConvolutionAlgorithmKey, ConvolutionAlgorithm, ConvolutionAlgorithmKeyHash>
        algorithms_;
    std::size_t searches_ = 0;
};

}  // namespace weft::cuda
