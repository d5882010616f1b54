// The viewer's stylesheet and script (assets/viewer.css, assets/viewer.js), compiled in so the
// HTML export is one self-contained file.
#pragma once

#include <string_view>

namespace weft::viz {

extern const std::string_view kViewerCss;
extern const std::string_view kViewerJs;

}  // namespace weft::viz
