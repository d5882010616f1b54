#include <weft/datasets/loader.h>
#include <weft/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <numeric>

namespace weft::datasets {
namespace {

// splitmix64: fast, fully specified, identical on every platform (std:: distributions are not).
std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Every sample position gets its own stream, so a batch can be produced (or an epoch resumed)
// without replaying the draws of the samples before it.
std::uint64_t stream_state(std::uint64_t seed, std::uint64_t epoch, std::uint64_t position) {
    std::uint64_t state = seed;
    state = splitmix64(state) ^ epoch;
    state = splitmix64(state) ^ position;
    return splitmix64(state);
}

constexpr std::uint64_t shuffle_stream = ~std::uint64_t{0};

// A uniform integer in [0, n) by multiply-shift (Lemire), without modulo bias worth noticing.
std::uint64_t below(std::uint64_t random, std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(random) * n) >> 64);
}

void validate(const Dataset& data, const LoaderOptions& options) {
    auto fail = [&](const std::string& what) {
        return Error(fmt::format("dataset '{}': {}", data.name, what));
    };
    if (options.batch <= 0) throw fail(fmt::format("batch size {} is not positive", options.batch));
    if (options.prefetch <= 0) throw fail(fmt::format("prefetch {} is not positive", options.prefetch));
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
    if (static_cast<std::int64_t>(data.pixels.size()) != data.size() * data.image_bytes())
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

    // (x / 255 - mean[c]) / std[c] for every byte x: one table lookup per pixel on the hot path.
    lut_.resize(data_.channels * 256);
    for (std::int64_t c = 0; c < data_.channels; ++c) {
        const bool plain = options_.normalization.mean.empty();
        const float mean = plain ? 0.0f : options_.normalization.mean[c];
        const float deviation = plain ? 1.0f : options_.normalization.std[c];
        for (int x = 0; x < 256; ++x) lut_[c * 256 + x] = (x / 255.0f - mean) / deviation;
    }

    if (next_batch_ >= batches_) return;
    slots_.resize(options_.prefetch);
    for (Slot& slot : slots_) {
        slot.images.resize(rows_ * data_.image_bytes());
        slot.labels.resize(rows_);
    }
    thread_ = std::thread([this] { produce(); });
}

BatchLoader::~BatchLoader() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void BatchLoader::produce() {
    try {
        for (std::int64_t b = next_batch_; b < batches_; ++b) {
            Slot& slot = slots_[b % slots_.size()];
            {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [&] { return stop_ || !slot.ready; });
                if (stop_) return;
            }
            fill(b, slot);  // the consumer does not touch a slot that is not ready
            {
                std::lock_guard lock(mutex_);
                slot.ready = true;
            }
            changed_.notify_all();
        }
    } catch (...) {
        {
            std::lock_guard lock(mutex_);
            error_ = std::current_exception();
        }
        changed_.notify_all();
    }
}

bool BatchLoader::next(weft::Tensor& images, weft::Tensor& labels, std::int64_t& count) {
    if (next_batch_ >= batches_) return false;
    Slot& slot = slots_[next_batch_ % slots_.size()];
    {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return slot.ready || error_; });
        if (!slot.ready) std::rethrow_exception(error_);
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
        slot.ready = false;
        ++next_batch_;
    }
    changed_.notify_all();
    return true;
}

void BatchLoader::fill(std::int64_t batch, Slot& slot) const {
    const std::int64_t first = batch * options_.batch + options_.shard_index * rows_;
    const std::int64_t count = std::min(rows_, data_.size() - first);
    const std::int64_t image_bytes = data_.image_bytes();
    const auto classes = static_cast<std::int64_t>(data_.class_names.size());
    for (std::int64_t row = 0; row < count; ++row) {
        const std::int64_t sample = order_[first + row];
        const std::int32_t label = data_.labels[sample];
        if (label < 0 || (classes > 0 && label >= classes))
            throw Error(fmt::format("dataset '{}': sample {} has label {} outside 0..{}", data_.name,
                                    sample, label, classes - 1));
        slot.labels[row] = label;
        augment_sample(first + row, data_.image(sample), slot.images.data() + row * image_bytes);
    }
    // A partial batch keeps the graph's batch size; the padding rows repeat the last sample.
    for (std::int64_t row = count; row < rows_; ++row) {
        slot.labels[row] = slot.labels[count - 1];
        std::memcpy(slot.images.data() + row * image_bytes, slot.images.data() + (count - 1) * image_bytes,
                    image_bytes * sizeof(float));
    }
    slot.count = count;
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
