// The cuda device. Host side (everywhere the backend is built): why it is unavailable, that it
// refuses what is not its own. On a GPU (skipped elsewhere, with the reason): copies through the
// pinned staging buffers, accumulate, fill_zero, and the allocator shared by executors.
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/cuda/cuda_check.h"
#include "weft/cuda/cuda_device.h"
#include "weft/error.h"
#include "weft/executor.h"
#include "weft/plugin.h"
#include "weft/registry.h"

using namespace weft;
using weft::testing::build_registry;
using weft::testing::throws_error_containing;

namespace {

constexpr std::size_t kStaging = std::size_t{4} << 20;  // the device's staging buffer size

std::unique_ptr<Device> make_cuda_device() { return build_registry().create_device("cuda", {}); }

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> bytes(n);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    return bytes;
}

// Device memory for one test, freed whatever happens.
struct DeviceBlock {
    Device& device;
    void* ptr;
    DeviceBlock(Device& d, std::size_t bytes) : device(d), ptr(d.allocate(bytes)) {}
    ~DeviceBlock() { device.deallocate(ptr); }
    std::uint8_t* bytes(std::size_t offset = 0) const { return static_cast<std::uint8_t*>(ptr) + offset; }
};

}  // namespace

// ---- host side: no GPU needed ----

TEST(CudaDevice, UnavailableReasonSaysWhatTheRuntimeSays) {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    (void)cudaGetLastError();
    const std::string why = cuda::unavailable_reason();
    if (status == cudaErrorInsufficientDriver) {
        EXPECT_EQ(why, "no CUDA driver");
        EXPECT_EQ(cuda::unavailable_reason(3), "no CUDA driver") << "the driver is the first thing missing";
    } else if (status == cudaErrorNoDevice || (status == cudaSuccess && count == 0)) {
        EXPECT_EQ(why, "no CUDA device");
    } else {
        ASSERT_EQ(status, cudaSuccess) << cudaGetErrorString(status);
        EXPECT_EQ(why, "");
        EXPECT_EQ(cuda::unavailable_reason(count),
                  fmt::format("device cuda:{} does not exist: this machine has {} CUDA device{}", count, count,
                              count == 1 ? "" : "s"));
    }
}

TEST(CudaDevice, TheBackendPluginReportsTheReasonAndMakesNoDeviceWithoutOne) {
    const BackendFactory* backend = build_registry().find_backend("cuda");
    ASSERT_NE(backend, nullptr) << "libweft_backend_cuda.so did not load";
    ASSERT_TRUE(backend->unavailable_reason);
    const std::string why = cuda::unavailable_reason();
    EXPECT_EQ(backend->unavailable_reason(), why);
    if (!why.empty())
        EXPECT_TRUE(throws_error_containing([] { make_cuda_device(); }, "device 'cuda' is not available: " + why));
}

TEST(CudaDevice, KernelsRegisteredWithCudaKernelFactoryAreUnavailableForTheDevicesReason) {
    struct Nothing final : Kernel {
        explicit Nothing(const KernelConfig&) {}
        void forward(const ForwardArgs&) override {}
    };
    const KernelFactory factory = cuda::cuda_kernel_factory<Nothing>("some_op", "plain");
    EXPECT_EQ(factory.backend, "cuda");
    ASSERT_TRUE(factory.unavailable_reason);
    EXPECT_EQ(factory.unavailable_reason(), cuda::unavailable_reason());
}

TEST(CudaDevice, ANegativeIndexIsRefusedNamingIt) {
    EXPECT_TRUE(throws_error_containing([] { cuda::CudaDevice device(DeviceOptions{-1, 0}); },
                                        "cuda device index -1 is negative"));
}

TEST(CudaDevice, CudaDeviceOfACpuDeviceIsAnErrorNamingTheBackend) {
    const std::unique_ptr<Device> cpu = build_registry().create_device("cpu", {});
    EXPECT_TRUE(throws_error_containing([&] { cuda::cuda_device(*cpu); }, "a cuda kernel was given a 'cpu' device"));
}

