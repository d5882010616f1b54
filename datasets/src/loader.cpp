#include "random_stream.h"
#include "streamed_sample.h"

#include <weft/datasets/loader.h>
#include <weft/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <numeric>

namespace weft::datasets {
namespace {

void validate(const Dataset& data, const LoaderOptions& options) {
    auto fail = [&](const std::string& what) {
        return Error(fmt::format("dataset '{}': {}", data.name, what));
    };
    if (options.batch <= 0) throw fail(fmt::format("batch size {} is not positive", options.batch));
    if (options.prefetch <= 0) throw fail(fmt::format("prefetch {} is not positive", options.prefetch));
    if (options.workers <= 0 || options.workers > 1024)
        throw fail(fmt::format("{} loader threads, outside 1..1024", options.workers));
    if (data.streamed()) {
        validate(options.augment.crop);
        if (!(options.augment.centre_fraction > 0 && options.augment.centre_fraction <= 1))
            throw fail(fmt::format("centre crop fraction {} outside (0, 1]", options.augment.centre_fraction));
        if (data.files.size() != data.labels.size())
            throw fail(fmt::format("{} files for {} labels", data.files.size(), data.labels.size()));
        if (data.channels != 3 || data.height <= 0 || data.width <= 0)
            throw fail(fmt::format("streamed images of {}x{}x{}: the input size was never set", data.channels,
                                   data.height, data.width));
    }
    if (options.augment.pad < 0 || options.augment.pad > 4096)
        throw fail(fmt::format("padding {} outside 0..4096", options.augment.pad));
    if (options.shard_count < 1 || options.shard_index < 0 || options.shard_index >= options.shard_count)
        throw fail(fmt::format("shard {} of {} does not exist", options.shard_index, options.shard_count));
    if (options.shard_count > 1 && (options.batch % options.shard_count != 0 || !options.drop_last))
        throw fail(fmt::format("batch {} is not cut into {} equal whole shards (sharding needs a divisible "
                               "batch and drop_last)",
                               options.batch, options.shard_count));
    if (data.size() == 0) return;
    if (data.channels <= 0 || data.height <= 0 || data.width <= 0)
        throw fail(fmt::format("image shape {}x{}x{} is empty", data.channels, data.height, data.width));
    if (!data.streamed() && static_cast<std::int64_t>(data.pixels.size()) != data.size() * data.image_bytes())
        throw fail(fmt::format("{} pixel bytes for {} images of {} bytes", data.pixels.size(), data.size(),
                               data.image_bytes()));
    const Normalization& norm = options.normalization;
    if (norm.mean.size() != norm.std.size() ||
        (!norm.mean.empty() && static_cast<std::int64_t>(norm.mean.size()) != data.channels))
        throw fail(fmt::format("normalisation has {} means and {} deviations for {} channels",
                               norm.mean.size(), norm.std.size(), data.channels));
    for (float deviation : norm.std)
        if (!(deviation > 0)) throw fail(fmt::format("normalisation deviation {} is not positive", deviation));
}

}  // namespace

BatchLoader::BatchLoader(const Dataset& data, LoaderOptions options, std::uint64_t epoch)
    : data_(data), options_(std::move(options)), epoch_(epoch) {
    validate(data_, options_);
    const std::int64_t n = data_.size(), batch = options_.batch;
    rows_ = batch / options_.shard_count;
    batches_ = options_.drop_last ? n / batch : (n + batch - 1) / batch;
    if (options_.first_batch < 0 || options_.first_batch > batches_)
        throw Error(fmt::format("dataset '{}': first batch {} outside 0..{}", data_.name,
                                options_.first_batch, batches_));
    next_batch_ = options_.first_batch;

    order_.resize(n);
    std::iota(order_.begin(), order_.end(), std::int64_t{0});
    if (options_.shuffle) {
        std::uint64_t state = stream_state(options_.seed, epoch_, shuffle_stream);
        for (std::int64_t i = n - 1; i > 0; --i)  // Fisher-Yates
            std::swap(order_[i], order_[below(splitmix64(state), i + 1)]);
    }

    // (x / 255 - mean[c]) / std[c] for every byte x: one table lookup per pixel on the hot path;
    // resampled (fractional) values of a streamed set take the same map as x * scale + shift.
    lut_.resize(data_.channels * 256);
    for (std::int64_t c = 0; c < data_.channels; ++c) {
        const bool plain = options_.normalization.mean.empty();
        const float mean = plain ? 0.0f : options_.normalization.mean[c];
        const float deviation = plain ? 1.0f : options_.normalization.std[c];
        for (int x = 0; x < 256; ++x) lut_[c * 256 + x] = (x / 255.0f - mean) / deviation;
        scale_.push_back(1.0f / (255.0f * deviation));
        shift_.push_back(-mean / deviation);
    }

    if (next_batch_ >= batches_) return;
    task_batch_ = next_batch_;
    slots_.resize(options_.prefetch);
    for (Slot& slot : slots_) {
        slot.images.resize(rows_ * data_.image_bytes());
        slot.labels.resize(rows_);
    }
    for (int w = 0; w < options_.workers; ++w) workers_.emplace_back([this] { work(); });
}

BatchLoader::~BatchLoader() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
    for (std::thread& worker : workers_) worker.join();
}

