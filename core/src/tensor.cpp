#include "weft/tensor.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/error.h"

namespace weft {

std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::f32: return 4;
        case DType::f16: return 2;
        case DType::bf16: return 2;
        case DType::i32: return 4;
        case DType::i64: return 8;
        case DType::u8: return 1;
    }
    return 0;
}

std::string_view dtype_name(DType dtype) {
    switch (dtype) {
        case DType::f32: return "f32";
        case DType::f16: return "f16";
        case DType::bf16: return "bf16";
        case DType::i32: return "i32";
        case DType::i64: return "i64";
        case DType::u8: return "u8";
    }
    return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
    for (DType d : {DType::f32, DType::f16, DType::bf16, DType::i32, DType::i64, DType::u8})
        if (dtype_name(d) == name) return d;
    return std::nullopt;
}

std::int64_t shape_numel(const Shape& shape) {
    std::int64_t n = 1;
    for (std::int64_t d : shape) {
        if (d < 0) throw Error(fmt::format("shape {} has a negative extent", shape_str(shape)));
        if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d)
            throw Error(fmt::format("shape {} has more elements than can be counted", shape_str(shape)));
        n *= d;
    }
    return n;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::size_t TensorDesc::bytes() const {
    const std::int64_t n = numel();
    const auto elem = static_cast<std::int64_t>(dtype_size(dtype));
    if (n > std::numeric_limits<std::int64_t>::max() / elem)
        throw Error(fmt::format("tensor {} is too large to address", str()));
    return static_cast<std::size_t>(n * elem);
}

std::string TensorDesc::str() const { return fmt::format("{}{}", dtype_name(dtype), shape_str(shape)); }

namespace {
constexpr std::size_t kHostAlignment = 64;

std::shared_ptr<std::byte[]> allocate_host(std::size_t bytes) {
    const std::size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
    // Checked before allocating: with overcommit an impossible tensor would be "allocated" and
    // the process killed while zero-filling it.
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0 && rounded / static_cast<std::size_t>(page) > static_cast<std::size_t>(pages))
        throw Error(fmt::format("a tensor of {:.1f} GiB is more than this machine's {:.1f} GiB of memory (try a "
                                "smaller --batch)",
                                double(bytes) / (1 << 30), double(pages) * double(page) / (1 << 30)));
    void* p = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
    if (!p) throw Error(fmt::format("out of host memory allocating {} bytes", bytes));
    std::memset(p, 0, rounded == 0 ? kHostAlignment : rounded);
    return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}
}  // namespace

Tensor::Tensor(TensorDesc desc) : desc_(std::move(desc)), storage_(allocate_host(desc_.bytes())) {}

std::string SourceLocation::str() const {
    if (file.empty()) return "<unknown>";
    if (line <= 0) return file;
    if (column <= 0) return fmt::format("{}:{}", file, line);
    return fmt::format("{}:{}:{}", file, line, column);
}

}  // namespace weft