// ---- on a GPU ----

// Sizes around the staging buffer (one chunk, exactly one, one byte into a second, two and a
// bit) at odd device offsets; two uploads in a row make the second wait for the first's buffers.
TEST(CudaDevice, CopiesRoundTripThroughTheStagingBuffersAtAnySizeAndOffset) {
    WEFT_SKIP_WITHOUT_CUDA();
    const std::unique_ptr<Device> device = make_cuda_device();
    for (const std::size_t bytes : {std::size_t{1}, std::size_t{3}, kStaging - 1, kStaging, kStaging + 1,
                                    2 * kStaging, 2 * kStaging + 5, 3 * kStaging + 4097}) {
        for (const std::size_t offset : {std::size_t{0}, std::size_t{3}}) {
            const auto first = random_bytes(bytes, static_cast<std::uint32_t>(bytes + offset));
            const auto second = random_bytes(bytes, static_cast<std::uint32_t>(bytes + offset + 1));
            DeviceBlock a(*device, bytes + offset), b(*device, bytes + offset);
            device->copy_from_host(a.bytes(offset), first.data(), bytes);
            device->copy_from_host(b.bytes(offset), second.data(), bytes);
            std::vector<std::uint8_t> back_a(bytes, 0xEE), back_b(bytes, 0xEE);
            device->copy_to_host(back_a.data(), a.bytes(offset), bytes);
            device->copy_to_host(back_b.data(), b.bytes(offset), bytes);
            EXPECT_TRUE(back_a == first) << bytes << " bytes at offset " << offset;
            EXPECT_TRUE(back_b == second) << bytes << " bytes at offset " << offset;
        }
    }
}

// The float4 path where both pointers are 16-byte aligned, the scalar path elsewhere and for the
// tail; the floats on either side of the range stay as they were.
TEST(CudaDevice, AccumulateAddsAsTheHostDoesForOddSizesAndMisalignedPointers) {
    WEFT_SKIP_WITHOUT_CUDA();
    const std::unique_ptr<Device> device = make_cuda_device();
    for (const std::int64_t n : {1, 3, 4, 5, 1023, 4099, (1 << 20) + 3}) {
        for (const auto& [dst_offset, src_offset] : std::initializer_list<std::pair<int, int>>{{0, 0}, {1, 1}, {0, 3}, {2, 0}}) {
            const std::int64_t total = n + 8;
            const Tensor dst = weft::testing::random_tensor({total}, static_cast<std::uint64_t>(n) * 7 + dst_offset);
            const Tensor src = weft::testing::random_tensor({total}, static_cast<std::uint64_t>(n) * 7 + 100 + src_offset);
            DeviceBlock d(*device, dst.bytes()), s(*device, src.bytes());
            device->copy_from_host(d.ptr, dst.data(), dst.bytes());
            device->copy_from_host(s.ptr, src.data(), src.bytes());
            device->accumulate(static_cast<float*>(d.ptr) + dst_offset, static_cast<const float*>(s.ptr) + src_offset, n);
            Tensor result(dst.desc());
            device->copy_to_host(result.data(), d.ptr, result.bytes());
            Tensor expected(dst.desc());  // a copy: Tensor copies share their storage
            std::memcpy(expected.data(), dst.data(), dst.bytes());
            for (std::int64_t i = 0; i < n; ++i)
                expected.as<float>()[dst_offset + i] = dst.as<float>()[dst_offset + i] + src.as<float>()[src_offset + i];
            EXPECT_TRUE(weft::testing::all_close(result, expected, 0, 0)) << "n " << n << ", offsets " << dst_offset << "/" << src_offset;
        }
    }
}

