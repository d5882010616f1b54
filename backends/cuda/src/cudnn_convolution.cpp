#include "weft/cuda/cudnn_convolution.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "convolution_epilogue.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"
#include "weft/error.h"

namespace weft::cuda {
namespace {

// A cuDNN descriptor, destroyed with its owner.
template <class Handle, cudnnStatus_t (*destroy)(Handle)>
class Owned {
public:
    Owned() = default;
    explicit Owned(Handle handle) : handle_(handle) {}
    ~Owned() {
        if (handle_) destroy(handle_);
    }
    Owned(Owned&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Owned& operator=(Owned&& other) noexcept {
        std::swap(handle_, other.handle_);
        return *this;
    }
    Handle get() const { return handle_; }

private:
    Handle handle_ = nullptr;
};

using TensorDescriptor = Owned<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDescriptor = Owned<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor = Owned<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;

// cuDNN's legacy API counts in int.
int to_int(std::int64_t value, std::string_view what, const ConvolutionGeometry& g) {
    if (value < 0 || value > std::numeric_limits<int>::max())
        throw Error(fmt::format("convolution {}: {} {} does not fit cuDNN's int", g.str(), what, value));
    return static_cast<int>(value);
}

TensorDescriptor nchw_tensor(const Shape& shape, const ConvolutionGeometry& g) {
    cudnnTensorDescriptor_t handle = nullptr;
    WEFT_CUDA_CHECK(cudnnCreateTensorDescriptor(&handle));
    TensorDescriptor owned(handle);
    // Each image must be addressable in int; the batch stride is what cuDNN multiplies.
    to_int(shape_numel({shape[1], shape[2], shape[3]}), "the elements of one image", g);
    WEFT_CUDA_CHECK(cudnnSetTensor4dDescriptor(handle, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                               to_int(shape[0], "batch", g), to_int(shape[1], "channels", g),
                                               to_int(shape[2], "height", g), to_int(shape[3], "width", g)));
    return owned;
}

FilterDescriptor grouped_filter(const ConvolutionGeometry& g) {
    cudnnFilterDescriptor_t handle = nullptr;
    WEFT_CUDA_CHECK(cudnnCreateFilterDescriptor(&handle));
    FilterDescriptor owned(handle);
    // [out, C/groups, kh, kw]: the graph's weight layout is cuDNN's grouped NCHW filter.
    WEFT_CUDA_CHECK(cudnnSetFilter4dDescriptor(
        handle, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, to_int(g.out_channels, "out_channels", g),
        to_int(g.in_per_group(), "channels per group", g), to_int(g.kernel_h, "kernel height", g),
        to_int(g.kernel_w, "kernel width", g)));
    return owned;
}

ConvolutionDescriptor convolution_descriptor(const ConvolutionGeometry& g) {
    cudnnConvolutionDescriptor_t handle = nullptr;
    WEFT_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&handle));
    ConvolutionDescriptor owned(handle);
    WEFT_CUDA_CHECK(cudnnSetConvolution2dDescriptor(
        handle, to_int(g.padding_h, "padding", g), to_int(g.padding_w, "padding", g),
        to_int(g.stride_h, "stride", g), to_int(g.stride_w, "stride", g), to_int(g.dilation_h, "dilation", g),
        to_int(g.dilation_w, "dilation", g), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    WEFT_CUDA_CHECK(cudnnSetConvolutionGroupCount(handle, to_int(g.groups, "groups", g)));
    // Float32 FMA only: the default math type allows TF32 Tensor Cores on Ampere and later.
    WEFT_CUDA_CHECK(cudnnSetConvolutionMathType(handle, CUDNN_FMA_MATH));
    return owned;
}

// Device memory a search times the algorithms on: the three tensors and the largest workspace an
// algorithm may have. Compile time only; freed when the searches are done.
class SearchBuffers {
public:
    explicit SearchBuffers(const ConvolutionGeometry& g, cudaStream_t stream) : stream_(stream) {
        input_ = allocate(std::size_t(shape_numel(g.input_shape())) * sizeof(float));
        weight_ = allocate(std::size_t(shape_numel(g.weight_shape())) * sizeof(float));
        output_ = allocate(std::size_t(shape_numel(g.output_shape())) * sizeof(float));
        std::size_t free = 0, total = 0;
        WEFT_CUDA_CHECK(cudaMemGetInfo(&free, &total));
        workspace_bytes_ = std::min(CudnnConvolution::kMaxWorkspaceBytes, free / 4);
        workspace_ = allocate(workspace_bytes_);
    }
    ~SearchBuffers() {
        for (void* p : owned_) cudaFree(p);
    }
    SearchBuffers(const SearchBuffers&) = delete;
    SearchBuffers& operator=(const SearchBuffers&) = delete;

    void* input() const { return input_; }
    void* weight() const { return weight_; }
    void* output() const { return output_; }
    void* workspace() const { return workspace_; }
    std::size_t workspace_bytes() const { return workspace_bytes_; }

private:
    void* allocate(std::size_t bytes) {
        if (bytes == 0) return nullptr;
        void* p = nullptr;
        WEFT_CUDA_CHECK(cudaMalloc(&p, bytes));  // plain device memory, never managed
        owned_.push_back(p);
        // Timed on zeros rather than on whatever the memory held (NaNs and denormals); on the stream
        // the searches run on, which does not wait for the legacy default stream.
        WEFT_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_));
        return p;
    }

