// The report as a browser sees it: headless Chromium parses the file (no network: every
// background service is off) and its DOM holds the charts; a screenshot renders. Skipped when no
// Chromium is installed (set JB_CHROMIUM to use another binary).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "report/report.hpp"
#include "report_fixture.hpp"

extern char ** environ;

namespace {

namespace fs = std::filesystem;

std::string find_chromium() {
    if (const char * env = std::getenv("JB_CHROMIUM"); env && *env) return access(env, X_OK) == 0 ? env : "";
    for (const char * p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
                           "/usr/bin/google-chrome-stable"}) {
        if (access(p, X_OK) == 0) return p;
    }
    return "";
}

std::string slurp(const fs::path & p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class Chromium : public ::testing::Test {
protected:
    void SetUp() override {
        chromium_ = find_chromium();
        if (chromium_.empty()) GTEST_SKIP() << "no Chromium (/usr/bin/chromium; or set JB_CHROMIUM): browser test skipped";
        std::string templ = (fs::temp_directory_path() / "jb_report_chromium_XXXXXX").string();
        ASSERT_NE(mkdtemp(templ.data()), nullptr);
        dir_ = templ;
        html_path_ = dir_ / "report.html";
        html_ = jb::report::render_html(jb_test::make_report_input());
        std::ofstream(html_path_, std::ios::binary) << html_;
    }
    void TearDown() override {
        if (!dir_.empty()) {
            std::error_code ec;
            fs::remove_all(dir_, ec);
        }
    }

    // Runs Chromium headless with `extra` flags on the report; stdout into a file. Chromium forks
    // helpers, so it runs in its own process group, which a timeout kills as a whole.
    int run(const std::vector<std::string> & extra, std::string & out, int timeout_s = 90) {
        std::vector<std::string> args = {chromium_,
                                         "--headless",
                                         "--no-sandbox",
                                         "--disable-gpu",
                                         "--disable-quic",
                                         "--no-first-run",
                                         "--disable-background-networking",
                                         "--disable-component-update",
                                         "--disable-sync",
                                         "--disable-extensions",
                                         "--hide-scrollbars",
                                         "--user-data-dir=" + (dir_ / "profile").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back("file://" + html_path_.string());
        std::vector<char *> argv;
        for (auto & a : args) argv.push_back(a.data());
        argv.push_back(nullptr);

        const std::string out_path = (dir_ / "stdout").string();
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attr, 0);
        pid_t pid = -1;
        const int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (rc != 0) return -1;

        int status = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
        for (;;) {
            const pid_t done = waitpid(pid, &status, WNOHANG);
            if (done == pid) break;
            if (std::chrono::steady_clock::now() > deadline) {
                kill(-pid, SIGKILL);
                waitpid(pid, &status, 0);
                out = slurp(out_path);
                return 124;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        out = slurp(out_path);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    static size_t count(const std::string & s, const std::string & needle) {
        size_t n = 0;
        for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
        return n;
    }

    std::string chromium_;
    fs::path dir_;
    fs::path html_path_;
    std::string html_;
};

TEST_F(Chromium, rendered_dom_holds_the_charts) {
    std::string dom;
    ASSERT_EQ(run({"--dump-dom"}, dom), 0) << dom;
    ASSERT_NE(dom.find("<body"), std::string::npos) << dom.substr(0, 2000);
    // Every chart the file holds is in the parsed DOM, as SVG with its parts.
    EXPECT_EQ(count(dom, "<svg"), count(html_, "<svg "));
    for (const char * id : {"chart-pareto-0", "chart-eor-0", "chart-tweor-0", "chart-power", "chart-jtok-prefill-0",
                            "chart-jtok-decode-0", "table-summary", "table-decision", "table-hosts"}) {
        EXPECT_NE(dom.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
    }
    EXPECT_GE(count(dom, "class=\"band\""), 5u);
    EXPECT_GE(count(dom, "scheme-point on-frontier"), 3u);
    EXPECT_NE(dom.find("class=\"banner severe\""), std::string::npos);
    // The parser kept the escaped names as text (no stray elements from them).
    EXPECT_EQ(dom.find("<model>"), std::string::npos);
    EXPECT_NE(dom.find("tiny &amp; \"real\" &lt;model&gt;.gguf"), std::string::npos);
}

TEST_F(Chromium, screenshot_renders_the_page) {
    const fs::path png = dir_ / "report.png";
    std::string out;
    ASSERT_EQ(run({"--screenshot=" + png.string(), "--window-size=1400,2400"}, out), 0) << out;
    const std::string bytes = slurp(png);
    ASSERT_GE(bytes.size(), 24u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    auto be32 = [&](size_t at) {
        return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
               (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
    };
    EXPECT_EQ(be32(16), 1400u);  // IHDR width
    EXPECT_EQ(be32(20), 2400u);  // IHDR height
    // A blank page compresses to a few kilobytes; charts, text and tables do not.
    EXPECT_GT(bytes.size(), 60000u);
}

}  // namespace

namespace {

// The page's width as the browser laid it out at one window width: a script added to a copy of the
// report (the report itself has none) writes document scrollWidth / window width into the DOM.
class ChromiumWidth : public Chromium {
protected:
    std::string width_at(int window_w) {
        std::string probe = html_;
        probe.replace(probe.rfind("</body>"), 7,
                      "<script>document.body.setAttribute('data-width', document.documentElement.scrollWidth + '/' + "
                      "window.innerWidth);</script></body>");
        std::ofstream(html_path_, std::ios::binary | std::ios::trunc) << probe;
        std::string dom;
        if (run({"--dump-dom", "--window-size=" + std::to_string(window_w) + ",1600"}, dom) != 0) return "run failed";
        const size_t at = dom.find("data-width=\"");
        if (at == std::string::npos) return "no data-width in the DOM";
        return dom.substr(at + 12, dom.find('"', at + 12) - at - 12);
    }
};

}  // namespace

// Issue 21: at 1280 and 1400 px the navigation bar ran off the page (its links could not wrap).
TEST_F(ChromiumWidth, page_never_overflows_sideways) {
    for (int w : {1280, 1400, 1920}) {
        EXPECT_EQ(width_at(w), std::to_string(w) + "/" + std::to_string(w)) << "window " << w << " px";
    }
}
