// The loops of the direct batch norm over one plane (one image's H·W values of one channel),
// contiguous in memory. The kernel walks the tensor plane after plane in memory order, so that
// the hardware prefetchers stream it; these functions are what it does to each plane.
//
// Sums are taken in kLanes partial sums, added in a fixed order at the end: the result is the
// same whatever vector width computed it, and the partial sums do not wait on one another.
#pragma once

#include <cstdint>

namespace weft::batch_norm {

// Σx and Σ(x − mean)² about the plane's own mean: the planes' moments combine exactly into the
// channel's (Chan et al.), without the cancellation of E[x²] − μ².
struct PlaneMoments {
    float sum = 0, squares = 0;
};
PlaneMoments plane_moments(const float* x, std::int64_t n);

// Σg and Σg·(x − mean), with g the incoming gradient where the fused ReLU passed it (its input
// x·scale + shift positive) when relu is set.
struct GradientSums {
    float g = 0, g_x = 0;
};
struct Affine {
    float scale, shift;  // y = x·scale + shift
};
GradientSums plane_gradient_sums(const float* x, const float* dy, std::int64_t n, float mean, Affine affine,
                                 bool relu);

// y = x·scale + shift, then max(y, 0) when relu is set.
void normalise_plane(const float* x, float* y, std::int64_t n, Affine affine, bool relu);

// dx = k·(count·g − Σg − (x − mean)·c2), with g masked as in plane_gradient_sums.
struct InputGradient {
    float k, count, sum_g, c2;
};
void input_gradient_plane(const float* x, const float* dy, float* dx, std::int64_t n, float mean, Affine affine,
                          bool relu, InputGradient terms);

}  // namespace weft::batch_norm
