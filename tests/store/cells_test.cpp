#include <stdexcept>

#include "fixtures.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using namespace jb::test;

// Compares every field the caller sets (all but the id, the store-set time and the joined ones).
static void expect_same_fields(const CellRecord & want, const CellRecord & got) {
    for (const CellField & f : cell_fields()) {
        if (!f.stored || std::string(f.name) == "committed_at") continue;
        EXPECT_EQ(f.get(want), f.get(got)) << "field " << f.name;
    }
    EXPECT_EQ(want.host_fingerprint, got.host_fingerprint);
    EXPECT_EQ(want.model_hash, got.model_hash);
    EXPECT_EQ(want.scheme_canonical, got.scheme_canonical);
}

TEST(StoreCells, commit_and_list_round_trip_every_field) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    const int64_t run = st.begin_run("joulebench sweep", s.host.fingerprint);

    CellRecord c = make_cell(s.host, s.model, s.int8, "hellaswag", 2);
    c.run_id = run;
    const auto items = make_items(7);
    const auto tl = make_timeline(300);
    const int64_t id = st.commit_cell(c, items, tl);
    EXPECT_GT(id, 0);

    const auto rows = st.list_cells();
    ASSERT_EQ(rows.size(), 1u);
    const CellRecord & r = rows[0];
    expect_same_fields(c, r);
    EXPECT_EQ(r.id, id);
    EXPECT_EQ(r.run_id, run);
    EXPECT_FALSE(r.committed_at.empty());
    // joined display fields
    EXPECT_EQ(r.host_name, "alpha");
    EXPECT_EQ(r.model_name, s.model.file_name);
    EXPECT_EQ(r.model_n_params, s.model.n_params);
    EXPECT_EQ(r.scheme_name, "q8_0");
    EXPECT_EQ(r.scheme_bpw, s.int8.bpw);
    EXPECT_EQ(r.key(), c.key());

    const auto got_items = st.cell_items(id);
    ASSERT_EQ(got_items.size(), items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        EXPECT_EQ(got_items[i].idx, items[i].idx);
        EXPECT_EQ(got_items[i].result_json, items[i].result_json);
    }
    const auto got_tl = st.cell_timeline(id);
    ASSERT_TRUE(got_tl.has_value());
    EXPECT_TRUE(*got_tl == tl);

    // find_cell gives the same record
    const auto found = st.find_cell(c.key());
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->id, id);
    expect_same_fields(c, *found);
}

TEST(StoreCells, unmeasured_values_round_trip_as_empty) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    CellRecord c = make_cell(s.host, s.model, s.fp16, "gsm8k", 0);
    c.ttft_s = kUnmeasured;
    c.score = kUnmeasured;
    c.energy_estimated = false;
    const int64_t id = st.commit_cell(c);
    const auto r = st.list_cells().at(0);
    EXPECT_TRUE(std::isnan(r.ttft_s));
    EXPECT_TRUE(std::isnan(r.score));
    EXPECT_FALSE(r.energy_estimated);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(find_cell_field("ttft_s")->get(r)));
    EXPECT_TRUE(st.cell_items(id).empty());
    EXPECT_FALSE(st.cell_timeline(id).has_value());
}

TEST(StoreCells, failed_cell_is_retried_by_default) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    CellRecord c = make_cell(s.host, s.model, s.fp16, "mmlu", 0);
    EXPECT_FALSE(st.has_cell(c.key()));
    c.status = kStatusFailed;
    c.error = "CUDA error: out of memory";
    st.commit_cell(c);
    EXPECT_FALSE(st.has_cell(c.key()));       // a resumed sweep redoes it
    EXPECT_TRUE(st.has_cell(c.key(), true));  // unless failures count as done
    c.status = kStatusOk;
    c.error.clear();
    st.commit_cell(c, make_items(3));
    EXPECT_TRUE(st.has_cell(c.key()));
    const auto rows = st.list_cells();
    ASSERT_EQ(rows.size(), 1u);  // replaced, not duplicated
    EXPECT_TRUE(rows[0].ok());
    EXPECT_EQ(rows[0].error, "");
}

