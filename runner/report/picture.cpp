#include "weft/report/picture.h"

#include <cairo.h>
#include <librsvg/rsvg.h>

#include <cctype>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "weft/error.h"
#include "weft/output_file.h"
#include "weft/report/child_process.h"
#include "weft/report/files.h"

namespace weft::report {

namespace {

constexpr double kDotsPerInch = 96;

struct GObjectDeleter {
    void operator()(gpointer object) const { g_object_unref(object); }
};
struct SurfaceDeleter {
    void operator()(cairo_surface_t* surface) const { cairo_surface_destroy(surface); }
};
struct CairoDeleter {
    void operator()(cairo_t* cr) const { cairo_destroy(cr); }
};

std::string take_message(GError* error) {
    std::string message = error ? error->message : "unknown reason";
    if (error) g_error_free(error);
    return message;
}

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

// librsvg and cairo in this process: only ever called in a child (svg_to_png).
std::string rasterise_here(std::string_view svg) {
    GError* error = nullptr;
    std::unique_ptr<RsvgHandle, GObjectDeleter> handle(
        rsvg_handle_new_from_data(reinterpret_cast<const guint8*>(svg.data()), svg.size(), &error));
    if (!handle) throw Error(fmt::format("cannot read the SVG to rasterise it: {}", take_message(error)));
    rsvg_handle_set_dpi(handle.get(), kDotsPerInch);
    double width = 0, height = 0;
    if (!rsvg_handle_get_intrinsic_size_in_pixels(handle.get(), &width, &height) || !(width >= 1 && height >= 1))
        throw Error("cannot rasterise the SVG: it has no width and height in absolute units");
    std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface(cairo_image_surface_create(
        CAIRO_FORMAT_ARGB32, static_cast<int>(std::ceil(width)), static_cast<int>(std::ceil(height))));
    std::unique_ptr<cairo_t, CairoDeleter> cr(cairo_create(surface.get()));
    if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS)
        throw Error(fmt::format("cannot rasterise a {}×{} picture: {}", width, height,
                                cairo_status_to_string(cairo_status(cr.get()))));
    // Viewers on dark backgrounds would show a transparent PNG's black text on black.
    cairo_set_source_rgb(cr.get(), 1, 1, 1);
    cairo_paint(cr.get());
    const RsvgRectangle viewport{0, 0, width, height};
    if (!rsvg_handle_render_document(handle.get(), cr.get(), &viewport, &error))
        throw Error(fmt::format("cannot rasterise the SVG: {}", take_message(error)));
    std::string png;
    if (cairo_surface_write_to_png_stream(surface.get(), append_to_string, &png) != CAIRO_STATUS_SUCCESS)
        throw Error("cannot encode the picture as PNG");
    return png;
}

}  // namespace

PictureFormat picture_format(const std::filesystem::path& path) {
    std::string extension = path.extension().string();
    for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (extension == ".svg") return PictureFormat::svg;
    if (extension == ".png") return PictureFormat::png;
    throw Error(fmt::format("{}: pictures are written as .svg or .png; name a file with one of those extensions",
                            path.string()));
}

std::string_view picture_format_name(PictureFormat format) { return format == PictureFormat::png ? "png" : "svg"; }

std::string svg_to_png(std::string_view svg) {
    return run_in_child_process([svg] { return rasterise_here(svg); },
                                [](const std::string& how) { return fmt::format("librsvg crashed rasterising a picture ({})", how); });
}

std::size_t write_picture(const std::filesystem::path& path, const std::string& svg) {
    const std::string content = picture_format(path) == PictureFormat::png ? svg_to_png(svg) : svg;
    write_file_atomically(path, content);
    return content.size();
}

}  // namespace weft::report