    cudaStream_t stream_;
    std::vector<void*> owned_;
    void *input_ = nullptr, *weight_ = nullptr, *output_ = nullptr, *workspace_ = nullptr;
    std::size_t workspace_bytes_ = 0;
};

// cuDNN's three perf structs have the same fields.
template <class Perf>
std::vector<AlgorithmCandidate> candidates_of(const Perf* perf, int count) {
    std::vector<AlgorithmCandidate> candidates;
    for (int i = 0; i < count; ++i) {
        const Perf& p = perf[i];
        candidates.push_back(AlgorithmCandidate{
            static_cast<int>(p.algo), p.status == CUDNN_STATUS_SUCCESS, p.time, p.memory,
            p.determinism == CUDNN_DETERMINISTIC,
            p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION});
    }
    return candidates;
}

}  // namespace

struct CudnnConvolution::Impl {
    ConvolutionGeometry geometry;
    CudaDevice* device = nullptr;
    cudnnHandle_t handle = nullptr;
    TensorDescriptor input, output, bias;
    FilterDescriptor weight;
    ConvolutionDescriptor convolution;
    ConvolutionAlgorithm forward;
    std::optional<ConvolutionAlgorithm> backward_data, backward_filter;  // training only
    // Only while the constructor searches.
    std::optional<SearchBuffers> search_buffers;

    SearchBuffers& buffers() {
        if (!search_buffers) search_buffers.emplace(geometry, device->stream());
        return *search_buffers;
    }
    std::string what(ConvolutionDirection direction) const {
        return fmt::format("the convolution {} ({})", geometry.str(), direction_name(direction));
    }

    // Times every algorithm of one direction (`find` calls cuDNN's `finder`, a cudnnFind*AlgorithmEx,
    // on the search buffers) and chooses among them.
    template <class Perf, std::size_t kAlgorithms, class Find>
    ConvolutionAlgorithm search(ConvolutionDirection direction, const char* finder, const Find& find) {
        SearchBuffers& b = buffers();
        std::array<Perf, kAlgorithms> perf{};
        int count = 0;
        check(find(b, static_cast<int>(perf.size()), &count, perf.data()), finder, __FILE__, __LINE__);
        return choose_algorithm(candidates_of(perf.data(), count), b.workspace_bytes(), what(direction));
    }
    ConvolutionAlgorithm search(ConvolutionDirection direction) {
        switch (direction) {
            case ConvolutionDirection::forward:
                return search<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT>(
                    direction, "cudnnFindConvolutionForwardAlgorithmEx",
                    [&](SearchBuffers& b, int requested, int* count, auto* perf) {
                        return cudnnFindConvolutionForwardAlgorithmEx(
                            handle, input.get(), b.input(), weight.get(), b.weight(), convolution.get(),
                            output.get(), b.output(), requested, count, perf, b.workspace(),
                            b.workspace_bytes());
                    });
            case ConvolutionDirection::backward_data:
                return search<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT>(
                    direction, "cudnnFindConvolutionBackwardDataAlgorithmEx",
                    [&](SearchBuffers& b, int requested, int* count, auto* perf) {
                        return cudnnFindConvolutionBackwardDataAlgorithmEx(
                            handle, weight.get(), b.weight(), output.get(), b.output(), convolution.get(),
                            input.get(), b.input(), requested, count, perf, b.workspace(),
                            b.workspace_bytes());
                    });
            case ConvolutionDirection::backward_filter: break;
        }
        return search<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT>(
            direction, "cudnnFindConvolutionBackwardFilterAlgorithmEx",
            [&](SearchBuffers& b, int requested, int* count, auto* perf) {
                return cudnnFindConvolutionBackwardFilterAlgorithmEx(
                    handle, input.get(), b.input(), output.get(), b.output(), convolution.get(), weight.get(),
                    b.weight(), requested, count, perf, b.workspace(), b.workspace_bytes());
            });
    }

