// Rendering through the Graphviz library (libgvc, libcgraph) in-process: no `dot` binary is
// needed at run time, only the layout and render plugins the library loads itself.
#include <memory>
#include <mutex>
#include <string>

#include <fmt/format.h>
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include "weft/error.h"
#include "weft/viz/viz.h"

namespace weft::viz {
namespace {

// Graphviz keeps global state (error handler, plugin tables): one render at a time.
std::mutex& graphviz_mutex() {
    static std::mutex m;
    return m;
}

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

}  // namespace

std::string render(const std::string& dot, Format format) {
    if (format != Format::svg && format != Format::png)
        throw Error(fmt::format("render: Graphviz renders svg or png, not {}", format_name(format)));
    std::lock_guard lock(graphviz_mutex());
    last_graphviz_error().clear();
    agseterr(AGERR);
    agseterrf(collect_error);
    std::unique_ptr<GVC_t, ContextDeleter> gvc(gvContext());
    if (!gvc) throw Error("Graphviz: could not create a context");
    std::unique_ptr<Agraph_t, GraphDeleter> g(agmemread(dot.c_str()));
    if (!g) throw Error(fmt::format("Graphviz could not read the DOT text: {}", last_graphviz_error()));
    if (format == Format::png && agget(g.get(), const_cast<char*>("dpi")) == nullptr)
        agattr(g.get(), AGRAPH, const_cast<char*>("dpi"), const_cast<char*>("96"));
    // The graph may name its engine (the channel view uses fixed positions, layout=nop2).
    const char* engine = agget(g.get(), const_cast<char*>("layout"));
    if (gvLayout(gvc.get(), g.get(), engine && *engine ? engine : "dot") != 0)
        throw Error(fmt::format("Graphviz layout failed: {}", last_graphviz_error()));
    char* data = nullptr;
    unsigned int length = 0;
    // cairo renders PNGs with anti-aliased text; svg is Graphviz's own writer.
    const int rc = gvRenderData(gvc.get(), g.get(), format == Format::png ? "png:cairo" : "svg", &data, &length);
    std::string result = data ? std::string(data, length) : std::string{};
    gvFreeRenderData(data);
    gvFreeLayout(gvc.get(), g.get());
    if (rc != 0 || result.empty())
        throw Error(fmt::format("Graphviz could not render {}: {}", format_name(format), last_graphviz_error()));
    return result;
}

}  // namespace weft::viz
