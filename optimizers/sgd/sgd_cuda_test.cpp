// The sgd update on the GPU against the CPU kernel: one update of random weights, gradients and
// velocities, Nesterov or not, with and without weight decay, at sizes and offsets that take the
// four-at-a-time path, the one-at-a-time path and both. Skipped without a GPU, with the reason.
//
// Tolerance: 1e-6 relative (and 1e-7 absolute, for values that cancel to near zero). Both
// kernels do the same correctly rounded float operations in the same order, so the results are
// expected to be identical; the tolerance only keeps the test from depending on that.
#include <cstdint>
#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/attributes.h"
#include "weft/optimizer_kernel.h"
#include "weft/registry.h"

using namespace weft;
using weft::testing::build_registry;
using weft::testing::random_tensor;

namespace {

struct UpdateCase {
    std::int64_t n;
    std::int64_t offset;  // floats into each buffer: 1 and 3 misalign the float4 path
    bool nesterov;
    float weight_decay;
};

struct State {
    Tensor value, velocity;
};

Tensor copy_of(const Tensor& t) {
    Tensor copy(t.desc());  // Tensor copies share storage: this one must not
    std::memcpy(copy.data(), t.data(), t.bytes());
    return copy;
}

// One update on `backend` of value/velocity (as given) with `grad`; returns the new state.
State update_on(const std::string& backend, const UpdateCase& c, const State& before, const Tensor& grad) {
    const Registry& registry = build_registry();
    const std::unique_ptr<Device> device = registry.create_device(backend, {});
    Attributes attrs;
    attrs.set("momentum", 0.9);
    attrs.set("nesterov", c.nesterov);
    const OptimizerSchema* schema = registry.find_optimizer("sgd");
    const Attributes hyper = validate_attributes("sgd", schema->attrs, attrs);
    const auto kernel = registry.optimizer_kernel("sgd", backend).factory.create(OptimizerConfig{hyper, *device});

    // Three buffers of offset + n floats; the update sees the last n of each.
    const std::size_t bytes = static_cast<std::size_t>(c.offset + c.n) * sizeof(float);
    void* w = device->allocate(bytes);
    void* v = device->allocate(bytes);
    void* g = device->allocate(bytes);
    const auto at_offset = [&](void* p) { return static_cast<float*>(p) + c.offset; };
    const std::size_t n_bytes = static_cast<std::size_t>(c.n) * sizeof(float);
    device->copy_from_host(at_offset(w), before.value.data(), n_bytes);
    device->copy_from_host(at_offset(v), before.velocity.data(), n_bytes);
    device->copy_from_host(at_offset(g), grad.data(), n_bytes);
    const TensorDesc desc = weft::testing::f32({c.n});
    const TensorView state[] = {TensorView{at_offset(v), desc}};
    kernel->update(ParameterUpdate{TensorView{at_offset(w), desc}, TensorView{at_offset(g), desc}, state, 0.1f,
                                   c.weight_decay});
    device->synchronize();
    State after{Tensor(desc), Tensor(desc)};
    device->copy_to_host(after.value.data(), at_offset(w), n_bytes);
    device->copy_to_host(after.velocity.data(), at_offset(v), n_bytes);
    for (void* p : {w, v, g}) device->deallocate(p);
    return after;
}

}  // namespace

TEST(SgdCuda, OneUpdateEqualsTheCpuKernelsAtEverySizeOffsetAndSetting) {
    WEFT_SKIP_WITHOUT_CUDA();
    const UpdateCase cases[] = {{1, 0, true, 1e-4f},        {3, 1, true, 1e-4f},      {4, 0, false, 0.f},
                                {4097, 0, true, 1e-4f},     {4097, 3, false, 1e-4f},  {(1 << 20) + 5, 0, true, 0.f},
                                {(1 << 20) + 5, 1, true, 5e-4f}};
    for (const UpdateCase& c : cases) {
        const std::uint64_t seed = static_cast<std::uint64_t>(c.n * 4 + c.offset);
        const State before{random_tensor({c.n}, seed), random_tensor({c.n}, seed + 1, -0.1f, 0.1f)};
        const Tensor grad = random_tensor({c.n}, seed + 2);
        const State cpu = update_on("cpu", c, State{copy_of(before.value), copy_of(before.velocity)}, grad);
        const State gpu = update_on("cuda", c, before, grad);
        const std::string what = ::testing::PrintToString(c.n) + " floats at offset " + std::to_string(c.offset) +
                                 (c.nesterov ? ", Nesterov" : ", plain momentum") + ", decay " +
                                 std::to_string(c.weight_decay);
        EXPECT_TRUE(weft::testing::all_close(gpu.value, cpu.value, 1e-6, 1e-7)) << "weights, " << what;
        EXPECT_TRUE(weft::testing::all_close(gpu.velocity, cpu.velocity, 1e-6, 1e-7)) << "velocities, " << what;
    }
}
