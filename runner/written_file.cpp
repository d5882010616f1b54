#include "written_file.h"

#include <fmt/format.h>

namespace weft::runner {

std::string WrittenFile::line() const { return fmt::format("wrote {} ({}, {} bytes)", path, format, bytes); }

nlohmann::json WrittenFile::json() const { return {{"path", path}, {"format", format}, {"bytes", bytes}}; }

}  // namespace weft::runner
