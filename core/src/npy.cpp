#include "weft/npy.h"

#include <algorithm>
#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weft/error.h"
#include "weft/output_file.h"

namespace weft {
namespace fs = std::filesystem;

namespace {

// The element types a file may hold, as .npy headers spell them (numpy writes '|u1' for uint8).
struct StoredType {
    const char* descr;
    const char* name;
    DType dtype;         // what the tensor holds
    std::size_t bytes;   // per element in the file
};
constexpr StoredType kStoredTypes[] = {{"<f4", "float32", DType::f32, 4},
                                       {"<f8", "float64", DType::f32, 8},
                                       {"|u1", "uint8", DType::u8, 1},
                                       {"<u1", "uint8", DType::u8, 1}};

const StoredType* find_stored_type(const std::string& descr) {
    for (const StoredType& t : kStoredTypes)
        if (descr == t.descr) return &t;
    return nullptr;
}

}  // namespace

Tensor load_npy(const fs::path& path, std::string* stored_type) {
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
    const StoredType* stored = find_stored_type(m[1]);
    if (!stored)
        throw Error(fmt::format("{}: dtype '{}' is not supported (expected float32 '<f4', float64 '<f8' or uint8 '|u1')",
                                where, m[1].str()));
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
    Tensor t(TensorDesc{stored->dtype, shape, Layout::row_major});
    const std::size_t file_bytes = static_cast<std::size_t>(t.numel()) * stored->bytes;
    if (stored->bytes == dtype_size(stored->dtype)) {
        in.read(static_cast<char*>(t.data()), static_cast<std::streamsize>(file_bytes));
    } else {  // float64: narrowed element by element, the file read in pieces
        std::vector<double> chunk(1 << 16);
        float* out = t.as<float>();
        for (std::int64_t done = 0; done < t.numel() && in;) {
            const std::int64_t n = std::min<std::int64_t>(t.numel() - done, static_cast<std::int64_t>(chunk.size()));
            in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(n * sizeof(double)));
            for (std::int64_t i = 0; i < n; ++i) out[done + i] = static_cast<float>(chunk[i]);
            done += n;
        }
    }
    if (!in) throw Error(fmt::format("{}: truncated data: shape {} needs {} bytes", where, shape_str(shape), file_bytes));
    if (stored_type) *stored_type = stored->name;
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
    OutputFile out(path);  // temporary, checked writes, fsync, rename: never a truncated .npy
    out.write("\x93NUMPY\x01\x00", 8);
    const auto len = static_cast<std::uint16_t>(header.size());
    const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
    out.write(len_bytes, 2);
    out.write(header);
    out.write(tensor.data(), tensor.bytes());
    out.commit();
}

}  // namespace weft