TEST(StoreCells, recommit_replaces_without_duplicates) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    CellRecord c = make_cell(s.host, s.model, s.fp16, "arc_challenge", 0);
    const int64_t id1 = st.commit_cell(c, make_items(10), make_timeline(50));
    c.score = 0.99;
    const int64_t id2 = st.commit_cell(c, make_items(4, 1));  // no timeline this time
    EXPECT_NE(id1, id2);
    const auto rows = st.list_cells();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].score, 0.99);
    EXPECT_EQ(count_rows(st, "items"), 4);  // the old row's items went with it
    EXPECT_EQ(count_rows(st, "timelines"), 0);
    EXPECT_TRUE(st.cell_items(id1).empty());

    // other repeat index / workload / scheme are different keys
    c.repeat_idx = 1;
    st.commit_cell(c);
    c.workload_fp = "other";
    st.commit_cell(c);
    CellRecord d = make_cell(s.host, s.model, s.int8, "arc_challenge", 0);
    st.commit_cell(d);
    EXPECT_EQ(st.list_cells().size(), 4u);

    // the UNIQUE constraint itself holds, independent of commit_cell's delete-then-insert
    sqlite3_stmt * dup = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(st.handle(),
                                 "INSERT INTO cells SELECT NULL, host_id, model_id, scheme_id, task, workload_fp,"
                                 " repeat_idx, run_id, status, error, n_items, primary_metric, score, score_stderr,"
                                 " scores_json, energy_j, energy_net_j, energy_estimated, energy_json, load_energy_j,"
                                 " load_energy_net_j, load_t_s, prefill_energy_j, prefill_energy_net_j, prefill_t_s,"
                                 " prefill_tokens, decode_energy_j, decode_energy_net_j, decode_t_s, decode_tokens,"
                                 " wall_t_s, prefill_tok_s, decode_tok_s, ttft_s, idle_power_w, peak_mem_bytes,"
                                 " sensors_json, started_at, finished_at, committed_at, origin, projection_json"
                                 " FROM cells LIMIT 1",
                                 -1, &dup, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_step(dup) & 0xFF, SQLITE_CONSTRAINT);
    sqlite3_finalize(dup);
    EXPECT_EQ(st.list_cells().size(), 4u);
}

TEST(StoreCells, list_filters) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    st.commit_cell(make_cell(s.host, s.model, s.fp16, "arc_easy", 0));
    st.commit_cell(make_cell(s.host, s.model, s.int8, "arc_easy", 0));
    CellRecord f = make_cell(s.host, s.model, s.int8, "mmlu", 0);
    f.status = kStatusFailed;
    st.commit_cell(f);

    CellFilter by_scheme;
    by_scheme.scheme_canonicals = {s.int8.canonical};
    EXPECT_EQ(st.list_cells(by_scheme).size(), 2u);
    CellFilter by_task;
    by_task.tasks = {"arc_easy", "gsm8k"};
    EXPECT_EQ(st.list_cells(by_task).size(), 2u);
    CellFilter ok_only;
    ok_only.status = "ok";
    EXPECT_EQ(st.list_cells(ok_only).size(), 2u);
    CellFilter both;
    both.scheme_canonicals = {s.int8.canonical};
    both.status = "failed";
    const auto rows = st.list_cells(both);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].task, "mmlu");
    CellFilter none;
    none.host_fingerprints = {"nobody"};
    EXPECT_TRUE(st.list_cells(none).empty());
}

