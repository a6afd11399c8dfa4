// Schema 3: served load levels (serve_levels): round trip of every field, the natural key,
// resume semantics, the accounting check, migration of a schema-2 file, merging across hosts.

#include <map>

#include "fixtures.hpp"
#include "store/sql.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using namespace jb::test;

namespace {

// A level with every field set to a distinct value (salt varies them), so a round trip that
// drops or swaps a field is caught.
ServeLevelRecord make_level(const HostRecord & h, const ModelRecord & m, const SchemeRecord & s, int concurrency,
                            double salt = 0.0) {
    ServeLevelRecord r;
    r.host_fingerprint = h.fingerprint;
    r.model_hash = m.hash;
    r.scheme_canonical = s.canonical;
    r.level = fmt::format("c={}", concurrency);
    r.workload_fp = "wf-in256-out64";
    r.settings_fp = "sf-np16";
    r.mode = "closed";
    r.concurrency = concurrency;
    r.endpoint = "llama-server";
    r.status = kServeOk;
    r.sent = 64;
    r.completed = 61;
    r.failed = 2;
    r.timed_out = 1;
    r.not_sent = 3;
    r.duration_s = 12.5 + salt;
    r.prompt_tokens = 15616;
    r.cached_prompt_tokens = 17;
    r.completion_tokens = 3904;
    r.requests_per_s = 4.88;
    r.output_tokens_per_s = 312.25;
    r.input_tokens_per_s = 1249.5;
    r.ttft_p50_ms = 101.5, r.ttft_p90_ms = 180.25, r.ttft_p99_ms = 240.125;
    r.tpot_p50_ms = 20.5, r.tpot_p90_ms = 22.75, r.tpot_p99_ms = 30.0625;
    r.itl_p50_ms = 19.5, r.itl_p90_ms = 25.5, r.itl_p99_ms = 41.0;
    r.e2e_p50_ms = 1400.5, r.e2e_p99_ms = 2100.25;
    r.queue_p99_ms = 0.5;
    r.energy_j = 4000.5 + salt;
    r.energy_net_j = 3100.25;
    r.energy_estimated = true;
    r.j_per_request = 65.58;
    r.j_per_output_token = 1.0247;
    r.wh_per_1000_requests = 18.2167;
    r.steady_s = 9.75;
    r.steady_energy_j = 3300.125;
    r.steady_energy_net_j = 2600.5;
    r.steady_output_tokens = 3100.5;
    r.steady_j_per_request = 68.125;
    r.steady_j_per_output_token = 1.0644;
    r.steady_wh_per_1000_requests = 18.92;
    r.steady_note = "closed loop: every client's first token to the first client without work";
    r.j_per_input_token = kUnmeasured;
    r.avg_power_w = 320.04;
    r.idle_power_w = 75.3;
    r.tokens_match = 1;
    r.load_cpu_s = 0.0421;
    r.server_json = R"({"parallel":16,"ctx_size":"default"})";
    r.workload_json = R"({"input_len":"256","output_len":"64"})";
    r.energy_json = R"({"domains":[{"domain":"gpu:0","method":"counter","gross_j":4000.5}]})";
    r.sensors_json = R"({"sensors":[]})";
    r.result_json = R"({"label":"closed c=4","requests":[]})";
    r.started_at = "2026-06-01T12:00:00.000Z";
    r.finished_at = "2026-06-01T12:00:12.500Z";
    return r;
}

std::map<std::string, std::string> table_columns(const Store & st, const std::string & table) {
    std::map<std::string, std::string> columns;  // name -> declared type
    sqlite3_stmt * s = nullptr;
    sqlite3_prepare_v2(st.handle(), ("PRAGMA table_info(" + table + ")").c_str(), -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) {
        columns[reinterpret_cast<const char *>(sqlite3_column_text(s, 1))] =
            reinterpret_cast<const char *>(sqlite3_column_text(s, 2));
    }
    sqlite3_finalize(s);
    return columns;
}

void exec_or_fail(sqlite3 * db, const std::string & sql) {
    char * err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string msg = err ? err : "?";
        sqlite3_free(err);
        throw std::runtime_error(msg + " in: " + sql);
    }
}

}  // namespace

