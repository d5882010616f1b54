// The CUDA kernel libraries of the element-wise, normalisation, pooling, FC and loss operators,
// checked on every host where they are built, GPU or not: each registers a kernel for the cuda
// backend from its own library, and that kernel is unavailable exactly when the cuda device is,
// with the device's reason ("no CUDA driver" on a host without one).
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "op_harness.h"
#include "weft/registry.h"

namespace {

const char* const kOperators[] = {"add",  "batch_norm", "channel_permute", "fc",
                                  "pool", "relu",       "softmax",         "softmax_cross_entropy"};

TEST(CudaKernelRegistration, EveryOperatorHasACudaKernelFromItsOwnCudaLibrary) {
    const weft::Registry& registry = weft::testing::build_registry();
    for (const std::string op : kOperators) {
        SCOPED_TRACE(op);
        std::vector<std::string> libraries;
        for (const weft::RegisteredKernel* kernel : registry.kernels(op, "cuda")) {
            EXPECT_EQ(kernel->factory.backend, "cuda");
            libraries.push_back(kernel->library.filename().string());
        }
        EXPECT_NE(std::find(libraries.begin(), libraries.end(), "libweft_" + op + "_cuda.so"), libraries.end());
    }
}

TEST(CudaKernelRegistration, EveryCudaKernelIsUnavailableExactlyWhenTheDeviceIsAndSaysWhy) {
    const weft::Registry& registry = weft::testing::build_registry();
    const weft::BackendFactory* backend = registry.find_backend("cuda");
    ASSERT_NE(backend, nullptr);
    const std::string device_reason = backend->unavailable_reason();
    for (const std::string op : kOperators) {
        SCOPED_TRACE(op);
        for (const weft::RegisteredKernel* kernel : registry.kernels(op, "cuda"))
            EXPECT_EQ(weft::kernel_unavailable_reason(*kernel), device_reason);
    }
}

TEST(CudaKernelRegistration, AHostWithoutAUsableDeviceRefusesToRunACudaNodeWithTheReason) {
    const std::string why = weft::testing::cuda_unavailable_reason();
    if (why.empty()) GTEST_SKIP() << "this host has a usable cuda device";
    const weft::Tensor x = weft::testing::random_tensor({2, 3}, 1);
    EXPECT_TRUE(
        weft::testing::throws_error_containing([&] { weft::testing::run_op("relu", {}, {x}, {}, "cuda"); }, why));
}

}  // namespace
