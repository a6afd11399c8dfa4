// Schema 2: per-model scheme sizes (model_schemes), projected cells (origin, projection_json) and
// model relations; migration of a schema-1 file.

#include "fixtures.hpp"
#include "store/sql.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using namespace jb::test;

namespace {

void exec_or_fail(sqlite3 * db, const std::string & sql) {
    char * err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string msg = err ? err : "?";
        sqlite3_free(err);
        throw std::runtime_error(msg + " in: " + sql);
    }
}

// A schema-1 database as joulebench 0.1 wrote it: host 1, models A (id 1) and B (id 2), scheme
// f16 (id 1: bpw 16.0, 1000 bytes) used by A only, and q8 (id 2: bpw 8.5, 531 bytes) used by both.
void write_v1_file(const std::string & path) {
    sqlite3 * db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    exec_or_fail(db, fmt::format("PRAGMA application_id = {}", kStoreApplicationId));
    exec_or_fail(db, "BEGIN");
    exec_or_fail(db, sql::migrations()[0]);
    exec_or_fail(db, "PRAGMA user_version = 1");
    exec_or_fail(db, "INSERT INTO meta (key, value) VALUES ('schema_version', '1')");
    exec_or_fail(db,
                 "INSERT INTO hosts VALUES (1, 'fp-alpha', 'alpha', 'cpu', 16, 1, '[]', '', 'de3ff81', '0.1.0', 'os',"
                 " '2026-11-25T10:00:00.000Z')");
    exec_or_fail(db, "INSERT INTO models VALUES (1, 'hash-a', '/m/a.gguf', 'a.gguf', 'qwen2', 1000, 2000, 1)");
    exec_or_fail(db, "INSERT INTO models VALUES (2, 'hash-b', '/m/b.gguf', 'b.gguf', 'llama', 3000, 6000, 1)");
    exec_or_fail(db, "INSERT INTO schemes VALUES (1, 'w=f16', 'fp16', 'F16', 'f16', 16.0, 1000, '{}', NULL)");
    exec_or_fail(db, "INSERT INTO schemes VALUES (2, 'w=q8', 'int8', 'Q8_0', 'f16', 8.5, 531, '{}', NULL)");
    int cell = 0;
    for (auto [model, scheme] : {std::pair{1, 1}, std::pair{1, 2}, std::pair{2, 2}}) {
        exec_or_fail(db, fmt::format(
                             "INSERT INTO cells (host_id, model_id, scheme_id, task, workload_fp, repeat_idx, status,"
                             " error, n_items, primary_metric, scores_json, energy_j, energy_estimated, energy_json,"
                             " prefill_tokens, decode_tokens, peak_mem_bytes, sensors_json, started_at, finished_at,"
                             " committed_at) VALUES (1, {}, {}, 'tg256', 'wf', 0, 'ok', '', 1, '', '[]', {}, 0, '{{}}',"
                             " 0, 256, 0, '{{}}', 't0', 't1', 't2')",
                             model, scheme, 100.0 + ++cell));
    }
    exec_or_fail(db, "COMMIT");
    sqlite3_close(db);
}

const CellRecord & cell_of(const std::vector<CellRecord> & cells, const std::string & model,
                           const std::string & scheme) {
    for (const CellRecord & c : cells) {
        if (c.model_hash == model && c.scheme_canonical == scheme) return c;
    }
    throw std::runtime_error("no cell " + model + " " + scheme);
}

}  // namespace

TEST(StoreSchema2, v1_file_is_migrated_keeping_cells_and_backfilling_unambiguous_sizes) {
    TempDir dir;
    const std::string path = dir.file("v1.db");
    write_v1_file(path);
    {
        Store st = Store::open(path);
        EXPECT_EQ(st.schema_version(), store_schema_version());
        EXPECT_EQ(st.integrity_check(), "ok");
        const auto cells = st.list_cells();
        ASSERT_EQ(cells.size(), 3u);
        for (const CellRecord & c : cells) {
            EXPECT_EQ(c.origin, "measured");
            EXPECT_EQ(c.projection_json, "");
        }
        EXPECT_DOUBLE_EQ(cell_of(cells, "hash-a", "w=f16").energy_j, 101.0);
        EXPECT_DOUBLE_EQ(cell_of(cells, "hash-b", "w=q8").energy_j, 103.0);
        // f16 was used by model A only: the scheme row's size is A's and is backfilled
        const auto sizes = st.list_model_schemes();
        ASSERT_EQ(sizes.size(), 1u);
        EXPECT_EQ(sizes[0].model_hash, "hash-a");
        EXPECT_EQ(sizes[0].scheme_canonical, "w=f16");
        EXPECT_DOUBLE_EQ(sizes[0].bpw, 16.0);
        EXPECT_EQ(sizes[0].file_bytes, 1000);
        EXPECT_EQ(cell_of(cells, "hash-a", "w=f16").scheme_file_bytes, 1000);
        // q8 was shared by A and B: its 531 bytes are one of theirs, nobody knows whose; no row,
        // the scheme's bpw stays visible and the size is unknown (0)
        EXPECT_DOUBLE_EQ(cell_of(cells, "hash-b", "w=q8").scheme_bpw, 8.5);
        EXPECT_EQ(cell_of(cells, "hash-b", "w=q8").scheme_file_bytes, 0);
        EXPECT_EQ(cell_of(cells, "hash-a", "w=q8").scheme_file_bytes, 0);
        EXPECT_TRUE(st.model_relations().empty());
        // the migrated file takes the new columns
        st.upsert_model_scheme("hash-b", "w=q8", 8.25, 3094);
        EXPECT_EQ(cell_of(st.list_cells(), "hash-b", "w=q8").scheme_file_bytes, 3094);
    }
    Store ro = Store::open_readonly(path);  // now at this build's version
    EXPECT_EQ(ro.list_cells().size(), 3u);
}