// Each turn takes the next sample in epoch order. The first row of a batch claims a free slot,
// so workers run at most `prefetch` batches ahead of next(); the worker that finishes a batch's
// last row pads it and marks it ready.
void BatchLoader::work() {
    try {
        for (;;) {
            std::int64_t batch = 0, row = 0;
            Slot* slot = nullptr;
            {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [&] {
                    return stop_ || error_ || task_batch_ >= batches_ || task_row_ > 0 ||
                           slots_[task_batch_ % slots_.size()].state == Slot::State::free;
                });
                if (stop_ || error_ || task_batch_ >= batches_) return;
                batch = task_batch_;
                row = task_row_;
                slot = &slots_[batch % slots_.size()];
                if (row == 0) {
                    slot->state = Slot::State::filling;
                    slot->batch = batch;
                    slot->rows_done = 0;
                    slot->count = std::min(rows_, data_.size() - batch * options_.batch);
                }
                if (++task_row_ == slot->count) ++task_batch_, task_row_ = 0;
            }
            fill_row(batch, row, *slot);
            bool last = false;
            {
                std::lock_guard lock(mutex_);
                last = ++slot->rows_done == slot->count;
            }
            if (!last) continue;
            pad_batch(*slot);  // every row is done: no other worker touches this slot now
            {
                std::lock_guard lock(mutex_);
                slot->state = Slot::State::ready;
            }
            changed_.notify_all();
        }
    } catch (...) {
        {
            std::lock_guard lock(mutex_);
            if (!error_) error_ = std::current_exception();
        }
        changed_.notify_all();
    }
}

bool BatchLoader::next(weft::Tensor& images, weft::Tensor& labels, std::int64_t& count) {
    if (next_batch_ >= batches_) return false;
    Slot& slot = slots_[next_batch_ % slots_.size()];
    {
        std::unique_lock lock(mutex_);
        const auto ready = [&] { return slot.state == Slot::State::ready && slot.batch == next_batch_; };
        changed_.wait(lock, [&] { return ready() || error_; });
        if (!ready()) std::rethrow_exception(error_);
    }
    const std::int64_t rows = rows_;
    TensorDesc image_desc{DType::f32, {rows, data_.channels, data_.height, data_.width}};
    TensorDesc label_desc{DType::i32, {rows}};
    if (images.empty() || images.desc() != image_desc) images = Tensor(image_desc);
    if (labels.empty() || labels.desc() != label_desc) labels = Tensor(label_desc);
    std::memcpy(images.data(), slot.images.data(), slot.images.size() * sizeof(float));
    std::memcpy(labels.data(), slot.labels.data(), slot.labels.size() * sizeof(std::int32_t));
    count = slot.count;
    {
        std::lock_guard lock(mutex_);
        slot.state = Slot::State::free;
        ++next_batch_;
    }
    changed_.notify_all();
    return true;
}