    // The cached or searched algorithm, with the workspace cuDNN says it needs for these
    // descriptors (which also confirms it supports them).
    ConvolutionAlgorithm choose(ConvolutionAlgorithmCache& cache, ConvolutionDirection direction,
                                bool training) {
        const ConvolutionAlgorithmKey key{geometry, direction, training, device->index()};
        ConvolutionAlgorithm chosen = cache.find(key, [&] { return search(direction); });
        std::size_t bytes = 0;
        switch (direction) {
            case ConvolutionDirection::forward:
                WEFT_CUDA_CHECK(cudnnGetConvolutionForwardWorkspaceSize(
                    handle, input.get(), weight.get(), convolution.get(), output.get(),
                    static_cast<cudnnConvolutionFwdAlgo_t>(chosen.algorithm), &bytes));
                break;
            case ConvolutionDirection::backward_data:
                WEFT_CUDA_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
                    handle, weight.get(), output.get(), convolution.get(), input.get(),
                    static_cast<cudnnConvolutionBwdDataAlgo_t>(chosen.algorithm), &bytes));
                break;
            case ConvolutionDirection::backward_filter:
                WEFT_CUDA_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                    handle, input.get(), output.get(), convolution.get(), weight.get(),
                    static_cast<cudnnConvolutionBwdFilterAlgo_t>(chosen.algorithm), &bytes));
                break;
        }
        chosen.workspace_bytes = std::max(chosen.workspace_bytes, bytes);
        return chosen;
    }

    void check_output_shape() const {
        int n = 0, c = 0, h = 0, w = 0;
        WEFT_CUDA_CHECK(cudnnGetConvolution2dForwardOutputDim(convolution.get(), input.get(), weight.get(),
                                                              &n, &c, &h, &w));
        const Shape expected = geometry.output_shape();
        if (Shape{n, c, h, w} != expected)
            throw Error(fmt::format("convolution {}: cuDNN computes an output {} where weft expects {}",
                                    geometry.str(), shape_str({n, c, h, w}), shape_str(expected)));
    }
};

CudnnConvolution::CudnnConvolution(const ConvolutionGeometry& geometry, CudaDevice& device, bool training,
                                   ConvolutionAlgorithmCache& cache)
    : impl_(std::make_unique<Impl>()) {
    if (training && geometry.fused_relu)
        throw Error(
            fmt::format("convolution {}: fused_relu is an inference-only rewrite and cannot be trained; "
                        "build the training graph without the ReLU fusion pass",
                        geometry.str()));
    Impl& s = *impl_;
    s.geometry = geometry;
    s.device = &device;
    WEFT_CUDA_CHECK(cudaSetDevice(device.index()));
    s.handle = device.cudnn();
    s.input = nchw_tensor(geometry.input_shape(), geometry);
    s.output = nchw_tensor(geometry.output_shape(), geometry);
    s.bias = nchw_tensor({1, geometry.out_channels, 1, 1}, geometry);
    s.weight = grouped_filter(geometry);
    s.convolution = convolution_descriptor(geometry);
    s.check_output_shape();
    s.forward = s.choose(cache, ConvolutionDirection::forward, training);
    if (training) {
        s.backward_data = s.choose(cache, ConvolutionDirection::backward_data, training);
        s.backward_filter = s.choose(cache, ConvolutionDirection::backward_filter, training);
    }
    s.search_buffers.reset();
}

CudnnConvolution::~CudnnConvolution() = default;

const ConvolutionGeometry& CudnnConvolution::geometry() const { return impl_->geometry; }

std::size_t CudnnConvolution::workspace_bytes() const {
    const Impl& s = *impl_;
    std::size_t bytes = s.forward.workspace_bytes;
    if (s.backward_data) bytes = std::max(bytes, s.backward_data->workspace_bytes);
    if (s.backward_filter) bytes = std::max(bytes, s.backward_filter->workspace_bytes);
    return bytes;
}

std::string CudnnConvolution::algorithms() const {
    const Impl& s = *impl_;
    std::string text = fmt::format("forward {}", s.forward.algorithm);
    if (s.backward_data) text += fmt::format(", backward data {}", s.backward_data->algorithm);
    if (s.backward_filter) text += fmt::format(", backward filter {}", s.backward_filter->algorithm);
    return text;
}

bool CudnnConvolution::has_backward() const { return impl_->backward_data.has_value(); }