TEST(StoreCells, rejects_bad_records_naming_the_field) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    CellRecord c = make_cell(s.host, s.model, s.fp16, "arc_easy", 0);
    c.status = "done";
    try {
        st.commit_cell(c);
        FAIL();
    } catch (const Error & e) {
        EXPECT_NE(std::string(e.what()).find("field 'status'"), std::string::npos) << e.what();
    }
    c = make_cell(s.host, s.model, s.fp16, "arc_easy", 0);
    c.scores_json = "[1,";
    try {
        st.commit_cell(c);
        FAIL();
    } catch (const Error & e) {
        EXPECT_NE(std::string(e.what()).find("scores_json"), std::string::npos) << e.what();
    }
    c = make_cell(s.host, make_model("unregistered"), s.fp16, "arc_easy", 0);
    try {
        st.commit_cell(c);
        FAIL();
    } catch (const Error & e) {
        EXPECT_NE(std::string(e.what()).find("model is not in the store"), std::string::npos) << e.what();
    }
    EXPECT_EQ(count_rows(st, "cells"), 0);
}

// ---------------------------------------------------------------------------------------------
// One transaction: all of a cell or nothing

static void expect_nothing_of(const Store & st, const CellKey & key) {
    EXPECT_FALSE(st.has_cell(key, true));
    EXPECT_EQ(count_rows(st, "cells"), 0);
    EXPECT_EQ(count_rows(st, "items"), 0);
    EXPECT_EQ(count_rows(st, "timelines"), 0);
}

TEST(StoreCells, failure_after_cell_row_leaves_nothing) {
    for (const char * stage : {"cell", "items", "timeline"}) {
        TempDir dir;
        Seeded s;
        Store st = Store::open(dir.file("r.db"), true);
        s.seed(st);
        const CellRecord c = make_cell(s.host, s.model, s.fp16, "arc_easy", 0);
        st.set_commit_hook([&](std::string_view at) {
            if (at == stage) throw std::runtime_error("simulated crash");
        });
        EXPECT_THROW(st.commit_cell(c, make_items(20), make_timeline(100)), std::runtime_error) << stage;
        expect_nothing_of(st, c.key());
        // and the store is usable afterwards (no transaction left open)
        st.set_commit_hook(nullptr);
        st.commit_cell(c, make_items(20), make_timeline(100));
        EXPECT_EQ(count_rows(st, "items"), 20);
    }
}

TEST(StoreCells, invalid_item_rolls_back_the_whole_cell) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    const CellRecord c = make_cell(s.host, s.model, s.fp16, "arc_easy", 0);
    auto items = make_items(50);
    items[37].result_json = "{broken";
    try {
        st.commit_cell(c, items, make_timeline(10));
        FAIL();
    } catch (const Error & e) {
        EXPECT_NE(std::string(e.what()).find("item 37"), std::string::npos) << e.what();
    }
    expect_nothing_of(st, c.key());

    auto dup = make_items(5);
    dup[4].idx = 2;  // duplicate item index: PRIMARY KEY violation after 4 good items
    EXPECT_THROW(st.commit_cell(c, dup), Error);
    expect_nothing_of(st, c.key());

    PowerTimeline bad_tl = make_timeline(10);
    bad_tl.power_w[1].pop_back();  // shape mismatch: fails in the timeline stage
    EXPECT_THROW(st.commit_cell(c, make_items(5), bad_tl), Error);
    expect_nothing_of(st, c.key());
}

TEST(StoreCells, failed_replacement_keeps_the_old_row) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    CellRecord c = make_cell(s.host, s.model, s.fp16, "arc_easy", 0);
    c.status = kStatusFailed;
    c.error = "first attempt";
    const int64_t id = st.commit_cell(c, make_items(3), make_timeline(20));
    c.status = kStatusOk;
    st.set_commit_hook([](std::string_view at) {
        if (at == "items") throw std::runtime_error("killed");
    });
    EXPECT_THROW(st.commit_cell(c, make_items(9)), std::runtime_error);
    const auto rows = st.list_cells();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].id, id);
    EXPECT_EQ(rows[0].error, "first attempt");
    EXPECT_EQ(st.cell_items(id).size(), 3u);
    EXPECT_TRUE(st.cell_timeline(id).has_value());
}
