#include "weft/npy.h"

#include <algorithm>
#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "finite_values.h"
#include "weft/checked_arithmetic.h"
#include "weft/error.h"
#include "weft/input_file.h"
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

constexpr std::uint32_t kMaxHeaderBytes = 1u << 20;

struct Header {
    const StoredType* stored;
    Shape shape;
};

// The element type and shape the header declares, after its order is found to be C order.
Header parse_header(const std::string& header, const std::string& where) {
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
    return {stored, shape};
}

}  // namespace

Tensor load_npy(const fs::path& path, std::string* stored_type, const std::function<void(const Shape&)>& check_shape) {
    const std::string where = path.string();
    std::uint64_t file_size = 0;
    const FilePtr file = open_regular_file(path, &file_size);  // a FIFO is refused, not waited on
    // Whether all `n` bytes were read: a short read is a truncated file.
    const auto read = [&](void* to, std::size_t n) { return std::fread(to, 1, n, file.get()) == n; };
    char magic[8] = {};
    if (!read(magic, 8) || std::string(magic, 6) != "\x93NUMPY")
        throw Error(fmt::format("{}: not a .npy file (bad magic)", where));
    const int major = static_cast<unsigned char>(magic[6]);
    std::uint32_t header_len = 0;
    unsigned char len_bytes[4] = {};
    const int len_size = major == 1 ? 2 : 4;
    const bool length_read = read(len_bytes, static_cast<std::size_t>(len_size));
    for (int i = 0; i < len_size; ++i) header_len |= std::uint32_t(len_bytes[i]) << (8 * i);
    const std::uint64_t data_start = 8 + len_size + std::uint64_t{header_len};
    if (!length_read || header_len > kMaxHeaderBytes || data_start > file_size)
        throw Error(fmt::format("{}: corrupt .npy header", where));
    std::string header(header_len, '\0');
    if (!read(header.data(), header_len)) throw Error(fmt::format("{}: truncated .npy header", where));

    const auto [stored, shape] = parse_header(header, where);
    // The file's data size and the caller's check both come before the allocation: what a header
    // claims costs nothing until the file and the caller agree with it.
    std::int64_t numel = 0;
    std::uint64_t needed = 0;
    try {
        numel = TensorDesc{stored->dtype, shape, Layout::row_major}.numel();
        needed = static_cast<std::uint64_t>(checked_mul(numel, static_cast<std::int64_t>(stored->bytes),
                                                        "the data size"));
    } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", where, e.what()));
    }
    if (needed != file_size - data_start)
        throw Error(fmt::format("{}: shape {} needs {} bytes of data, the file holds {} (truncated or corrupt)", where,
                                shape_str(shape), needed, file_size - data_start));
    if (check_shape) check_shape(shape);
    Tensor t(TensorDesc{stored->dtype, shape, Layout::row_major});
    bool complete = true;
    if (stored->bytes == dtype_size(stored->dtype)) {
        complete = read(t.data(), static_cast<std::size_t>(needed));
    } else {  // float64: narrowed element by element, the file read in pieces
        std::vector<double> chunk(1 << 16);
        float* out = t.as<float>();
        for (std::int64_t done = 0; done < numel && complete;) {
            const std::int64_t n = std::min<std::int64_t>(numel - done, static_cast<std::int64_t>(chunk.size()));
            complete = read(chunk.data(), static_cast<std::size_t>(n) * sizeof(double));
            for (std::int64_t i = 0; complete && i < n; ++i) out[done + i] = static_cast<float>(chunk[i]);
            done += n;
        }
    }
    if (!complete) throw Error(fmt::format("{}: truncated data: shape {} needs {} bytes", where, shape_str(shape), needed));
    // Float data must be finite (float64 beyond float32's range narrows to infinity, and is refused too).
    if (t.desc().dtype == DType::f32)
        if (auto i = detail::first_non_finite(t.as<float>(), t.numel()))
            throw Error(fmt::format("{}: {} (weft takes finite numbers only)", where,
                                    detail::describe_element(shape, *i, t.as<float>()[*i])));
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