TEST(StoreServeLevels, field_table_matches_serve_levels_columns) {
    TempDir dir;
    Store st = Store::open(dir.file("r.db"), true);
    auto columns = table_columns(st, "serve_levels");
    ASSERT_FALSE(columns.empty());
    size_t n_stored = 0;
    for (const ServeLevelField & f : serve_level_fields()) {
        if (!f.stored) continue;
        ++n_stored;
        ASSERT_TRUE(columns.count(f.name)) << "field without a column: " << f.name;
        const std::string expect = f.type == FieldType::integer ? "INTEGER"
                                   : f.type == FieldType::real  ? "REAL"
                                                                : "TEXT";
        EXPECT_EQ(columns[f.name], expect) << f.name;
    }
    for (const auto & [name, type] : columns) {
        if (name == "id" || name == "host_id" || name == "model_id" || name == "scheme_id" || name == "run_id")
            continue;
        const ServeLevelField * f = find_serve_level_field(name);
        ASSERT_NE(f, nullptr) << "column without a field: " << name;
        EXPECT_TRUE(f->stored) << name;
    }
    EXPECT_EQ(n_stored + 5, columns.size());
}

TEST(StoreServeLevels, every_field_round_trips_and_the_key_replaces) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    const int64_t run = st.begin_run("joulebench serve ...", s.host.fingerprint);
    ServeLevelRecord a = make_level(s.host, s.model, s.fp16, 4);
    a.run_id = run;
    const int64_t id = st.commit_serve_level(a);
    EXPECT_GT(id, 0);

    const auto levels = st.list_serve_levels();
    ASSERT_EQ(levels.size(), 1u);
    const ServeLevelRecord & b = levels[0];
    EXPECT_EQ(b.id, id);
    EXPECT_EQ(b.host_name, "alpha");
    EXPECT_EQ(b.model_name, s.model.file_name);
    EXPECT_EQ(b.scheme_name, "f16");
    EXPECT_FALSE(b.committed_at.empty());
    for (const ServeLevelField & f : serve_level_fields()) {
        if (!f.stored || std::string(f.name) == "committed_at") continue;
        EXPECT_EQ(f.get(a), f.get(b)) << f.name;
    }
    EXPECT_EQ(b.run_id, run);
    EXPECT_TRUE(std::isnan(b.j_per_input_token)) << "NaN is stored as NULL and read back as NaN";

    // Same key: replaced, not added; another level: added.
    ServeLevelRecord again = make_level(s.host, s.model, s.fp16, 4, 1.0);
    st.commit_serve_level(again);
    st.commit_serve_level(make_level(s.host, s.model, s.int8, 4));
    const auto after = st.list_serve_levels();
    ASSERT_EQ(after.size(), 2u);
    const auto fp16 = st.find_serve_level(a.key());
    ASSERT_TRUE(fp16);
    EXPECT_DOUBLE_EQ(fp16->energy_j, 4001.5);
    EXPECT_GT(fp16->id, id) << "a replaced level gets a new id";

    ServeLevelFilter only_int8;
    only_int8.scheme_canonicals = {s.int8.canonical};
    ASSERT_EQ(st.list_serve_levels(only_int8).size(), 1u);
    EXPECT_EQ(st.list_serve_levels(only_int8)[0].scheme_canonical, s.int8.canonical);
}

