// A job of one rank for the NCCL tests (a GPU machine lent for them has one GPU and no MPI):
// NCCL's unique id needs no broadcast, every sum is the values themselves. It counts the host
// sums started, so a test sees gradients that went through the host instead of the device.
#pragma once

#include <cstdlib>
#include <span>
#include <string>

#include "weft/training/communicator.h"

namespace weft::testing {

class OneRank final : public training::Communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string description() const override { return "one rank"; }
    void allreduce_sum(std::span<float>) override {}
    void allreduce_sum(std::span<double>) override {}
    void allreduce_max(std::span<double>) override {}
    void start_allreduce_sum(std::span<float>) override { ++host_sums; }
    void progress() override {}
    void wait_all() override {}
    void broadcast(std::span<std::byte>, int) override {}
    [[noreturn]] void abort(int status) override { std::_Exit(status); }

    int host_sums = 0;
};

}  // namespace weft::testing
