#include <sys/wait.h>

#include <cstdio>

#include "fixtures.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using namespace jb::test;

namespace {

// Two hosts' databases that overlap: B holds a copy of one of A's cells, an ok version of A's
// failed cell, and a cell of its own. Registration orders differ so ids differ between files.
struct TwoHosts {
    TempDir dir;
    std::string a_path = dir.file("a.db");
    std::string b_path = dir.file("b.db");
    HostRecord ha = make_host("alpha");
    HostRecord hb = make_host("beta");
    ModelRecord m = make_model("m-llama-7b");
    SchemeRecord f16 = make_scheme("f16");
    SchemeRecord q8 = make_scheme("q8_0");
    SchemeRecord q4 = make_scheme("q4_k_m");

    CellRecord shared = make_cell(ha, m, f16, "arc_easy", 0, 0.0);    // ok in A and B
    CellRecord flaky_a = make_cell(ha, m, q8, "arc_easy", 0, 0.0);    // failed in A, ok in B
    CellRecord only_a = make_cell(ha, m, q8, "hellaswag", 0, 0.125);  // A only
    CellRecord only_b = make_cell(hb, m, q4, "arc_easy", 0, 0.25);    // B only
    CellRecord failed_both = make_cell(hb, m, f16, "gsm8k", 0, 0.0);  // failed in B only -> added

    TwoHosts() {
        flaky_a.status = kStatusFailed;
        flaky_a.error = "out of memory";
        failed_both.status = kStatusFailed;
        failed_both.error = "timeout";
        {
            Store a = Store::open(a_path, true);
            a.upsert_host(ha);
            a.upsert_model(m);
            a.upsert_scheme(f16);
            a.upsert_scheme(q8);
            const int64_t run = a.begin_run("sweep on alpha", ha.fingerprint);
            a.finish_run(run);
            CellRecord c = shared;
            c.run_id = run;
            a.commit_cell(c, make_items(5), make_timeline(64, 1));
            a.commit_cell(flaky_a, make_items(2));
            a.commit_cell(only_a, make_items(4), make_timeline(32, 2));
        }
        {
            Store b = Store::open(b_path, true);
            b.upsert_host(hb);
            b.upsert_scheme(q4);  // other order: ids differ from A's
            b.upsert_scheme(q8);
            b.upsert_scheme(f16);
            b.upsert_model(make_model("unused-model"));
            b.upsert_model(m);
            b.upsert_host(ha);
            b.commit_cell(only_b, make_items(6), make_timeline(16, 3));
            CellRecord fixed = flaky_a;
            fixed.status = kStatusOk;
            fixed.error.clear();
            fixed.score = 0.777;
            b.commit_cell(fixed, make_items(3, 2), make_timeline(8, 4));
            CellRecord other_copy = shared;
            other_copy.score = 0.111;  // B's copy differs: the destination's row must win
            b.commit_cell(other_copy, make_items(5, 1));
            b.commit_cell(failed_both);
        }
    }
};

std::string dump_cells(const Store & st) {
    std::string out;
    for (const CellRecord & c : st.list_cells()) {
        for (const CellField & f : cell_fields()) {
            if (std::string(f.name) == "id" || std::string(f.name) == "run_id") continue;
            out += f.name;
            out += '=';
            const FieldValue v = f.get(c);
            if (const auto * s = std::get_if<std::string>(&v)) out += *s;
            if (const auto * i = std::get_if<int64_t>(&v)) out += std::to_string(*i);
            if (const auto * d = std::get_if<double>(&v)) out += fmt::format("{}", *d);
            out += ';';
        }
        out += fmt::format("items={};", st.cell_items(c.id).size());
        out += '\n';
    }
    return out;
}

}  // namespace

