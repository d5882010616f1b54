#include "weft/cuda/cuda_check.h"

#include <fmt/format.h>

namespace weft::cuda {

void throw_cuda_error(const char* what, const char* file, int line, const std::string& why) {
    // The file's own name is enough to find the call; a build path says nothing to a user.
    std::string_view name(file);
    if (const auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
    throw Error(fmt::format("{} failed ({}:{}): {}", what, name, line, why));
}

void check(cublasStatus_t status, const char* what, const char* file, int line) {
    if (status != CUBLAS_STATUS_SUCCESS) throw_cuda_error(what, file, line, cublasGetStatusString(status));
}

}  // namespace weft::cuda