TEST(StoreServeLevels, ok_and_partial_levels_are_done_failed_ones_are_not) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    ServeLevelRecord ok = make_level(s.host, s.model, s.fp16, 1);
    ServeLevelRecord partial = make_level(s.host, s.model, s.fp16, 4);
    partial.status = kServePartial;
    ServeLevelRecord failed = make_level(s.host, s.model, s.fp16, 16);
    failed.status = kServeFailed;
    for (const auto & r : {ok, partial, failed}) st.commit_serve_level(r);
    EXPECT_TRUE(st.has_serve_level(ok.key()));
    EXPECT_TRUE(st.has_serve_level(partial.key()));
    EXPECT_FALSE(st.has_serve_level(failed.key()));
    EXPECT_TRUE(st.has_serve_level(failed.key(), /*failed_is_done=*/true));
    ServeLevelKey other = ok.key();
    other.settings_fp = "sf-np4";  // other server settings: another level
    EXPECT_FALSE(st.has_serve_level(other));
}

TEST(StoreServeLevels, bad_records_are_refused_naming_the_field) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    ServeLevelRecord r = make_level(s.host, s.model, s.fp16, 4);
    r.sent = 65;  // 61 + 2 + 1 = 64
    try {
        st.commit_serve_level(r);
        FAIL() << "accepted sent != completed + failed + timed_out";
    } catch (const Error & e) {
        EXPECT_NE(std::string(e.what()).find("field 'sent': 65 requests sent but 61 completed + 2 failed + 1 timed out"),
                  std::string::npos)
            << e.what();
    }
    r = make_level(s.host, s.model, s.fp16, 4);
    r.status = "stopped";
    EXPECT_THROW(st.commit_serve_level(r), Error);
    r = make_level(s.host, s.model, s.fp16, 4);
    r.model_hash = "not-there";
    EXPECT_THROW(st.commit_serve_level(r), Error);
    r = make_level(s.host, s.model, s.fp16, 4);
    r.result_json = "{not json";
    EXPECT_THROW(st.commit_serve_level(r), Error);
    EXPECT_EQ(count_rows(st, "serve_levels"), 0);
}

TEST(StoreServeLevels, schema_2_file_is_migrated_keeping_its_cells) {
    TempDir dir;
    const std::string path = dir.file("v2.db");
    Seeded s;
    {
        // A schema-2 database as the previous build wrote it: migrations 1 and 2 only.
        sqlite3 * db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        exec_or_fail(db, fmt::format("PRAGMA application_id = {}", kStoreApplicationId));
        exec_or_fail(db, "BEGIN");
        exec_or_fail(db, sql::migrations()[0]);
        exec_or_fail(db, sql::migrations()[1]);
        exec_or_fail(db, "PRAGMA user_version = 2");
        exec_or_fail(db, "INSERT INTO meta (key, value) VALUES ('schema_version', '2')");
        exec_or_fail(db,
                     "INSERT INTO hosts VALUES (1, 'fp-alpha', 'alpha', 'cpu', 16, 1, '[]', '', 'de3ff81', '0.1.0',"
                     " 'os', '2026-11-25T10:00:00.000Z')");
        exec_or_fail(db, "INSERT INTO models VALUES (1, 'hash-a', '/m/a.gguf', 'a.gguf', 'qwen2', 1000, 2000, 1)");
        exec_or_fail(db, "INSERT INTO schemes VALUES (1, 'w=f16', 'fp16', 'F16', 'f16', 16.0, 1000, '{}', NULL)");
        exec_or_fail(db,
                     "INSERT INTO cells (host_id, model_id, scheme_id, task, workload_fp, repeat_idx, status, error,"
                     " n_items, primary_metric, scores_json, energy_j, energy_estimated, energy_json, prefill_tokens,"
                     " decode_tokens, peak_mem_bytes, sensors_json, started_at, finished_at, committed_at) VALUES"
                     " (1, 1, 1, 'tg256', 'wf', 0, 'ok', '', 1, '', '[]', 101.0, 0, '{}', 0, 256, 0, '{}', 't0',"
                     " 't1', 't2')");
        exec_or_fail(db, "COMMIT");
        sqlite3_close(db);
    }
    const std::string before = read_bytes(path);
    {
        Store ro = Store::open_readonly(path);  // a migrated copy in memory; the file is not written
        EXPECT_EQ(ro.schema_version(), 3);
        EXPECT_TRUE(ro.list_serve_levels().empty());
        EXPECT_EQ(ro.list_cells().size(), 1u);
    }
    EXPECT_EQ(read_bytes(path), before);
    Store st = Store::open(path);
    EXPECT_EQ(st.schema_version(), 3);
    EXPECT_EQ(st.integrity_check(), "ok");
    const auto cells = st.list_cells();
    ASSERT_EQ(cells.size(), 1u);
    EXPECT_DOUBLE_EQ(cells[0].energy_j, 101.0);
    EXPECT_FALSE(table_columns(st, "serve_levels").empty());
    // The migrated file takes levels.
    st.upsert_host(s.host);
    st.upsert_model(s.model);
    st.upsert_scheme(s.fp16);
    st.commit_serve_level(make_level(s.host, s.model, s.fp16, 8));
    EXPECT_EQ(st.list_serve_levels().size(), 1u);
}

