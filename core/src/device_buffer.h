// Device memory owned for the lifetime of a compiled graph (inference or training executor).
#pragma once

#include <cstddef>
#include <utility>

#include "weft/device.h"

namespace weft::detail {

struct DeviceBuffer {
    Device* device = nullptr;
    void* ptr = nullptr;
    DeviceBuffer() = default;
    DeviceBuffer(Device& d, std::size_t bytes) : device(&d), ptr(bytes ? d.allocate(bytes) : nullptr) {}
    DeviceBuffer(DeviceBuffer&& o) noexcept : device(o.device), ptr(o.ptr) { o.ptr = nullptr; }
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        std::swap(device, o.device);
        std::swap(ptr, o.ptr);
        return *this;
    }
    ~DeviceBuffer() {
        if (ptr) device->deallocate(ptr);
    }
    std::byte* bytes() const { return static_cast<std::byte*>(ptr); }
};

}  // namespace weft::detail
