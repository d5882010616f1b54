// The NCCL gradient exchange on a GPU, with one rank (a lent GPU machine has one GPU and no MPI):
// NCCL's mean over one rank gives back every value, in place for a bucket of one tensor and
// through the packed buffer for several, bucket after bucket; and a one-rank training job whose
// gradients go through NCCL trains what one process on the GPU trains. Skipped without a GPU.
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "guarded_backend.h"
#include "one_rank.h"
#include "op_harness.h"
#include "tiny_training_run.h"
#include "weft/nccl/nccl_allreduce.h"
#include "weft/weights.h"

namespace weft {
namespace {

using testing::all_close;

using testing::OneRank;

TEST(NcclCuda, TheMeanOverOneRankGivesBackEveryValue) {
    WEFT_SKIP_WITHOUT_CUDA();
    const std::unique_ptr<Device> device = testing::registry_for("cuda").create_device("cuda", {});
    OneRank ranks;
    const std::unique_ptr<training::DeviceAllreduce> nccl = nccl::make_nccl_allreduce(*device, ranks);
    EXPECT_EQ(nccl->description().rfind("NCCL ", 0), 0u) << nccl->description();
    const std::vector<Shape> shapes{{7}, {3, 5}, {2, 2, 3}};
    std::vector<Tensor> host;
    std::vector<TensorView> views;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        host.push_back(testing::random_tensor(shapes[i], 70 + i));
        void* memory = device->allocate(host.back().bytes());
        device->copy_from_host(memory, host.back().data(), host.back().bytes());
        views.push_back(TensorView{memory, host.back().desc()});
    }
    for (int step = 0; step < 2; ++step) {  // the second step reuses the packed buffer
        nccl->start_mean(std::span(views).subspan(0, 1));  // in place
        nccl->start_mean(std::span(views).subspan(1));     // packed
        nccl->wait_all();
    }
    for (std::size_t i = 0; i < views.size(); ++i) {
        Tensor back(views[i].desc);
        device->copy_to_host(back.data(), views[i].data, back.bytes());
        EXPECT_TRUE(all_close(back, host[i], 0.0, 0.0)) << i;
        device->deallocate(views[i].data);
    }
}

// cuDNN may sum a weight gradient in another order from one run to the next (atomics), so two
// runs on the GPU are compared with the tolerance training_devices_test gives cpu against cuda:
// a gradient lost or not averaged moves weights by whole percents.
TEST(NcclCuda, AOneRankJobThroughNcclTrainsWhatOneProcessTrains) {
    WEFT_SKIP_WITHOUT_CUDA();
    const auto data = testing::write_tiny_cifar("nccl", 16);
    training::train(testing::tiny_run(data, data / "alone", 2), testing::registry_for("cuda"),
                    testing::tiny_runtime(false, "cuda"));
    OneRank ranks;
    training::TrainRuntime runtime = testing::tiny_runtime(false, "cuda");
    runtime.communicator = &ranks;
    runtime.bucket_bytes = 4096;  // several buckets, of one tensor and of several
    runtime.device_allreduce = [](Device& device, training::Communicator& communicator) {
        return nccl::make_nccl_allreduce(device, communicator);
    };
    training::train(testing::tiny_run(data, data / "nccl", 2), testing::registry_for("cuda"), runtime);
    EXPECT_EQ(ranks.host_sums, 0) << "gradients went through the host";
    const WeightMap a = load_safetensors(data / "alone" / "checkpoint.safetensors");
    const WeightMap b = load_safetensors(data / "nccl" / "checkpoint.safetensors");
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) EXPECT_TRUE(all_close(b.at(name), t, 2e-3, 2e-4)) << name;
    std::filesystem::remove_all(data);
}

}  // namespace
}  // namespace weft