TEST(StoreServeLevels, merge_keeps_one_level_per_key_and_the_better_status) {
    TempDir dir;
    Seeded s;
    const HostRecord beta = make_host("beta");
    const std::string a_path = dir.file("a.db"), b_path = dir.file("b.db");
    {
        Store a = Store::open(a_path, true);
        s.seed(a);
        const int64_t run = a.begin_run("serve a", s.host.fingerprint);
        ServeLevelRecord l1 = make_level(s.host, s.model, s.fp16, 1);
        l1.run_id = run;
        a.commit_serve_level(l1);
        ServeLevelRecord l4 = make_level(s.host, s.model, s.fp16, 4);
        l4.status = kServeFailed;
        l4.reason = "the server died";
        a.commit_serve_level(l4);
    }
    {
        Store b = Store::open(b_path, true);
        s.seed(b);
        b.upsert_host(beta);
        b.commit_serve_level(make_level(s.host, s.model, s.fp16, 1, 5.0));  // same key, ok in both: a's stays
        ServeLevelRecord l4 = make_level(s.host, s.model, s.fp16, 4, 7.0);   // ok here, failed in a: replaces
        b.commit_serve_level(l4);
        b.commit_serve_level(make_level(beta, s.model, s.fp16, 1));  // another host: added
    }
    Store dst = Store::open(dir.file("all.db"), true);
    const MergeCounts ca = merge_into(dst, a_path);
    EXPECT_EQ(ca.serve_levels_added, 2);
    const MergeCounts cb = merge_into(dst, b_path);
    EXPECT_EQ(cb.serve_levels_added, 1);
    EXPECT_EQ(cb.serve_levels_replaced, 1);
    EXPECT_EQ(cb.serve_levels_skipped, 1);
    const auto levels = dst.list_serve_levels();
    ASSERT_EQ(levels.size(), 3u);
    const auto c1 = dst.find_serve_level(make_level(s.host, s.model, s.fp16, 1).key());
    ASSERT_TRUE(c1);
    EXPECT_DOUBLE_EQ(c1->energy_j, 4000.5) << "a's ok level stays";
    EXPECT_NE(c1->run_id, 0) << "its run followed it";
    const auto c4 = dst.find_serve_level(make_level(s.host, s.model, s.fp16, 4).key());
    ASSERT_TRUE(c4);
    EXPECT_EQ(c4->status, kServeOk);
    EXPECT_DOUBLE_EQ(c4->energy_j, 4007.5);
    // Idempotent.
    const MergeCounts again = merge_into(dst, b_path);
    EXPECT_EQ(again.serve_levels_added + again.serve_levels_replaced, 0);
    EXPECT_EQ(again.serve_levels_skipped, 3);
    EXPECT_EQ(dst.list_serve_levels().size(), 3u);
}
