// Device memory for the length of one test or benchmark, freed whatever happens: host tensors
// uploaded, zeroed ones, raw blocks (at least 64 bytes, so a kernel may be handed a pointer even
// when it asks for nothing), and downloads back to the host. Works on any backend's Device.
// Installed with the testing library (weft::testing).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "weft/device.h"
#include "weft/tensor.h"

namespace weft::testing {

class DeviceArena {
public:
    explicit DeviceArena(Device& device) : device_(device) {}
    ~DeviceArena() {
        for (void* p : blocks_) device_.deallocate(p);
    }
    DeviceArena(const DeviceArena&) = delete;
    DeviceArena& operator=(const DeviceArena&) = delete;

    void* allocate(std::size_t bytes) {
        blocks_.push_back(device_.allocate(std::max<std::size_t>(bytes, 64)));
        return blocks_.back();
    }
    TensorView zeros(const TensorDesc& desc) {
        void* p = allocate(desc.bytes());
        device_.fill_zero(p, desc.bytes());
        return TensorView{p, desc};
    }
    std::vector<TensorView> zeros(const std::vector<TensorDesc>& descs) {
        std::vector<TensorView> views;
        for (const TensorDesc& d : descs) views.push_back(zeros(d));
        return views;
    }
    TensorView upload(const Tensor& t) {
        void* p = allocate(t.bytes());
        device_.copy_from_host(p, t.data(), t.bytes());
        return TensorView{p, t.desc()};
    }
    // Waits for the device's queued work before it reads.
    Tensor download(const TensorView& v) {
        Tensor t(v.desc);
        device_.copy_to_host(t.data(), v.data, t.bytes());
        return t;
    }

private:
    Device& device_;
    std::vector<void*> blocks_;
};

}  // namespace weft::testing
