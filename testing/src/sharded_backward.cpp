// run_op_backward_sharded: one batch cut into shards, each run by its own kernel on its own
// thread, the kernels summing their batch statistics through an in-process Collective — data-
// parallel ranks with synchronised batch norm, in one process and without MPI.
#include <barrier>
#include <cstring>
#include <exception>
#include <functional>
#include <thread>

#include <fmt/format.h>

#include "training_kernel.h"
#include "weft/collective.h"
#include "weft/error.h"
#include "weft/registry.h"
#include "weft/testing/op_check.h"

namespace weft::testing {

namespace {

// The members of one in-process group: each sum() waits for every member's values and then
// hands each the same total, added up in member order so that it does not depend on which
// thread came first.
class ThreadGroup {
public:
    explicit ThreadGroup(int size)
        : contributions_(static_cast<std::size_t>(size)), barrier_(size, Total{this}) {}

    int size() const { return static_cast<int>(contributions_.size()); }

    void sum(int member, std::span<double> values) {
        contributions_[static_cast<std::size_t>(member)].assign(values.begin(), values.end());
        barrier_.arrive_and_wait();  // the last to arrive adds them up (Total) before any goes on
        if (total_.size() != values.size())
            throw Error(fmt::format("weft::testing: the shards summed {} and {} values at once",
                                    total_.size(), values.size()));
        std::memcpy(values.data(), total_.data(), values.size_bytes());
    }

private:
    // The total is written only when every member has arrived again, so after each has read the
    // previous one.
    struct Total {
        ThreadGroup* group;
        void operator()() noexcept {
            std::vector<double>& total = group->total_;
            total.assign(group->contributions_[0].begin(), group->contributions_[0].end());
            for (std::size_t m = 1; m < group->contributions_.size(); ++m) {
                const std::vector<double>& part = group->contributions_[m];
                if (part.size() != total.size()) {
                    total.clear();  // every member then refuses
                    return;
                }
                for (std::size_t i = 0; i < total.size(); ++i) total[i] += part[i];
            }
        }
    };

    std::vector<std::vector<double>> contributions_;
    std::vector<double> total_;
    std::barrier<Total> barrier_;
};

// One member's view of the group, as a kernel is given it.
class GroupMember final : public Collective {
public:
    GroupMember(ThreadGroup& group, int member) : group_(group), member_(member) {}
    int size() const override { return group_.size(); }
    void sum(std::span<double> values) override { group_.sum(member_, values); }

private:
    ThreadGroup& group_;
    int member_;
};

// Part `shard` of `shards` along axis 0.
Tensor shard_of(const Tensor& t, int shard, int shards) {
    const std::int64_t batch = t.shape().at(0);
    if (batch % shards != 0)
        throw Error(
            fmt::format("weft::testing: a batch of {} cannot be cut into {} equal shards", batch, shards));
    TensorDesc desc = t.desc();
    desc.shape[0] = batch / shards;
    Tensor part(desc);
    std::memcpy(part.data(), static_cast<const std::byte*>(t.data()) + shard * part.bytes(), part.bytes());
    return part;
}

// The shards' tensors i put back together along axis 0.
Tensor joined(const std::vector<std::vector<Tensor>>& parts, std::size_t i) {
    TensorDesc desc = parts[0][i].desc();
    desc.shape[0] *= static_cast<std::int64_t>(parts.size());
    Tensor whole(desc);
    for (std::size_t s = 0; s < parts.size(); ++s)
        std::memcpy(static_cast<std::byte*>(whole.data()) + s * parts[s][i].bytes(), parts[s][i].data(),
                    parts[s][i].bytes());
    return whole;
}

}  // namespace

BackwardResult run_op_backward_sharded(const PluginSet& plugins, const OpCall& call,
                                       const std::vector<Tensor>& grad_outputs, int shards) {
    if (shards < 1) throw Error(fmt::format("weft::testing: {} shards", shards));
    ThreadGroup group(shards);
    std::vector<GroupMember> members;
    std::vector<OpCall> calls;
    std::vector<std::vector<Tensor>> shard_grads(static_cast<std::size_t>(shards));
    for (int s = 0; s < shards; ++s) {
        members.emplace_back(group, s);
        OpCall part = call;
        for (Tensor& x : part.inputs) x = shard_of(x, s, shards);
        for (const Tensor& g : grad_outputs) shard_grads[s].push_back(shard_of(g, s, shards));
        calls.push_back(std::move(part));
    }
    // Every kernel is made before any thread starts, so a node no kernel takes fails here, once.
    std::vector<std::unique_ptr<TrainingKernel>> kernels;
    for (int s = 0; s < shards; ++s)
        kernels.push_back(std::make_unique<TrainingKernel>(plugins.registry(), calls[s], &members[s]));

    std::vector<BackwardResult> results(static_cast<std::size_t>(shards));
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(shards));
    {
        std::vector<std::jthread> threads;
        for (int s = 0; s < shards; ++s)
            threads.emplace_back([&, s] {
                try {
                    TrainingKernel& kernel = *kernels[s];
                    results[s] = kernel.backward(calls[s].inputs, kernel.node().params(), shard_grads[s]);
                } catch (...) {
                    errors[s] = std::current_exception();
                }
            });
    }
    for (const std::exception_ptr& e : errors)
        if (e) std::rethrow_exception(e);

    BackwardResult whole;
    std::vector<std::vector<Tensor>> outputs, grad_inputs;
    for (BackwardResult& r : results) {
        outputs.push_back(std::move(r.outputs));
        grad_inputs.push_back(std::move(r.grad_inputs));
    }
    for (std::size_t i = 0; i < outputs[0].size(); ++i) whole.outputs.push_back(joined(outputs, i));
    for (std::size_t i = 0; i < grad_inputs[0].size(); ++i)
        whole.grad_inputs.push_back(joined(grad_inputs, i));
    whole.grad_params = std::move(results[0].grad_params);
    for (int s = 1; s < shards; ++s)
        for (std::size_t p = 0; p < whole.grad_params.size(); ++p) {
            float* sum = whole.grad_params[p].as<float>();
            const float* part = results[s].grad_params[p].as<float>();
            for (std::int64_t i = 0; i < whole.grad_params[p].numel(); ++i) sum[i] += part[i];
        }
    whole.params = results[0].params;
    for (int s = 1; s < shards; ++s)
        for (const auto& [name, value] : results[s].params)
            if (std::memcmp(value.data(), whole.params.at(name).data(), value.bytes()) != 0)
                throw Error(fmt::format("weft::testing: shard {}'s '{}' after forward differs from shard "
                                        "0's: the kernel's statistics are not the group's",
                                        s, name));
    return whole;
}

}  // namespace weft::testing
