// The window of a pool node (kernel, stride, padding per spatial dimension) and its output
// shape, resolved from the attributes once, for the schema's shape rule and the kernels alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/attributes.h"
#include "weft/checked_arithmetic.h"
#include "weft/convolution.h"
#include "weft/error.h"
#include "weft/tensor.h"

namespace weft::pool {

struct PoolGeometry {
    std::string mode;  // max | avg | global_avg
    std::vector<std::int64_t> kernel;
    std::vector<std::int64_t> stride;
    std::vector<std::int64_t> padding;  // the same on both sides of each dimension
    Shape output;
};

// One value per spatial dimension: a single value applies to all of them, an empty list
// takes `fallback`.
inline std::vector<std::int64_t> per_dimension(const Attributes& attrs, const char* name,
                                               std::size_t dims,
                                               const std::vector<std::int64_t>& fallback) {
    std::vector<std::int64_t> values = attrs.get_ints(name);
    if (values.empty()) return fallback;
    if (values.size() == 1) return std::vector<std::int64_t>(dims, values[0]);
    if (values.size() != dims)
        throw Error(fmt::format("pool: '{}' = [{}] should have 1 or {} values (one per spatial "
                                "dimension)", name, fmt::join(values, ", "), dims));
    return values;
}

inline PoolGeometry pool_geometry(const Attributes& attrs, const TensorDesc& input) {
    if (input.rank() < 3 || input.rank() > 5)
        throw Error(fmt::format("pool: expected an input [N, C, spatial...] with 1 to 3 spatial "
                                "dimensions, such as [N, C, H, W], got {}", input.str()));
    const std::size_t dims = input.shape.size() - 2;
    const Shape spatial(input.shape.begin() + 2, input.shape.end());
    PoolGeometry g;
    g.mode = attrs.get_string("mode");
    g.output = {input.shape[0], input.shape[1]};
    if (g.mode == "global_avg") {
        for (const char* name : {"kernel", "stride", "padding"})
            if (!attrs.get_ints(name).empty())
                throw Error(fmt::format("pool: mode 'global_avg' averages the whole spatial extent "
                                        "and takes no '{}'", name));
        g.kernel = spatial;
        g.stride = std::vector<std::int64_t>(dims, 1);
        g.padding = std::vector<std::int64_t>(dims, 0);
        g.output.insert(g.output.end(), dims, 1);
        return g;
    }
    g.kernel = per_dimension(attrs, "kernel", dims, {});
    if (g.kernel.empty())
        throw Error(fmt::format("pool: mode '{}' needs attribute 'kernel' (1 or {} values)",
                                g.mode, dims));
    g.stride = per_dimension(attrs, "stride", dims, g.kernel);
    g.padding = per_dimension(attrs, "padding", dims, std::vector<std::int64_t>(dims, 0));
    for (std::size_t d = 0; d < dims; ++d) {
        // padding < kernel keeps a real element in every window, so no max is taken over
        // padding alone and no average divides by zero real elements.
        if (g.padding[d] >= g.kernel[d])
            throw Error(fmt::format("pool: padding {} must be smaller than the kernel {} "
                                    "(spatial dimension {})", g.padding[d], g.kernel[d], d));
        const std::string what = fmt::format("pool: the padded extent of spatial dimension {}", d);
        const std::int64_t padded = checked_add(spatial[d], checked_mul(2, g.padding[d], what), what);
        if (padded < g.kernel[d])
            throw Error(fmt::format("pool: kernel {} is larger than the padded input extent {} "
                                    "(spatial dimension {} of {})", g.kernel[d], padded, d,
                                    input.str()));
        // Floor mode (PyTorch's default, MXNet's "valid"): ResNet's stem maps 112 to 56. The
        // convolutions' one output-size rule, with dilation 1.
        g.output.push_back(convolution_output_extent(fmt::format("extent of spatial dimension {}", d), spatial[d],
                                                     g.kernel[d], g.stride[d], g.padding[d], 1));
    }
    return g;
}

}  // namespace weft::pool
