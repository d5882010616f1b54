// The sgd update of one element, shared by the CPU and the CUDA kernel so that both compute one
// formula, PyTorch's, in one order:
//   d = g + decay·w;  v = momentum·v + d;  w −= lr·(nesterov ? d + momentum·v : v)
// Every operation is rounded on its own, never fused into a multiply-add (on the GPU through the
// _rn intrinsics, on the CPU by building with -ffp-contract=off), so the two agree bit for bit.
#pragma once

#include "weft/attributes.h"
#include "weft/optimizer_kernel.h"

#if defined(__CUDACC__)
#define WEFT_SGD_INLINE __host__ __device__ __forceinline__
#else
#define WEFT_SGD_INLINE inline
#endif

namespace weft::sgd {

// One update's constants: the step's (learning rate, the parameter's decay) and the schema's.
struct Step {
    float lr, decay, momentum;
    bool nesterov;
};

// The schema's hyperparameters (validated, defaults filled in), read once per kernel.
struct Hyperparameters {
    float momentum;
    bool nesterov;
    explicit Hyperparameters(const Attributes& attrs)
        : momentum(static_cast<float>(attrs.get_real("momentum"))), nesterov(attrs.get_bool("nesterov")) {}
    Step step(const ParameterUpdate& u) const { return Step{u.lr, u.weight_decay, momentum, nesterov}; }
};

WEFT_SGD_INLINE float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

WEFT_SGD_INLINE float add(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

WEFT_SGD_INLINE float sub(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fsub_rn(a, b);
#else
    return a - b;
#endif
}

WEFT_SGD_INLINE void update_one(float& w, float& v, float g, const Step& s) {
    const float d = add(g, mul(s.decay, w));
    const float velocity = add(mul(s.momentum, v), d);
    v = velocity;
    w = sub(w, mul(s.lr, s.nesterov ? add(d, mul(s.momentum, velocity)) : velocity));
}

}  // namespace weft::sgd
