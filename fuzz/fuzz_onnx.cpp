// The ONNX loader end to end: protobuf parsing, the tensor checks (dims, external data, raw_data
// sizes), the op mapping and its patterns (Flatten before Gemm, the channel shuffle), then shape
// inference and the weight check against the real operator schemas. weft::Error is the only
// accepted failure. Seeds: fuzz/onnx_seed_graph.yaml exported by `weft export` (every mapped
// op), and networks exported by torch.onnx.export (tests/onnx_torch_models.py).
#include <string_view>

#include "fuzz_support.h"
#include "weft/error.h"
#include "weft/onnx/onnx_model.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    weft::fuzz::plugin_registry();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        weft::onnx_format::parse_onnx(std::string_view(reinterpret_cast<const char*>(data), size),
                                      "fuzzed.onnx", weft::fuzz::plugin_registry());
    } catch (const weft::Error&) {
    }
    return 0;
}