TEST(StoreSchema2, v1_file_is_read_through_a_migrated_copy_and_left_unchanged) {
    TempDir dir;
    const std::string path = dir.file("v1.db");
    write_v1_file(path);
    const std::string before = read_bytes(path);
    {
        Store ro = Store::open_readonly(path);
        EXPECT_TRUE(ro.read_only());
        EXPECT_EQ(ro.schema_version(), store_schema_version());  // the copy in memory, migrated
        const auto cells = ro.list_cells();
        ASSERT_EQ(cells.size(), 3u);
        EXPECT_DOUBLE_EQ(cell_of(cells, "hash-a", "w=f16").energy_j, 101.0);
        EXPECT_EQ(cell_of(cells, "hash-a", "w=f16").origin, "measured");
        EXPECT_EQ(cell_of(cells, "hash-a", "w=f16").scheme_file_bytes, 1000);  // backfilled in the copy
        EXPECT_THROW(ro.upsert_model_scheme("hash-b", "w=q8", 8.25, 3094), Error);
    }
    EXPECT_EQ(read_bytes(path), before);
}

TEST(StoreSchema2, model_scheme_sizes_are_per_model_and_update) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    ModelRecord other = make_model("m-llama-1b");
    st.upsert_model(other);
    st.upsert_model_scheme(s.model.hash, s.int8.canonical, 8.5, 531000000);
    st.upsert_model_scheme(other.hash, s.int8.canonical, 8.75, 1300000000);
    st.upsert_model_scheme(other.hash, s.int8.canonical, 8.625, 1290000000);  // updated, not added
    st.commit_cell(make_cell(s.host, s.model, s.int8, "t", 0));
    st.commit_cell(make_cell(s.host, other, s.int8, "t", 0));
    st.commit_cell(make_cell(s.host, s.model, s.fp16, "t", 0));  // no size recorded for this pair
    const auto cells = st.list_cells();
    EXPECT_DOUBLE_EQ(cell_of(cells, s.model.hash, s.int8.canonical).scheme_bpw, 8.5);
    EXPECT_EQ(cell_of(cells, s.model.hash, s.int8.canonical).scheme_file_bytes, 531000000);
    EXPECT_DOUBLE_EQ(cell_of(cells, other.hash, s.int8.canonical).scheme_bpw, 8.625);
    EXPECT_EQ(cell_of(cells, other.hash, s.int8.canonical).scheme_file_bytes, 1290000000);
    EXPECT_DOUBLE_EQ(cell_of(cells, s.model.hash, s.fp16.canonical).scheme_bpw, s.fp16.bpw);  // scheme's
    EXPECT_EQ(cell_of(cells, s.model.hash, s.fp16.canonical).scheme_file_bytes, 0);
    EXPECT_EQ(st.list_model_schemes().size(), 2u);
    EXPECT_THROW(st.upsert_model_scheme("no-such-model", s.int8.canonical, 8.5, 1), Error);
    EXPECT_THROW(st.upsert_model_scheme(s.model.hash, "no-such-scheme", 8.5, 1), Error);
}

