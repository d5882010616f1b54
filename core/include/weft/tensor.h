// Tensors as the graph and the kernels see them: a description (dtype, shape, layout) and a
// view (description + pointer). Only f32 is computed today; the enum leaves room for more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

enum class DType : std::uint8_t { f32, f16, bf16, i32, i64, u8 };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
std::optional<DType> parse_dtype(std::string_view name);

// How the elements of a logical shape are laid out in memory. Every graph value is row_major
// (NCHW for images) and every kernel receives row_major tensors; a kernel that computes in
// another layout reorders internally. A pass that kept another layout between operators would
// add it here and say so on the value (a plugin ABI change).
enum class Layout : std::uint8_t { row_major };

using Shape = std::vector<std::int64_t>;

// Product of the extents; throws weft::Error on a negative extent or on overflow, so a
// hostile graph file cannot make us allocate a wrapped-around size.
std::int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);

struct TensorDesc {
    DType dtype = DType::f32;
    Shape shape;
    Layout layout = Layout::row_major;

    std::int64_t numel() const { return shape_numel(shape); }
    std::size_t bytes() const;
    int rank() const { return static_cast<int>(shape.size()); }
    std::string str() const;  // e.g. "f32[64, 48, 32, 32]"
    bool operator==(const TensorDesc&) const = default;
};

// A non-owning window onto a tensor's memory (host or device, as the kernel's device says).
struct TensorView {
    void* data = nullptr;
    TensorDesc desc;

    template <class T>
    T* as() const { return static_cast<T*>(data); }
    std::int64_t numel() const { return desc.numel(); }
};

// An owning, 64-byte aligned host tensor (weights, inputs and outputs at graph boundaries).
class Tensor {
public:
    Tensor() = default;
    explicit Tensor(TensorDesc desc);  // zero-filled

    const TensorDesc& desc() const { return desc_; }
    const Shape& shape() const { return desc_.shape; }
    std::int64_t numel() const { return desc_.numel(); }
    std::size_t bytes() const { return desc_.bytes(); }
    bool empty() const { return !storage_; }

    void* data() { return storage_.get(); }
    const void* data() const { return storage_.get(); }
    template <class T>
    T* as() { return static_cast<T*>(data()); }
    template <class T>
    const T* as() const { return static_cast<const T*>(data()); }

    TensorView view() const { return TensorView{storage_.get(), desc_}; }

private:
    TensorDesc desc_;
    std::shared_ptr<std::byte[]> storage_;
};

}  // namespace weft
