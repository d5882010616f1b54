#include "gradient_averager.h"

#include <chrono>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "weft/error.h"

namespace weft::training {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void check_float(const TrainingExecutor::Parameter& p) {
    if (p.value.desc.dtype != DType::f32)
        throw Error(fmt::format("data-parallel training: parameter '{}' is not f32", p.name));
}

}  // namespace

GradientAverager::GradientAverager(TrainingExecutor& executor, Communicator& communicator,
                                   std::size_t bucket_bytes, DeviceAllreduce* on_device)
    : executor_(executor), communicator_(communicator), on_device_(on_device) {
    const auto& parameters = executor.parameters();
    bucket_of_.assign(parameters.size(), -1);
    // Backward runs the nodes in reverse, so the last parameters' gradients are final first.
    Bucket bucket;
    std::size_t bytes = 0;
    for (std::size_t i = parameters.size(); i-- > 0;) {
        if (!parameters[i].spec.learnable) continue;
        check_float(parameters[i]);
        bucket_of_[i] = static_cast<int>(buckets_.size());
        bucket.parameters.push_back(i);
        bytes += parameters[i].grad.desc.bytes();
        if (bytes >= bucket_bytes) {
            buckets_.push_back(std::move(bucket));
            bucket = {};
            bytes = 0;
        }
    }
    if (!bucket.parameters.empty()) buckets_.push_back(std::move(bucket));
    for (Bucket& b : buckets_) {
        for (std::size_t i : b.parameters)
            b.floats += static_cast<std::size_t>(parameters[i].grad.desc.numel());
        if (!on_device_) b.sums.resize(b.floats);
        b.waiting = b.parameters.size();
    }
    executor_.set_gradients_ready([this](std::size_t first, std::size_t count) { ready(first, count); });
}

GradientAverager::~GradientAverager() { executor_.set_gradients_ready({}); }

void GradientAverager::ready(std::size_t first, std::size_t count) {
    const auto start_time = Clock::now();
    for (std::size_t i = first; i < first + count; ++i) {
        const int b = bucket_of_[i];
        if (b >= 0 && --buckets_[b].waiting == 0) start(buckets_[b]);
    }
    if (!on_device_) communicator_.progress();
    seconds_.during_backward += since(start_time);
}

void GradientAverager::start(Bucket& bucket) {
    bucket.started = true;
    if (on_device_) {
        views_.clear();
        for (std::size_t i : bucket.parameters) views_.push_back(executor_.parameters()[i].grad);
        on_device_->start_mean(views_);
        return;
    }
    Device& device = executor_.device();
    float* out = bucket.sums.data();
    for (std::size_t i : bucket.parameters) {
        const TensorView& grad = executor_.parameters()[i].grad;
        device.copy_to_host(out, grad.data, grad.desc.bytes());
        out += grad.desc.numel();
    }
    communicator_.start_allreduce_sum(bucket.sums);
}

void GradientAverager::finish() {
    const auto start_time = Clock::now();
    // A parameter no backward reported (none today) still has to be sent, in the same order on
    // every rank.
    for (Bucket& b : buckets_)
        if (!b.started) start(b);
    if (on_device_)
        on_device_->wait_all();  // the means are written in place
    else
        write_back_means();
    for (Bucket& b : buckets_) {
        b.waiting = b.parameters.size();
        b.started = false;
    }
    seconds_.exposed += since(start_time);
}

void GradientAverager::write_back_means() {
    communicator_.wait_all();
    Device& device = executor_.device();
    const float scale = 1.0f / static_cast<float>(communicator_.size());
    for (Bucket& b : buckets_) {
        for (float& v : b.sums) v *= scale;
        const float* in = b.sums.data();
        for (std::size_t i : b.parameters) {
            const TensorView& grad = executor_.parameters()[i].grad;
            device.copy_from_host(grad.data, in, grad.desc.bytes());
            in += grad.desc.numel();
        }
    }
    device.synchronize();
}

GradientAverager::Seconds GradientAverager::take_seconds() { return std::exchange(seconds_, Seconds{}); }

std::size_t GradientAverager::gradient_bytes() const {
    std::size_t bytes = 0;
    for (const Bucket& b : buckets_) bytes += b.floats * sizeof(float);
    return bytes;
}

void broadcast_parameters(TrainingExecutor& executor, Communicator& communicator) {
    Device& device = executor.device();
    std::vector<std::byte> bytes;
    for (const auto& p : executor.parameters()) {
        bytes.resize(p.value.desc.bytes());
        device.copy_to_host(bytes.data(), p.value.data, bytes.size());
        communicator.broadcast(bytes, 0);
        device.copy_from_host(p.value.data, bytes.data(), bytes.size());
    }
    device.synchronize();
}

void average_statistics(TrainingExecutor& executor, Communicator& communicator) {
    Device& device = executor.device();
    std::vector<float> values;
    for (const auto& p : executor.parameters()) {
        if (p.spec.learnable) continue;
        check_float(p);
        const std::size_t offset = values.size();
        values.resize(offset + static_cast<std::size_t>(p.value.desc.numel()));
        device.copy_to_host(values.data() + offset, p.value.data, p.value.desc.bytes());
    }
    if (values.empty()) return;
    communicator.allreduce_sum(values);
    const float scale = 1.0f / static_cast<float>(communicator.size());
    std::size_t offset = 0;
    for (const auto& p : executor.parameters()) {
        if (p.spec.learnable) continue;
        const auto n = static_cast<std::size_t>(p.value.desc.numel());
        for (std::size_t k = 0; k < n; ++k) values[offset + k] *= scale;
        device.copy_from_host(p.value.data, values.data() + offset, p.value.desc.bytes());
        offset += n;
    }
    device.synchronize();
}

}  // namespace weft::training
