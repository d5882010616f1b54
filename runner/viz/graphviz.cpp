// Layout and SVG through the Graphviz library (libgvc, libcgraph): no `dot` binary is needed at run
// time, only the layout plugins the library loads itself. PNG is that SVG rasterised by
// weft_report's svg_to_png, the one PNG renderer of the runner. The layout runs in a forked child
// (report::run_in_child_process): Graphviz 2.43's dot layout can corrupt its heap on some
// clustered graphs (a double free in gvFreeLayout after "Unable to reclaim box space in spline
// routing"), and a crash there must become an error message, not take the whole program down.
#include <memory>
#include <string>

#include <fmt/format.h>
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include "weft/error.h"
#include "weft/report/child_process.h"
#include "weft/report/picture.h"
#include "weft/viz/viz.h"

namespace weft::viz {
namespace {

std::string& last_graphviz_error() {
    static std::string message;
    return message;
}

int collect_error(char* message) {
    std::string& m = last_graphviz_error();
    m += message;
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return 0;
}

struct ContextDeleter {
    void operator()(GVC_t* gvc) const { gvFreeContext(gvc); }
};
struct GraphDeleter {
    void operator()(Agraph_t* g) const { agclose(g); }
};

// Lays out and writes SVG in this process. Leaves the layout allocated: the caller is a child
// process about to exit, and freeing it is where Graphviz crashes.
std::string svg_here(const std::string& dot) {
    last_graphviz_error().clear();
    agseterr(AGERR);
    agseterrf(collect_error);
    std::unique_ptr<GVC_t, ContextDeleter> gvc(gvContext());
    if (!gvc) throw Error("Graphviz: could not create a context");
    std::unique_ptr<Agraph_t, GraphDeleter> g(agmemread(dot.c_str()));
    if (!g) throw Error(fmt::format("Graphviz could not read the DOT text: {}", last_graphviz_error()));
    // The graph may name its engine (the channel view uses fixed positions, layout=nop2).
    const char* engine = agget(g.get(), const_cast<char*>("layout"));
    if (gvLayout(gvc.get(), g.get(), engine && *engine ? engine : "dot") != 0)
        throw Error(fmt::format("Graphviz layout failed: {}", last_graphviz_error()));
    char* data = nullptr;
    unsigned int length = 0;
    const int rc = gvRenderData(gvc.get(), g.get(), "svg", &data, &length);
    std::string result = data ? std::string(data, length) : std::string{};
    gvFreeRenderData(data);
    if (rc != 0 || result.empty())
        throw Error(fmt::format("Graphviz could not render svg: {}", last_graphviz_error()));
    (void)gvc.release();  // see above: no cleanup in the child
    (void)g.release();
    return result;
}

// Graphviz places every text run of a label at its own x, computed with the run's leading spaces
// (" W" after a superscript); SVG's default whitespace handling drops those spaces, so viewers
// (and the PNG) would draw the run one space too far left.
std::string preserving_spaces(std::string svg) {
    const std::size_t tag = svg.find("<svg");
    if (tag != std::string::npos) svg.insert(tag + 4, " xml:space=\"preserve\"");
    return svg;
}

}  // namespace

std::string render(const std::string& dot, Format format) {
    if (format != Format::svg && format != Format::png)
        throw Error(fmt::format("render: Graphviz renders svg or png, not {}", format_name(format)));
    const std::string svg = preserving_spaces(report::run_in_child_process([&] { return svg_here(dot); }, [](const std::string& how) {
        return fmt::format("Graphviz crashed laying out the graph ({}); write --format dot and lay it out with another "
                           "Graphviz version, or try --collapse stages",
                           how);
    }));
    return format == Format::png ? report::svg_to_png(svg) : svg;
}

}  // namespace weft::viz
