// safetensors reading and writing. Every field of a file is checked before it is trusted: a
// corrupt or hostile file gives an error naming the file and the problem, never a crash.
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "finite_values.h"
#include "weft/error.h"
#include "weft/input_file.h"
#include "weft/output_file.h"
#include "weft/weights.h"

namespace weft {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;

std::string safetensors_dtype(DType d) {
    switch (d) {
        case DType::f32: return "F32";
        case DType::f16: return "F16";
        case DType::bf16: return "BF16";
        case DType::i32: return "I32";
        case DType::i64: return "I64";
        case DType::u8: return "U8";
    }
    return "?";
}

std::optional<DType> parse_safetensors_dtype(const std::string& s) {
    for (DType d : {DType::f32, DType::f16, DType::bf16, DType::i32, DType::i64, DType::u8})
        if (safetensors_dtype(d) == s) return d;
    return std::nullopt;
}

// The header and the tensors through an OutputFile: temporary beside `path`, fsync, rename, so a
// reader (or a crash, or a full disk) never sees a half-written file.
void write_file_atomically(const fs::path& path, const std::string& header, const std::vector<const Tensor*>& tensors) {
    OutputFile out(path);
    const std::uint64_t len = header.size();
    unsigned char len_le[8];
    for (int i = 0; i < 8; ++i) len_le[i] = static_cast<unsigned char>(len >> (8 * i));
    out.write(len_le, 8);
    out.write(header);
    for (const Tensor* t : tensors) out.write(t->data(), t->bytes());
    out.commit();
}

}  // namespace

void save_safetensors(const fs::path& path, const WeightMap& weights, const std::map<std::string, std::string>& metadata) {
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<const Tensor*> order;
    std::uint64_t offset = 0;
    for (const auto& [name, t] : weights) {  // std::map: sorted, deterministic files
        header[name] = {{"dtype", safetensors_dtype(t.desc().dtype)},
                        {"shape", t.shape()},
                        {"data_offsets", {offset, offset + t.bytes()}}};
        offset += t.bytes();
        order.push_back(&t);
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // the format pads the header to 8 bytes
    write_file_atomically(path, text, order);
}

WeightMap load_safetensors(const fs::path& path, std::map<std::string, std::string>* metadata) {
    const std::string where = path.string();
    std::uint64_t file_size = 0;
    const FilePtr file = open_regular_file(path, &file_size);  // a FIFO is refused, not waited on
    // Whether all `n` bytes were read: a short read is a truncated file.
    const auto read = [&](void* to, std::size_t n) { return std::fread(to, 1, n, file.get()) == n; };
    if (file_size < 8) throw Error(fmt::format("{}: not a safetensors file (too short)", where));
    unsigned char len_le[8];
    if (!read(len_le, 8)) throw Error(fmt::format("{}: not a safetensors file (too short)", where));
    std::uint64_t header_len = 0;
    for (int i = 0; i < 8; ++i) header_len |= std::uint64_t(len_le[i]) << (8 * i);
    if (header_len > kMaxHeaderBytes || header_len > file_size - 8)
        throw Error(fmt::format("{}: corrupt safetensors file: header length {} does not fit a {}-byte file", where,
                                header_len, file_size));
    std::string text(header_len, '\0');
    if (!read(text.data(), header_len)) throw Error(fmt::format("{}: truncated safetensors header", where));
    json header;
    try {
        header = json::parse(text);
    } catch (const std::exception& e) {
        throw Error(fmt::format("{}: corrupt safetensors header: {}", where, e.what()));
    }
    if (!header.is_object()) throw Error(fmt::format("{}: corrupt safetensors header: not a JSON object", where));
    const std::uint64_t data_size = file_size - 8 - header_len;
    const std::uint64_t data_start = 8 + header_len;

    WeightMap out;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            if (metadata && entry.is_object())
                for (const auto& [k, v] : entry.items())
                    if (v.is_string()) (*metadata)[k] = v.get<std::string>();
            continue;
        }
        // A named copy: clang before 16 cannot capture a structured binding in a lambda.
        const std::string& tensor = name;
        auto bad = [&](const std::string& what) {
            return Error(fmt::format("{}: tensor '{}': {}", where, tensor, what));
        };
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
            throw bad("entry needs dtype, shape and data_offsets");
        if (!entry["dtype"].is_string()) throw bad("dtype is not a string");
        auto dtype = parse_safetensors_dtype(entry["dtype"].get<std::string>());
        if (!dtype) throw bad(fmt::format("unsupported dtype {}", entry["dtype"].dump()));
        if (*dtype != DType::f32) throw bad(fmt::format("dtype {} is not supported yet (weights are f32)", entry["dtype"].dump()));
        Shape shape;
        if (!entry["shape"].is_array()) throw bad("shape is not a list");
        for (const auto& d : entry["shape"]) {
            if (!d.is_number_integer() || d.get<std::int64_t>() < 0) throw bad("shape has a non-integer or negative extent");
            shape.push_back(d.get<std::int64_t>());
        }
        const auto& offs = entry["data_offsets"];
        if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
            throw bad("data_offsets must be two non-negative integers");
        const std::uint64_t begin = offs[0].get<std::uint64_t>(), end = offs[1].get<std::uint64_t>();
        TensorDesc desc{*dtype, shape, Layout::row_major};
        std::size_t bytes = 0;
        try {
            bytes = desc.bytes();
        } catch (const Error& e) {
            throw bad(e.what());
        }
        if (begin > end || end > data_size) throw bad(fmt::format("data [{}, {}) lies outside the file's {} data bytes (truncated?)", begin, end, data_size));
        if (end - begin != bytes) throw bad(fmt::format("data holds {} bytes, shape {} needs {}", end - begin, shape_str(shape), bytes));
        Tensor t(desc);
        if (::fseeko(file.get(), static_cast<off_t>(data_start + begin), SEEK_SET) != 0 || !read(t.data(), bytes))
            throw bad("could not read its data (truncated file?)");
        // A NaN or infinite weight poisons every output downstream; better refused here, by name.
        if (auto i = detail::first_non_finite(t.as<float>(), t.numel()))
            throw bad(fmt::format("{} (weights must be finite numbers)", detail::describe_element(shape, *i, t.as<float>()[*i])));
        out.emplace(name, std::move(t));
    }
    return out;
}

}  // namespace weft