TEST(CudaDevice, FillZeroClearsExactlyTheBytesAsked) {
    WEFT_SKIP_WITHOUT_CUDA();
    const std::unique_ptr<Device> device = make_cuda_device();
    const std::size_t bytes = kStaging + 1000, offset = 5, length = kStaging - 3;
    const std::vector<std::uint8_t> poison(bytes, 0xAB);
    DeviceBlock block(*device, bytes);
    device->copy_from_host(block.ptr, poison.data(), bytes);
    device->fill_zero(block.bytes(offset), length);
    std::vector<std::uint8_t> back(bytes);
    device->copy_to_host(back.data(), block.ptr, bytes);
    for (std::size_t i = 0; i < bytes; ++i) {
        const bool cleared = i >= offset && i < offset + length;
        ASSERT_EQ(back[i], cleared ? 0 : 0xAB) << "byte " << i;
    }
}

namespace {

// test_device_copy: y = x, by one device-to-device copy on the device's stream. A graph of it
// exercises the executor on cuda (arena, inputs in, outputs out) without any operator's kernel.
struct DeviceCopy final : Kernel {
    explicit DeviceCopy(const KernelConfig& config) : device(cuda::cuda_device(config.device)) {}
    void forward(const ForwardArgs& a) override {
        WEFT_CUDA_CHECK(cudaMemcpyAsync(a.outputs[0].data, a.inputs[0].data, a.inputs[0].desc.bytes(),
                                        cudaMemcpyDeviceToDevice, device.stream()));
    }
    cuda::CudaDevice& device;
};

void register_device_copy(PluginRegistrar& registrar) {
    OpSchema schema;
    schema.name = "test_device_copy";
    schema.infer = [](const InferContext& c) { return NodeSignature{{c.inputs[0]}, {}, 0}; };
    registrar.add_op(schema);
    registrar.add_kernel(cuda::cuda_kernel_factory<DeviceCopy>("test_device_copy", "copy"));
}

Graph device_copy_graph(const Registry& registry) {
    Graph g;
    Node node;
    node.name = "copy";
    node.op = "test_device_copy";
    node.inputs = {g.add_input("x", weft::testing::f32({4, 3000}))};
    g.outputs = g.nodes[g.add_node(std::move(node))].outputs;
    infer_shapes(g, registry);
    return g;
}

}  // namespace

TEST(CudaDevice, ASecondExecutorOnTheGpuTakesTheFirstOnesFreedBlocks) {
    WEFT_SKIP_WITHOUT_CUDA();
    Registry registry;
    registry.load_directory(WEFT_TEST_PLUGIN_DIR, {"cpu", "cuda"});
    const PluginDescriptor copy_plugin{kPluginAbiVersion, "test_device_copy", "1.0", &register_device_copy};
    registry.register_builtin(copy_plugin, "cuda_device_test");
    ASSERT_TRUE(registry.refused().empty()) << registry.refused()[0].reason;
    const Graph g = device_copy_graph(registry);
    CompileOptions options;
    options.backend = "cuda";
    const Tensor x = weft::testing::random_tensor({4, 3000}, 5);
    cuda::CachingAllocator::Stats after_first;
    {
        Executor first(g, registry, {}, options);
        std::vector<Tensor> y = first.make_outputs();
        first.run(std::span<const Tensor>(&x, 1), y);
        EXPECT_TRUE(weft::testing::all_close(y[0], x, 0, 0));
        after_first = cuda::cuda_device(first.device()).allocator_stats();
    }
    Executor second(g, registry, {}, options);
    const cuda::CachingAllocator::Stats s = cuda::cuda_device(second.device()).allocator_stats();
    EXPECT_EQ(s.raw_allocations, after_first.raw_allocations) << "the second graph called cudaMalloc";
    EXPECT_GT(s.reuses, after_first.reuses);
    std::vector<Tensor> y = second.make_outputs();
    second.run(std::span<const Tensor>(&x, 1), y);
    EXPECT_TRUE(weft::testing::all_close(y[0], x, 0, 0));
}
