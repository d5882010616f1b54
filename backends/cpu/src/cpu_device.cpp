#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif
#include "weft/cpu/cpu_device.h"

#include <omp.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "free_cores.h"
#include "weft/error.h"
#include "weft/plugin.h"

namespace weft::cpu {

namespace {
const std::string kBackendName = "cpu";
constexpr std::size_t kAlignment = 64;

const char* isa_name() {
    switch (dnnl::get_effective_cpu_isa()) {
        case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
        case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
        case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
        case dnnl::cpu_isa::avx512_core: return "avx512_core";
        case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
        case dnnl::cpu_isa::avx2: return "avx2";
        case dnnl::cpu_isa::avx: return "avx";
        case dnnl::cpu_isa::sse41: return "sse41";
        default: return "generic";
    }
}
}  // namespace

namespace {
void flush_denormals() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) and DAZ (bit 6)
#endif
}
}  // namespace

// Long enough for the kernel's 10 ms ticks to say how busy the cores were to a few percent, short
// enough that a training step (0.2-1 s) is sized by the load of the step before it.
constexpr std::chrono::milliseconds kFreeCoreInterval{500};

CpuDevice::CpuDevice(const DeviceOptions& options)
    : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_), threads_(options.threads) {
    // oneDNN here runs on OpenMP: one team of `threads` for every primitive, no oversubscription.
    if (threads_ > 0) omp_set_num_threads(threads_);
    threads_ = omp_get_max_threads();
    team_ = threads_;
    if (options.adapt_threads && threads_ > 1) {
        monitor_ = std::make_unique<FreeCoreMonitor>(kFreeCoreInterval);
        if (!monitor_->works()) monitor_.reset();  // no /proc/stat: a fixed team, as asked
    }
    // Flush denormals to zero on every thread that computes: gradients shrink into the subnormal
    // range late in training, where each operation costs ~100× (ReLU's backward ran 10× slower).
    // PyTorch's set_flush_denormal does the same; values that small do not move any weight.
    flush_denormals();
#pragma omp parallel num_threads(threads_)
    flush_denormals();
}

CpuDevice::~CpuDevice() = default;

const std::string& CpuDevice::backend() const { return kBackendName; }

std::string CpuDevice::description() const {
    return fmt::format("cpu ({}{} thread{}{}, oneDNN {}.{}.{}, {})", monitor_ ? "up to " : "", threads_,
                       threads_ == 1 ? "" : "s", monitor_ ? " as cores are free" : "", dnnl_version()->major,
                       dnnl_version()->minor, dnnl_version()->patch, isa_name());
}

int CpuDevice::threads_now() {
    int team = team_;
    if (team_source_) {
        team = std::clamp(team_source_(), 1, threads_);
    } else if (monitor_) {
        if (const auto measured = monitor_->team(threads_)) team = *measured;
    }
    if (team != team_) {
        team_ = team;
        ++team_changes_;
        omp_set_num_threads(team);
    }
    return team;
}

void CpuDevice::set_team_source(std::function<int()> team) { team_source_ = std::move(team); }

void* CpuDevice::allocate(std::size_t bytes) {
    const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    // Checked before allocating: Linux overcommits, so an impossible request would "succeed"
    // and the process be killed later, part-way through a run, instead of failing here.
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0 && rounded / static_cast<std::size_t>(page) > static_cast<std::size_t>(pages))
        throw Error(fmt::format("cpu: a buffer of {:.1f} GiB is more than this machine's {:.1f} GiB of memory "
                                "(try a smaller --batch)",
                                double(bytes) / (1 << 30), double(pages) * double(page) / (1 << 30)));
    void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
    if (!p) throw Error(fmt::format("cpu: out of memory allocating {} bytes", bytes));
    return p;
}

void CpuDevice::deallocate(void* ptr) noexcept { std::free(ptr); }
void CpuDevice::copy_from_host(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuDevice::copy_to_host(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuDevice::fill_zero(void* dst, std::size_t bytes) { std::memset(dst, 0, bytes); }
void CpuDevice::synchronize() { stream_.wait(); }

int set_openmp_threads(int threads) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    return before;
}

CpuDevice& cpu_device(Device& device) {
    if (auto* d = dynamic_cast<CpuDevice*>(&device)) return *d;
    throw Error(fmt::format("a cpu kernel was given a '{}' device", device.backend()));
}

dnnl::memory::dims to_dnnl_dims(const Shape& shape) { return dnnl::memory::dims(shape.begin(), shape.end()); }

dnnl::memory as_dnnl_memory(const TensorView& view, dnnl::engine& engine) {
    if (view.desc.dtype != DType::f32) throw Error(fmt::format("cpu kernels compute f32, got {}", view.desc.str()));
    const auto dims = to_dnnl_dims(view.desc.shape);
    dnnl::memory::dims strides(dims.size(), 1);  // row-major: the last dimension is contiguous
    for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
    dnnl::memory::desc md(dims, dnnl::memory::data_type::f32, strides);
    return dnnl::memory(md, engine, view.data);
}

}  // namespace weft::cpu

WEFT_PLUGIN("backend_cpu", "0.1.0") {
    registrar.add_backend(weft::BackendFactory{
        "cpu", [] { return std::string{}; },
        [](const weft::DeviceOptions& options) -> std::unique_ptr<weft::Device> {
            return std::make_unique<weft::cpu::CpuDevice>(options);
        }});
}