TEST(StoreSchema2, projected_cell_round_trips_and_filters_by_origin) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    st.commit_cell(make_cell(s.host, s.model, s.fp16, "t", 0));
    CellRecord p = make_cell(s.host, s.model, s.int8, "t", 0);
    p.origin = kOriginProjected;
    p.projection_json = R"({"target":"rtx-4090","decode":{"bound":"bandwidth"}})";
    st.commit_cell(p);
    const auto all = st.list_cells();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].origin, "measured");
    EXPECT_FALSE(all[0].projected());
    EXPECT_EQ(all[1].origin, "projected");
    EXPECT_TRUE(all[1].projected());
    EXPECT_EQ(all[1].projection_json, p.projection_json);
    // a measured cell's projection_json is SQL NULL, not ''
    sqlite3_stmt * q = nullptr;
    sqlite3_prepare_v2(st.handle(), "SELECT count(*) FROM cells WHERE projection_json IS NULL", -1, &q, nullptr);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(q, 0), 1);
    sqlite3_finalize(q);

    CellFilter f;
    f.origin = "projected";
    ASSERT_EQ(st.list_cells(f).size(), 1u);
    EXPECT_EQ(st.list_cells(f)[0].scheme_canonical, s.int8.canonical);
    EXPECT_EQ(find_cell_field("origin")->get(all[1]), FieldValue{std::string("projected")});
    EXPECT_EQ(find_cell_field("projection_json")->get(all[0]), FieldValue{});

    CellRecord bad = make_cell(s.host, s.model, s.int8, "u", 0);
    bad.origin = "guessed";
    try {
        st.commit_cell(bad);
        FAIL();
    } catch (const Error & e) {
        EXPECT_NE(std::string(e.what()).find("field 'origin'"), std::string::npos) << e.what();
    }
    bad.origin = kOriginProjected;
    bad.projection_json = "{not json";
    EXPECT_THROW(st.commit_cell(bad), Error);
    EXPECT_EQ(st.list_cells().size(), 2u);
}

TEST(StoreSchema2, model_relations_round_trip_one_model_per_role) {
    TempDir dir;
    Store st = Store::open(dir.file("r.db"), true);
    st.upsert_model(make_model("teacher"));
    st.upsert_model(make_model("student"));
    st.upsert_model(make_model("student-v2"));
    st.set_model_relation("llama-distill", "base", "teacher");
    st.set_model_relation("llama-distill", "distilled", "student");
    st.set_model_relation("llama-distill", "distilled", "student-v2");  // replaces
    const auto rel = st.model_relations();
    ASSERT_EQ(rel.size(), 2u);
    EXPECT_EQ(rel[0].family, "llama-distill");
    EXPECT_EQ(rel[0].role, "base");
    EXPECT_EQ(rel[0].model_hash, "teacher");
    EXPECT_EQ(rel[1].role, "distilled");
    EXPECT_EQ(rel[1].model_hash, "student-v2");
    EXPECT_THROW(st.set_model_relation("f", "base", "unknown"), Error);
    EXPECT_THROW(st.set_model_relation("", "base", "teacher"), Error);
}

TEST(StoreSchema2, merge_copies_sizes_and_relations_destination_wins) {
    TempDir dir;
    Seeded s;
    const std::string a_path = dir.file("a.db"), b_path = dir.file("b.db");
    {
        Store a = Store::open(a_path, true);
        s.seed(a);
        a.upsert_model_scheme(s.model.hash, s.int8.canonical, 8.5, 500);
        a.set_model_relation("fam", "base", s.model.hash);
    }
    ModelRecord other = make_model("m-other");
    {
        Store b = Store::open(b_path, true);
        s.seed(b);
        b.upsert_model(other);
        b.upsert_model_scheme(s.model.hash, s.int8.canonical, 9.0, 999);  // conflicts: A's stays
        b.upsert_model_scheme(other.hash, s.fp16.canonical, 16.0, 4000);
        b.set_model_relation("fam", "base", other.hash);  // conflicts: A's stays
        b.set_model_relation("fam", "distilled", other.hash);
        CellRecord p = make_cell(s.host, other, s.fp16, "t", 0);
        p.origin = kOriginProjected;
        p.projection_json = R"({"target":"h200"})";
        b.commit_cell(p);
    }
    Store a = Store::open(a_path);
    const MergeCounts n = merge_into(a, b_path);
    EXPECT_EQ(n.model_schemes.added, 1);
    EXPECT_EQ(n.model_schemes.skipped, 1);
    EXPECT_EQ(n.model_relations.added, 1);
    EXPECT_EQ(n.model_relations.skipped, 1);
    const auto sizes = a.list_model_schemes();
    ASSERT_EQ(sizes.size(), 2u);
    EXPECT_EQ(sizes[0].file_bytes, 500);
    EXPECT_EQ(sizes[1].model_hash, other.hash);
    EXPECT_EQ(sizes[1].file_bytes, 4000);
    const auto rel = a.model_relations();
    ASSERT_EQ(rel.size(), 2u);
    EXPECT_EQ(rel[0].model_hash, s.model.hash);
    EXPECT_EQ(rel[1].model_hash, other.hash);
    const auto cells = a.list_cells();
    ASSERT_EQ(cells.size(), 1u);
    EXPECT_EQ(cells[0].origin, "projected");
    EXPECT_EQ(cells[0].projection_json, R"({"target":"h200"})");
    EXPECT_EQ(cells[0].scheme_file_bytes, 4000);
    // again: nothing new
    const MergeCounts again = merge_into(a, b_path);
    EXPECT_EQ(again.model_schemes.added, 0);
    EXPECT_EQ(again.model_relations.added, 0);
}