void CudnnConvolution::forward(const float* input, const float* weight, const float* bias, float* output,
                               void* workspace) {
    const Impl& s = *impl_;
    if (s.geometry.bias && bias == nullptr)
        throw Error(fmt::format("convolution {} was given no bias", s.geometry.str()));
    const float one = 1.f, zero = 0.f;
    WEFT_CUDA_CHECK(cudnnConvolutionForward(
        s.handle, &one, s.input.get(), input, s.weight.get(), weight, s.convolution.get(),
        static_cast<cudnnConvolutionFwdAlgo_t>(s.forward.algorithm), workspace, s.forward.workspace_bytes,
        &zero, s.output.get(), output));
    if (s.geometry.bias || s.geometry.fused_relu) {
        const ConvolutionGeometry& g = s.geometry;
        add_bias_and_relu(output, g.bias ? bias : nullptr, g.batch, g.out_channels,
                          g.out_height() * g.out_width(), g.fused_relu, *s.device);
    }
}

namespace {

const ConvolutionAlgorithm& backward_algorithm(const std::optional<ConvolutionAlgorithm>& algorithm,
                                               const ConvolutionGeometry& g) {
    if (!algorithm)
        throw Error(fmt::format("convolution {} was built for inference and has no backward", g.str()));
    return *algorithm;
}

}  // namespace

void CudnnConvolution::backward_data(const float* grad_output, const float* weight, float* grad_input,
                                     void* workspace) {
    const Impl& s = *impl_;
    const ConvolutionAlgorithm& algorithm = backward_algorithm(s.backward_data, s.geometry);
    const float one = 1.f, zero = 0.f;
    WEFT_CUDA_CHECK(cudnnConvolutionBackwardData(
        s.handle, &one, s.weight.get(), weight, s.output.get(), grad_output, s.convolution.get(),
        static_cast<cudnnConvolutionBwdDataAlgo_t>(algorithm.algorithm), workspace, algorithm.workspace_bytes,
        &zero, s.input.get(), grad_input));
}

void CudnnConvolution::backward_weights(const float* input, const float* grad_output, float* grad_weight,
                                        float* grad_bias, void* workspace) {
    const Impl& s = *impl_;
    const ConvolutionAlgorithm& algorithm = backward_algorithm(s.backward_filter, s.geometry);
    if (s.geometry.bias && grad_bias == nullptr)
        throw Error(fmt::format("convolution {} was given nowhere to write dL/dbias", s.geometry.str()));
    const float one = 1.f, zero = 0.f;
    WEFT_CUDA_CHECK(cudnnConvolutionBackwardFilter(
        s.handle, &one, s.input.get(), input, s.output.get(), grad_output, s.convolution.get(),
        static_cast<cudnnConvolutionBwdFilterAlgo_t>(algorithm.algorithm), workspace,
        algorithm.workspace_bytes, &zero, s.weight.get(), grad_weight));
    if (s.geometry.bias)
        WEFT_CUDA_CHECK(cudnnConvolutionBackwardBias(s.handle, &one, s.output.get(), grad_output, &zero,
                                                     s.bias.get(), grad_bias));
}

std::string cudnn_convolution_declines(const KernelConfig& config) {
    if (config.training && convolution_geometry(config.attrs, config.inputs.at(0)).fused_relu)
        return "fused_relu is an inference-only rewrite (backward would need the ReLU's mask)";
    return {};
}

CudnnConvolutionKernel::CudnnConvolutionKernel(const KernelConfig& config)
    : convolution_(convolution_geometry(config), cuda_device(config.device), config.training) {}

std::size_t CudnnConvolutionKernel::workspace_bytes() const { return convolution_.workspace_bytes(); }

void CudnnConvolutionKernel::forward(const ForwardArgs& args) {
    const float* bias = convolution_.geometry().bias ? args.params[1].as<const float>() : nullptr;
    convolution_.forward(args.inputs[0].as<const float>(), args.params[0].as<const float>(), bias,
                         args.outputs[0].as<float>(), args.workspace);
}

bool CudnnConvolutionKernel::has_backward() const { return convolution_.has_backward(); }

void CudnnConvolutionKernel::backward(const BackwardArgs& args) {
    const float* grad_output = args.grad_outputs[0].as<const float>();
    float* grad_bias = convolution_.geometry().bias ? args.grad_params[1].as<float>() : nullptr;
    convolution_.backward_data(grad_output, args.params[0].as<const float>(), args.grad_inputs[0].as<float>(),
                               args.workspace);
    convolution_.backward_weights(args.inputs[0].as<const float>(), grad_output,
                                  args.grad_params[0].as<float>(), grad_bias, args.workspace);
}

}  // namespace weft::cuda