void BatchLoader::fill_row(std::int64_t batch, std::int64_t row, Slot& slot) const {
    const std::int64_t position = batch * options_.batch + options_.shard_index * rows_ + row;
    const std::int64_t sample = order_[position];
    const std::int32_t label = data_.labels[sample];
    const auto classes = static_cast<std::int64_t>(data_.class_names.size());
    if (label < 0 || (classes > 0 && label >= classes))
        throw Error(fmt::format("dataset '{}': sample {} has label {} outside 0..{}", data_.name, sample, label,
                                classes - 1));
    slot.labels[row] = label;
    float* out = slot.images.data() + row * data_.image_bytes();
    if (!data_.streamed()) return augment_sample(position, data_.image(sample), out);
    std::uint64_t state = stream_state(options_.seed, epoch_, static_cast<std::uint64_t>(position));
    make_streamed_sample(data_.files[sample], data_.height, data_.width, options_.augment, state, scale_.data(),
                         shift_.data(), out);
}

// A partial batch keeps the graph's batch size; the padding rows repeat the last sample.
void BatchLoader::pad_batch(Slot& slot) const {
    const std::int64_t image_bytes = data_.image_bytes(), count = slot.count;
    for (std::int64_t row = count; row < rows_; ++row) {
        slot.labels[row] = slot.labels[count - 1];
        std::memcpy(slot.images.data() + row * image_bytes, slot.images.data() + (count - 1) * image_bytes,
                    image_bytes * sizeof(float));
    }
}

// Zero padding, crop and flip as one gather: output (y, x) reads padded (y + dy, x' + dx) with
// x' = W-1-x when flipped, i.e. source (y + dy - pad, x' + dx - pad), zero outside the image.
void BatchLoader::augment_sample(std::int64_t position, const std::uint8_t* source, float* out) const {
    const Augmentation& augment = options_.augment;
    const std::int64_t H = data_.height, W = data_.width, plane = H * W;
    std::int64_t dy = augment.pad, dx = augment.pad;
    bool flip = false;
    if (augment.random_crop || augment.horizontal_flip) {
        std::uint64_t state = stream_state(options_.seed, epoch_, static_cast<std::uint64_t>(position));
        const std::uint64_t span = 2 * static_cast<std::uint64_t>(augment.pad) + 1;
        const std::uint64_t r_y = splitmix64(state), r_x = splitmix64(state), r_flip = splitmix64(state);
        if (augment.random_crop) {
            dy = static_cast<std::int64_t>(below(r_y, span));
            dx = static_cast<std::int64_t>(below(r_x, span));
        }
        flip = augment.horizontal_flip && (r_flip >> 63) != 0;
    }
    const std::int64_t shift_y = dy - augment.pad, shift_x = dx - augment.pad;
    // Output columns whose source column lies inside the image.
    const std::int64_t x0 = std::clamp(flip ? shift_x : -shift_x, std::int64_t{0}, W);
    const std::int64_t x1 = std::clamp(flip ? W + shift_x : W - shift_x, x0, W);
    for (std::int64_t c = 0; c < data_.channels; ++c) {
        const float* table = lut_.data() + c * 256;
        const float zero = table[0];
        for (std::int64_t y = 0; y < H; ++y) {
            float* row_out = out + c * plane + y * W;
            const std::int64_t sy = y + shift_y;
            if (sy < 0 || sy >= H) {
                std::fill(row_out, row_out + W, zero);
                continue;
            }
            const std::uint8_t* row = source + c * plane + sy * W;
            std::fill(row_out, row_out + x0, zero);
            if (flip) {
                for (std::int64_t x = x0; x < x1; ++x) row_out[x] = table[row[W - 1 - x + shift_x]];
            } else {
                for (std::int64_t x = x0; x < x1; ++x) row_out[x] = table[row[x + shift_x]];
            }
            std::fill(row_out + x1, row_out + W, zero);
        }
    }
}

}  // namespace weft::datasets
