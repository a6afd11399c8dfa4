// `joulebench report` as a user runs it: a database built in code (hosts, models, schemes, cells
// with timelines) becomes an HTML page or Markdown/CSV/JSON tables; bad or empty databases give
// one clear line and a non-zero exit, and the database is never written.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "run_joulebench.hpp"
#include "joulebench/store.hpp"
#include "support/store_builder.hpp"

namespace fs = std::filesystem;

namespace {

class ReportCli : public ::testing::Test {
protected:
    std::string file(const std::string & name) const { return dir_.file(name); }

    static std::string read(const std::string & path) {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    // fp16, int8 and q4_k_m on one CPU host (estimated energy), two tasks, one failed cell.
    std::string make_db(const std::string & name = "results.db") const {
        const std::string path = file(name);
        jb::Store st = jb::Store::open(path, true);
        jb::HostRecord h;
        h.hostname = "box";
        h.cpu_model = "AMD EPYC 9654";
        h.cpu_cores = 8;
        h.llama_commit = "de3ff81";
        h.joulebench_version = "0.1.0";
        h.fingerprint = jb::host_fingerprint(h);
        st.upsert_host(h);
        jb::ModelRecord m;
        m.hash = "model-hash";
        m.file_name = "stories260K.gguf";
        m.arch = "llama";
        m.n_params = 292800;
        m.file_bytes = 1185376;
        st.upsert_model(m);
        const char * names[] = {"fp16", "int8", "q4_k_m"};
        const double bpw[] = {16.0, 8.5, 4.85};
        for (int s = 0; s < 3; ++s) {
            jb::SchemeRecord r;
            r.canonical = fmt::format("ftype={};kv=f16/f16", names[s]);
            r.name = names[s];
            r.default_type = names[s];
            r.kv_type = "f16/f16";
            r.bpw = bpw[s];
            r.file_bytes = 300000 + 100000 * (2 - s);
            st.upsert_scheme(r);
            for (int t = 0; t < 2; ++t) {
                const std::string task = t == 0 ? "arc_easy" : "gsm8k";
                jb::CellRecord c = jb::test::minimal_cell(h, m, r, task, task + "-wl");
                c.n_items = 20;
                c.primary_metric = "acc_norm";
                c.score = (t == 0 ? 0.5 : 0.2) - 0.02 * s;
                c.score_stderr = 0.05;
                c.energy_j = (t == 0 ? 10.0 : 100.0) * (1 - 0.25 * s);
                c.energy_net_j = NAN;
                c.energy_estimated = true;
                c.prefill_energy_j = c.energy_j * (t == 0 ? 1.0 : 0.4);
                c.prefill_t_s = (t == 0 ? 1.0 : 4.0) * (1 - 0.2 * s);
                c.prefill_tokens = 5000;
                c.decode_energy_j = t == 0 ? NAN : c.energy_j * 0.6;
                c.decode_t_s = t == 0 ? NAN : 6.0 * (1 - 0.2 * s);
                c.decode_tokens = t == 0 ? 0 : 960;
                c.wall_t_s = (t == 0 ? 1.0 : 10.0) * (1 - 0.2 * s);
                c.energy_json = R"({"domains":[{"domain":"cpu-package:0","method":"estimate","gross_j":10}],"method":"estimate"})";
                c.sensors_json =
                    R"J({"sensors":[{"domain":"cpu-package:0","kind":"counter","method":"estimate","name":"TDP x CPU utilisation","driver":"/proc/stat","update_hz":100}],"unavailable":[{"what":"gpu (NVML)","reason":"no driver"}]})J";
                jb::PowerTimeline tl;
                tl.domains = {"cpu-package:0"};
                tl.power_w.resize(1);
                const int n = int(c.wall_t_s * 100);
                for (int i = 0; i <= n; ++i) {
                    tl.t_s.push_back(i * 0.01);
                    tl.power_w[0].push_back(8.0 - (i % 17 == 0 ? 1.0 : 0.0));
                }
                tl.phases = {{c.task + "/prefill", 0.0, c.prefill_t_s}};
                if (t == 1) tl.phases.push_back({c.task + "/decode", c.prefill_t_s, c.wall_t_s});
                st.commit_cell(c, {}, tl);
            }
        }
        jb::CellRecord failed;
        failed.host_fingerprint = h.fingerprint;
        failed.model_hash = m.hash;
        failed.scheme_canonical = "ftype=q4_k_m;kv=f16/f16";
        failed.task = "arc_easy";
        failed.workload_fp = "arc_easy-wl";
        failed.repeat_idx = 1;
        failed.status = jb::kStatusFailed;
        failed.error = "engine: out of memory";
        st.commit_cell(failed);
        return path;
    }

    jb::test::TempDir dir_;  // removed after the test
};

TEST_F(ReportCli, writes_a_self_contained_html_file) {
    const std::string db = make_db();
    const std::string before = read(db);
    const std::string out = file("out/report.html");
    const auto r = jb_test::joulebench({"report", db, "-o", out});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("report: wrote " + out), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    const std::string html = read(out);
    for (const char * id : {"chart-pareto-0", "chart-eor-0", "chart-power", "chart-jtok-prefill-0",
                            "chart-jtok-decode-0", "table-decision", "table-summary", "warning-estimated",
                            "warning-failed"}) {
        EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
    }
    // The longest fp16 cell (gsm8k, 10 s) is the one plotted.
    EXPECT_NE(html.find("Power over time: fp16 gsm8k"), std::string::npos);
    EXPECT_EQ(html.find("https://"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(read(db), before) << "report must never write the database";
    EXPECT_FALSE(fs::exists(out + ".tmp-" + std::to_string(getpid())));
}

TEST_F(ReportCli, timeline_cell_chooses_the_plotted_run) {
    const std::string db = make_db();
    const auto r = jb_test::joulebench({"report", db, "-o", file("r.html"), "--timeline-cell", "3"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(read(file("r.html")).find("Power over time: int8 arc_easy"), std::string::npos);

    const auto missing = jb_test::joulebench({"report", db, "-o", file("r.html"), "--timeline-cell", "999"});
    EXPECT_EQ(missing.status, 2);
    EXPECT_NE(jb_test::error_line(missing.err).find("--timeline-cell 999"), std::string::npos) << missing.err;
    const auto no_timeline = jb_test::joulebench({"report", db, "-o", file("r.html"), "--timeline-cell", "7"});
    EXPECT_EQ(no_timeline.status, 1);
    EXPECT_NE(jb_test::error_line(no_timeline.err).find("has no stored power timeline"), std::string::npos)
        << no_timeline.err;
}

TEST_F(ReportCli, text_formats_print_the_same_tables) {
    const std::string db = make_db();
    const auto md = jb_test::joulebench({"report", db, "-o", "md"});
    ASSERT_EQ(md.status, 0) << md.err;
    EXPECT_EQ(md.out.rfind("# joulebench report\n", 0), 0u);
    EXPECT_NE(md.out.find("## Results by scheme and task"), std::string::npos);
    EXPECT_NE(md.out.find("## Decision matrix"), std::string::npos);
    EXPECT_NE(md.out.find("| datacenter"), std::string::npos);
    EXPECT_NE(md.out.find("> **Warning:** Energies are ESTIMATED"), std::string::npos);

    const auto csv = jb_test::joulebench({"report", db, "--format", "csv"});
    ASSERT_EQ(csv.status, 0) << csv.err;
    EXPECT_EQ(csv.out.rfind("host_name,model_name,task,scheme,repeats,score_pct,", 0), 0u) << csv.out;
    EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 7);  // header + 3 schemes x 2 tasks

    const auto json = jb_test::joulebench({"report", db, "-o", "json", "--table", "summary,decision"});
    ASSERT_EQ(json.status, 0) << json.err;
    const auto doc = nlohmann::json::parse(json.out);
    ASSERT_EQ(doc["tables"].size(), 2u);
    EXPECT_EQ(doc["tables"][0]["rows"].size(), 6u);
    EXPECT_EQ(doc["tables"][1]["rows"].size(), 5u);
    EXPECT_EQ(doc["warnings"][0]["kind"], "estimated");

    // A file's extension gives its format.
    const auto to_file = jb_test::joulebench({"report", db, "-o", file("t.md")});
    ASSERT_EQ(to_file.status, 0) << to_file.err;
    EXPECT_EQ(read(file("t.md")).substr(0, 40), md.out.substr(0, 40));
    EXPECT_EQ(to_file.out, "");
}

TEST_F(ReportCli, default_html_goes_to_joulebench_results) {
    const std::string db = make_db();
    const fs::path old = fs::current_path();
    fs::current_path(dir_.path());
    const auto r = jb_test::joulebench({"report", db});
    fs::current_path(old);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(fs::exists(dir_.path() / "joulebench-results" / "report.html"));
}

TEST_F(ReportCli, usage_errors_exit_2) {
    const std::string db = make_db();
    for (const auto & args : std::vector<std::vector<std::string>>{
             {"report", db, "-o", file("x.weird")},
             {"report", db, "-o", "md", "--format", "csv"},
             {"report", db, "--format", "pdf"},
             {"report", db, "-o", "csv", "--table", "all"},
             {"report", db, "-o", "md", "--table", "nonsense"}}) {
        const auto r = jb_test::joulebench(args);
        EXPECT_EQ(r.status, 2) << args[2] << " " << r.err;
        EXPECT_NE(jb_test::error_line(r.err), "") << r.err;
    }
}

TEST_F(ReportCli, bad_databases_give_the_stores_one_line_error) {
    const std::string missing = file("missing.db");
    auto r = jb_test::joulebench({"report", missing, "-o", "md"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(jb_test::error_line(r.err), "joulebench: error: " + missing + ": no such file") << r.err;
    EXPECT_FALSE(fs::exists(missing));

    const std::string text = file("notes.txt");
    std::ofstream(text) << "not a database\n";
    r = jb_test::joulebench({"report", text, "-o", "md"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(jb_test::error_line(r.err).find("not an SQLite database"), std::string::npos) << r.err;
    EXPECT_EQ(read(text), "not a database\n");

    // An SQLite file of another application: header bytes 68..71 hold its application_id.
    std::string foreign(4096, '\0');
    foreign.replace(0, 16, std::string("SQLite format 3\0", 16));
    foreign[16] = 0x10;  // page size 4096
    foreign[17] = 0x00;
    foreign[68] = 0x12;
    foreign[69] = 0x34;
    foreign[70] = 0x56;
    foreign[71] = 0x78;
    const std::string other = file("other.db");
    std::ofstream(other, std::ios::binary) << foreign;
    r = jb_test::joulebench({"report", other, "-o", "md"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(jb_test::error_line(r.err).find(other + ": "), std::string::npos) << r.err;
    EXPECT_NE(jb_test::error_line(r.err).find("another application"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
}

TEST_F(ReportCli, a_database_of_failed_cells_still_reports_the_failures) {
    const std::string db = file("failed.db");
    {
        jb::Store st = jb::Store::open(db, true);
        const jb::HostRecord h = jb::test::add_host(st, "box");
        const jb::ModelRecord m = jb::test::add_model(st, "mh", "model.gguf");
        const jb::SchemeRecord s = jb::test::add_scheme(st, "ftype=F16", "fp16");
        jb::CellRecord c = jb::test::minimal_cell(h, m, s, "arc_easy", "wl");
        c.status = jb::kStatusFailed;
        c.error = "model file is truncated";
        st.commit_cell(c);
    }
    const auto r = jb_test::joulebench({"report", db, "-o", file("f.html")});
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string html = read(file("f.html"));
    EXPECT_NE(html.find("id=\"warning-failed\""), std::string::npos);
    EXPECT_NE(html.find("model file is truncated"), std::string::npos);
    EXPECT_NE(html.find("No power timeline"), std::string::npos);
    const auto stdout_html = jb_test::joulebench({"report", db, "--format", "html", "-o", "-"});
    ASSERT_EQ(stdout_html.status, 0) << stdout_html.err;
    EXPECT_EQ(stdout_html.out.rfind("<!DOCTYPE html>", 0), 0u);
}

TEST_F(ReportCli, empty_database_says_there_is_nothing_to_report) {
    const std::string db = file("empty.db");
    jb::Store::open(db, true);
    const auto r = jb_test::joulebench({"report", db});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(jb_test::error_line(r.err),
              fmt::format("joulebench: error: {0}: no cells: nothing to report yet (run `joulebench sweep --db {0}` "
                          "first)",
                          db))
        << r.err;
    EXPECT_FALSE(fs::exists(dir_.path() / "joulebench-results"));
}

}  // namespace
