// Test tensors: descriptions, seeded random values, literal values, copies, and the weighted-sum
// loss and its central differences that gradient checks use.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "weft/error.h"
#include "weft/testing/op_check.h"

namespace weft::testing {

TensorDesc f32(Shape shape) { return TensorDesc{DType::f32, std::move(shape), Layout::row_major}; }

// xorshift64: the same stream on every platform and standard library, unlike <random>'s
// distributions.
Tensor random_tensor(const Shape& shape, std::uint64_t seed, float lo, float hi) {
    Tensor t(f32(shape));
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    float* p = t.as<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        p[i] = lo + (hi - lo) * static_cast<float>((state >> 11) * 0x1.0p-53);
    }
    return t;
}

Tensor tensor_from(const Shape& shape, const std::vector<float>& values) {
    Tensor t(f32(shape));
    if (static_cast<std::int64_t>(values.size()) != t.numel())
        throw Error(fmt::format("tensor_from: {} values for shape {}", values.size(), shape_str(shape)));
    std::copy(values.begin(), values.end(), t.as<float>());
    return t;
}

Tensor deep_copy(const Tensor& tensor) {
    Tensor copy(tensor.desc());
    if (tensor.bytes() > 0) std::memcpy(copy.data(), tensor.data(), tensor.bytes());
    return copy;
}

double weighted_sum(const std::vector<Tensor>& outputs, const std::vector<Tensor>& weights) {
    double sum = 0.0;
    for (std::size_t k = 0; k < outputs.size(); ++k)
        for (std::int64_t i = 0; i < outputs[k].numel(); ++i)
            sum += static_cast<double>(outputs[k].as<float>()[i]) * weights[k].as<float>()[i];
    return sum;
}

Tensor numeric_gradient(Tensor x, const std::function<double()>& loss, float step) {
    Tensor grad(x.desc());
    float* p = x.as<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        const float original = p[i];
        p[i] = original + step;
        const double up = loss();
        p[i] = original - step;
        const double down = loss();
        p[i] = original;
        grad.as<float>()[i] = static_cast<float>((up - down) / (2.0 * static_cast<double>(step)));
    }
    return grad;
}

}  // namespace weft::testing
