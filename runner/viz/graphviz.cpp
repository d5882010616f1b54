// Rendering through the Graphviz library (libgvc, libcgraph): no `dot` binary is needed at run
// time, only the layout and render plugins the library loads itself. The layout runs in a forked
// child: Graphviz 2.43's dot layout can corrupt its heap on some clustered graphs (a double free
// in gvFreeLayout after "Unable to reclaim box space in spline routing"), and a crash there must
// become an error message, not take the whole program down.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

// Lays out and renders in this process. Leaves the layout allocated: the caller is a child
// process about to exit, and freeing it is where Graphviz crashes.
std::string render_here(const std::string& dot, Format format) {
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
    if (rc != 0 || result.empty())
        throw Error(fmt::format("Graphviz could not render {}: {}", format_name(format), last_graphviz_error()));
    (void)gvc.release();  // see above: no cleanup in the child
    (void)g.release();
    return result;
}

void write_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        data += w;
        n -= static_cast<std::size_t>(w);
    }
}

}  // namespace

std::string render(const std::string& dot, Format format) {
    if (format != Format::svg && format != Format::png)
        throw Error(fmt::format("render: Graphviz renders svg or png, not {}", format_name(format)));
    std::lock_guard lock(graphviz_mutex());
    int fds[2];
    if (::pipe(fds) != 0) throw Error(fmt::format("render: cannot create a pipe: {}", std::strerror(errno)));
    const pid_t child = ::fork();
    if (child < 0) throw Error(fmt::format("render: cannot fork: {}", std::strerror(errno)));
    if (child == 0) {
        ::close(fds[0]);
        // First byte: 'O' then the rendered bytes, or 'E' then an error message.
        try {
            const std::string out = render_here(dot, format);
            write_all(fds[1], "O", 1);
            write_all(fds[1], out.data(), out.size());
        } catch (const std::exception& e) {
            write_all(fds[1], "E", 1);
            write_all(fds[1], e.what(), std::strlen(e.what()));
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string reply;
    char buffer[1 << 16];
    for (;;) {
        const ssize_t r = ::read(fds[0], buffer, sizeof buffer);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        reply.append(buffer, static_cast<std::size_t>(r));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || reply.empty())
        throw Error(fmt::format("Graphviz crashed rendering {} ({}); write --format dot and lay it out with another "
                                "Graphviz version, or try --collapse stages",
                                format_name(format),
                                WIFSIGNALED(status) ? std::string("signal ") + strsignal(WTERMSIG(status)) : "no output"));
    if (reply[0] == 'E') throw Error(reply.substr(1));
    return reply.substr(1);
}

}  // namespace weft::viz
