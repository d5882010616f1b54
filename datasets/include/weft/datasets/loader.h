// Batches for training and evaluation: shuffling, the paper's augmentation (zero-pad 4, random
// 32x32 crop, horizontal flip) and per-channel normalisation, prepared on a background thread.
#pragma once

#include <weft/datasets/dataset.h>
#include <weft/tensor.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace weft::datasets {

// Per channel, in pixel units scaled to [0, 1]. Empty vectors mean mean 0, std 1.
struct Normalization {
    std::vector<float> mean, std;
};

// Mean and (population) standard deviation of each channel over the whole set; a constant
// channel gets std 1 so that normalising never divides by zero.
Normalization channel_statistics(const Dataset& data);

struct Augmentation {
    int pad = 0;                   // zero pixels added on every side before cropping
    bool random_crop = false;      // crop H x W at a random offset in the padded image (else centred)
    bool horizontal_flip = false;  // mirror with probability 1/2
};

struct LoaderOptions {
    std::int64_t batch = 64;
    bool shuffle = false;
    bool drop_last = false;
    Augmentation augment;
    Normalization normalization;
    std::uint64_t seed = 0;
    int prefetch = 3;               // batches prepared ahead of next()
    std::int64_t first_batch = 0;   // resume an epoch part-way: batches before it are skipped
    // Data-parallel training: each batch of `batch` positions is cut into `shard_count` equal
    // parts and this loader hands out part `shard_index` only (batch / shard_count rows, with
    // drop_last). Order and augmentation stay those of the positions, so the shards of all ranks
    // together are exactly the batches one loader would give.
    std::int64_t shard_index = 0, shard_count = 1;
};

// One epoch of batches. Order and augmentation depend only on (seed, epoch, position in the
// epoch), with a platform-independent generator, so a run can be reproduced and resumed. The
// dataset must outlive the loader.
class BatchLoader {
public:
    BatchLoader(const Dataset& data, LoaderOptions options, std::uint64_t epoch);
    ~BatchLoader();  // stops and joins the thread promptly, even mid-epoch
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    std::int64_t batches() const { return batches_; }
    std::int64_t rows() const { return rows_; }  // per batch handed out: batch / shard_count

    // Fills `images` (f32 [batch, C, H, W], normalised) and `labels` (i32 [batch]), allocating
    // them only when empty or of another shape; returns false after the last batch. A final
    // partial batch repeats its last sample and `count` says how many rows are real. An
    // exception on the loader thread is rethrown here.
    bool next(weft::Tensor& images, weft::Tensor& labels, std::int64_t& count);

    // The dataset index at each position of this epoch (the shuffled order).
    const std::vector<std::int64_t>& order() const { return order_; }

private:
    struct Slot {
        std::vector<float> images;
        std::vector<std::int32_t> labels;
        std::int64_t count = 0;
        bool ready = false;
    };

    void produce();
    void fill(std::int64_t batch, Slot& slot) const;
    void augment_sample(std::int64_t position, const std::uint8_t* source, float* out) const;

    const Dataset& data_;
    LoaderOptions options_;
    std::uint64_t epoch_;
    std::int64_t batches_ = 0;
    std::int64_t rows_ = 0;
    std::vector<std::int64_t> order_;
    std::vector<float> lut_;  // per channel, the normalised value of each byte

    std::vector<Slot> slots_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::int64_t next_batch_ = 0;  // the batch next() hands out
    bool stop_ = false;
    std::exception_ptr error_;
    std::thread thread_;
};

}  // namespace weft::datasets