TEST(StoreMerge, overlapping_databases_merge_without_duplicates) {
    TwoHosts t;
    const std::string a_before = read_bytes(t.a_path);
    const std::string b_before = read_bytes(t.b_path);
    Store dst = Store::open(t.dir.file("all.db"), true);

    const MergeCounts ca = merge_into(dst, t.a_path);
    EXPECT_EQ(ca.hosts.added, 1);
    EXPECT_EQ(ca.models.added, 1);
    EXPECT_EQ(ca.schemes.added, 2);
    EXPECT_EQ(ca.runs.added, 1);
    EXPECT_EQ(ca.cells_added, 3);
    EXPECT_EQ(ca.cells_skipped, 0);
    EXPECT_EQ(ca.items_added, 5 + 2 + 4);
    EXPECT_EQ(ca.timelines_added, 2);

    const MergeCounts cb = merge_into(dst, t.b_path);
    EXPECT_EQ(cb.hosts.added, 1);    // beta
    EXPECT_EQ(cb.hosts.skipped, 1);  // alpha, by fingerprint
    EXPECT_EQ(cb.models.added, 1);   // unused-model
    EXPECT_EQ(cb.models.skipped, 1);
    EXPECT_EQ(cb.schemes.added, 1);  // q4_k_m
    EXPECT_EQ(cb.schemes.skipped, 2);
    EXPECT_EQ(cb.runs.added, 0);
    EXPECT_EQ(cb.cells_added, 2);     // only_b, failed_both
    EXPECT_EQ(cb.cells_replaced, 1);  // flaky_a: failed in dst, ok in B
    EXPECT_EQ(cb.cells_skipped, 1);   // shared
    EXPECT_EQ(cb.items_added, 6 + 3);
    EXPECT_EQ(cb.timelines_added, 2);

    EXPECT_EQ(dst.list_cells().size(), 5u);
    EXPECT_EQ(dst.list_hosts().size(), 2u);
    EXPECT_EQ(dst.list_models().size(), 2u);
    EXPECT_EQ(dst.list_schemes().size(), 3u);
    EXPECT_EQ(count_rows(dst, "items"), 5 + 4 + 6 + 3);
    EXPECT_EQ(count_rows(dst, "timelines"), 4);
    EXPECT_EQ(dst.integrity_check(), "ok");

    // the destination's copy of the shared cell won; its run was remapped by uuid
    const auto shared = dst.find_cell(t.shared.key());
    ASSERT_TRUE(shared.has_value());
    EXPECT_EQ(shared->score, t.shared.score);
    ASSERT_EQ(dst.list_runs().size(), 1u);
    EXPECT_EQ(shared->run_id, dst.list_runs()[0].id);
    EXPECT_EQ(dst.list_runs()[0].command_line, "sweep on alpha");
    // the failed cell was replaced by B's ok one, with B's items and timeline
    const auto fixed = dst.find_cell(t.flaky_a.key());
    ASSERT_TRUE(fixed.has_value());
    EXPECT_TRUE(fixed->ok());
    EXPECT_EQ(fixed->score, 0.777);
    EXPECT_EQ(dst.cell_items(fixed->id).size(), 3u);
    EXPECT_EQ(dst.cell_items(fixed->id)[0].result_json, make_items(3, 2)[0].result_json);
    ASSERT_TRUE(dst.cell_timeline(fixed->id).has_value());
    EXPECT_TRUE(*dst.cell_timeline(fixed->id) == make_timeline(8, 4));

    // ids were remapped: B's own cell resolves to the right host/model/scheme in the destination,
    // and its items and timeline follow it
    const auto ob = dst.find_cell(t.only_b.key());
    ASSERT_TRUE(ob.has_value());
    EXPECT_EQ(ob->host_name, "beta");
    EXPECT_EQ(ob->scheme_name, "q4_k_m");
    EXPECT_EQ(ob->score, t.only_b.score);
    EXPECT_EQ(dst.cell_items(ob->id).size(), 6u);
    EXPECT_TRUE(*dst.cell_timeline(ob->id) == make_timeline(16, 3));

    // the sources were only read
    EXPECT_EQ(read_bytes(t.a_path), a_before);
    EXPECT_EQ(read_bytes(t.b_path), b_before);
}

TEST(StoreMerge, merging_again_or_into_itself_changes_nothing) {
    TwoHosts t;
    Store dst = Store::open(t.dir.file("all.db"), true);
    merge_into(dst, t.a_path);
    merge_into(dst, t.b_path);
    const std::string before = dump_cells(dst);
    const int64_t items = count_rows(dst, "items");

    for (const std::string & src : {t.a_path, t.b_path, dst.path()}) {
        const MergeCounts c = merge_into(dst, src);
        EXPECT_EQ(c.cells_added, 0) << src;
        EXPECT_EQ(c.cells_replaced, 0) << src;
        EXPECT_EQ(c.hosts.added + c.models.added + c.schemes.added + c.runs.added, 0) << src;
        EXPECT_EQ(c.items_added, 0) << src;
        EXPECT_GT(c.cells_skipped, 0) << src;
    }
    EXPECT_EQ(dump_cells(dst), before);
    EXPECT_EQ(count_rows(dst, "items"), items);
    EXPECT_EQ(dst.integrity_check(), "ok");

    // merge order does not matter for the result (ok beats failed, else first wins — and the
    // only conflicting ok pair, `shared`, keeps whichever came first, so compare the rest)
    Store other = Store::open(t.dir.file("other.db"), true);
    merge_into(other, t.b_path);
    merge_into(other, t.a_path);
    EXPECT_EQ(other.list_cells().size(), dst.list_cells().size());
    EXPECT_TRUE(other.find_cell(t.flaky_a.key())->ok());
}

