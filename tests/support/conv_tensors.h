// Test support for convolution operators: random tensors for one case — input, weight, bias and an
// incoming gradient dL/dy — for any case type with input_shape(), weight_shape(), batch,
// out_channels, out_height(), out_width() and bias (group_conv's ConvCase, pointwise_conv's
// PointwiseCase).
#pragma once

#include <cstdint>

#include "op_harness.h"
#include "weft/tensor.h"
#include "weft/weights.h"

namespace weft::testing {

struct ConvTensors {
    Tensor input, weight, bias, grad_output;

    // The node's parameters by name, as run_op and run_op_backward take them: the bias only when
    // the case has one.
    template <class Case>
    WeightMap params(const Case& c) const {
        WeightMap map{{"weight", weight}};
        if (c.bias) map["bias"] = bias;
        return map;
    }
};

template <class Case>
ConvTensors random_conv_tensors(const Case& c, std::uint64_t seed) {
    return ConvTensors{random_tensor(c.input_shape(), seed), random_tensor(c.weight_shape(), seed + 1),
                       random_tensor({c.out_channels}, seed + 2),
                       random_tensor({c.batch, c.out_channels, c.out_height(), c.out_width()}, seed + 3)};
}

}  // namespace weft::testing
