#include "weft/npy.h"

#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/error.h"

namespace weft {
namespace fs = std::filesystem;

Tensor load_npy(const fs::path& path) {
    const std::string where = path.string();
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("{}: cannot open", where));
    char magic[8] = {};
    in.read(magic, 8);
    if (!in || std::string(magic, 6) != "\x93NUMPY")
        throw Error(fmt::format("{}: not a .npy file (bad magic)", where));
    const int major = static_cast<unsigned char>(magic[6]);
    std::uint32_t header_len = 0;
    unsigned char len_bytes[4] = {};
    const int len_size = major == 1 ? 2 : 4;
    in.read(reinterpret_cast<char*>(len_bytes), len_size);
    for (int i = 0; i < len_size; ++i) header_len |= std::uint32_t(len_bytes[i]) << (8 * i);
    if (!in || header_len > (1u << 20)) throw Error(fmt::format("{}: corrupt .npy header", where));
    std::string header(header_len, '\0');
    in.read(header.data(), header_len);
    if (!in) throw Error(fmt::format("{}: truncated .npy header", where));

    std::smatch m;
    if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')")))
        throw Error(fmt::format("{}: .npy header has no dtype", where));
    if (m[1] != "<f4") throw Error(fmt::format("{}: dtype '{}' is not supported (expected float32 '<f4')", where, m[1].str()));
    if (std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*True)")))
        throw Error(fmt::format("{}: Fortran-ordered arrays are not supported", where));
    if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))")))
        throw Error(fmt::format("{}: .npy header has no shape", where));
    Shape shape;
    const std::string dims = m[1];
    const std::regex number(R"(\d+)");
    for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
        if (it->str().size() > 15) throw Error(fmt::format("{}: shape extent too large", where));
        shape.push_back(std::stoll(it->str()));
    }
    Tensor t(TensorDesc{DType::f32, shape, Layout::row_major});
    in.read(static_cast<char*>(t.data()), static_cast<std::streamsize>(t.bytes()));
    if (!in) throw Error(fmt::format("{}: truncated data: shape {} needs {} bytes", where, shape_str(shape), t.bytes()));
    return t;
}

void save_npy(const fs::path& path, const Tensor& tensor) {
    std::string shape = fmt::format("{}", fmt::join(tensor.shape(), ", "));
    if (tensor.shape().size() == 1) shape += ",";
    std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", shape);
    // Pad so that the data starts on a 64-byte boundary, ending the header with a newline.
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Error(fmt::format("{}: cannot write", path.string()));
    out.write("\x93NUMPY\x01\x00", 8);
    const auto len = static_cast<std::uint16_t>(header.size());
    const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
    out.write(len_bytes, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(tensor.data()), static_cast<std::streamsize>(tensor.bytes()));
    if (!out) throw Error(fmt::format("{}: write failed", path.string()));
}

}  // namespace weft