TEST(StoreMerge, failure_midway_leaves_destination_unchanged) {
    TwoHosts t;
    // damage one timeline blob in a copy of B (through SQLite, so the file stays a valid database)
    const std::string bad = t.dir.file("b_bad.db");
    fs::copy_file(t.b_path, bad);
    {
        sqlite3 * db = nullptr;
        ASSERT_EQ(sqlite3_open(bad.c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db,
                               "UPDATE timelines SET data = x'4A425431000000000200000000' WHERE cell_id = "
                               "(SELECT max(cell_id) FROM timelines)",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(db);
    }
    Store dst = Store::open(t.dir.file("all.db"), true);
    merge_into(dst, t.a_path);
    const std::string before = dump_cells(dst);
    try {
        merge_into(dst, bad);
        FAIL() << "expected an error";
    } catch (const Error & e) {
        EXPECT_NE(std::string(e.what()).find("b_bad.db"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("timeline"), std::string::npos) << e.what();
    }
    EXPECT_EQ(dump_cells(dst), before);
    EXPECT_EQ(dst.list_hosts().size(), 1u);  // beta's host row went with the rollback
}

TEST(StoreMerge, refuses_read_only_destination) {
    TwoHosts t;
    Store ro = Store::open_readonly(t.a_path);
    EXPECT_THROW(merge_into(ro, t.b_path), Error);
}

// The `merge` command end to end, through the built binary.
static int run_binary(const std::string & args, std::string & out, std::string & err, const TempDir & dir) {
    const std::string out_path = dir.file("stdout.txt");
    const std::string err_path = dir.file("stderr.txt");
    const std::string cmd = fmt::format("'{}' {} >'{}' 2>'{}'", JB_BINARY, args, out_path, err_path);
    const int rc = std::system(cmd.c_str());
    out = read_bytes(out_path);
    err = read_bytes(err_path);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(StoreMerge, merge_command_combines_and_prints_counts) {
    TwoHosts t;
    const std::string all = t.dir.file("all.db");
    std::string out, err;
    ASSERT_EQ(run_binary(fmt::format("merge '{}' '{}' -o '{}'", t.a_path, t.b_path, all), out, err, t.dir), 0) << err;
    EXPECT_NE(out.find("a.db: cells: 3 added, 0 replaced, 0 skipped"), std::string::npos) << out;
    EXPECT_NE(out.find("b.db: cells: 2 added, 1 replaced, 1 skipped"), std::string::npos) << out;
    EXPECT_NE(out.find("5 cells"), std::string::npos) << out;
    {
        Store st = Store::open_readonly(all);
        EXPECT_EQ(st.list_cells().size(), 5u);
    }
    // again: idempotent
    ASSERT_EQ(run_binary(fmt::format("merge '{}' '{}' -o '{}'", t.a_path, t.b_path, all), out, err, t.dir), 0) << err;
    EXPECT_NE(out.find("a.db: cells: 0 added, 0 replaced, 3 skipped"), std::string::npos) << out;
    EXPECT_NE(out.find("b.db: cells: 0 added, 0 replaced, 4 skipped"), std::string::npos) << out;
    Store st = Store::open_readonly(all);
    EXPECT_EQ(st.list_cells().size(), 5u);
}

TEST(StoreMerge, merge_command_with_bad_input_creates_no_output) {
    TwoHosts t;
    const std::string junk = t.dir.file("junk.db");
    write_bytes(junk, random_bytes(8192, 7));
    const std::string all = t.dir.file("all.db");
    std::string out, err;
    EXPECT_EQ(run_binary(fmt::format("merge '{}' '{}' -o '{}'", t.a_path, junk, all), out, err, t.dir), 1);
    EXPECT_NE(err.find(junk), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(all)) << "a refused merge must not leave a new output behind";
}
