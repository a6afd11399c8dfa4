#include <map>

#include "fixtures.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using namespace jb::test;

static std::string pragma_text(const Store & st, const char * pragma) {
    sqlite3_stmt * s = nullptr;
    sqlite3_prepare_v2(st.handle(), pragma, -1, &s, nullptr);
    std::string v;
    if (s && sqlite3_step(s) == SQLITE_ROW) v = reinterpret_cast<const char *>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
}

TEST(StoreSchema, create_sets_identity_version_and_pragmas) {
    TempDir dir;
    const std::string path = dir.file("r.db");
    Store st = Store::open(path, true);
    EXPECT_EQ(st.schema_version(), store_schema_version());
    EXPECT_EQ(pragma_text(st, "PRAGMA application_id"), std::to_string(kStoreApplicationId));
    EXPECT_EQ(pragma_text(st, "PRAGMA user_version"), std::to_string(store_schema_version()));
    EXPECT_EQ(pragma_text(st, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(pragma_text(st, "PRAGMA foreign_keys"), "1");
    EXPECT_EQ(pragma_text(st, "PRAGMA synchronous"), "2");  // FULL
    EXPECT_GE(std::stoi(pragma_text(st, "PRAGMA busy_timeout")), 1000);
    EXPECT_EQ(pragma_text(st, "SELECT value FROM meta WHERE key = 'application'"), "joulebench");
    EXPECT_EQ(pragma_text(st, "SELECT value FROM meta WHERE key = 'schema_version'"),
              std::to_string(store_schema_version()));
    EXPECT_EQ(st.integrity_check(), "ok");
    // no leftovers of the build-beside-then-link creation
    for (const auto & name : dir_listing(dir.path())) {
        EXPECT_EQ(name.find(".creating-"), std::string::npos) << name;
    }
}

TEST(StoreSchema, open_without_create_refuses_missing_file) {
    TempDir dir;
    const std::string path = dir.file("missing.db");
    try {
        Store::open(path, false);
        FAIL() << "expected an error";
    } catch (const InputError & e) {
        EXPECT_EQ(std::string(e.what()), path + ": no such file");
    }
    EXPECT_FALSE(fs::exists(path));
    EXPECT_THROW(Store::open_readonly(path), InputError);
}

TEST(StoreSchema, create_in_missing_directory_names_the_file) {
    TempDir dir;
    const std::string path = dir.file("no/such/dir/r.db");
    try {
        Store::open(path, true);
        FAIL() << "expected an error";
    } catch (const InputError & e) {
        EXPECT_EQ(std::string(e.what()).rfind(path + ": cannot create", 0), 0u) << e.what();
    }
}

TEST(StoreSchema, reopen_keeps_data_and_version) {
    TempDir dir;
    const std::string path = dir.file("r.db");
    Seeded s;
    {
        Store st = Store::open(path, true);
        s.seed(st);
        st.commit_cell(make_cell(s.host, s.model, s.fp16, "arc_easy", 0));
    }
    {
        Store st = Store::open(path, true);  // create=true on an existing joulebench file just opens it
        EXPECT_EQ(st.schema_version(), store_schema_version());
        EXPECT_EQ(st.list_cells().size(), 1u);
        EXPECT_EQ(st.list_hosts().size(), 1u);
    }
    {
        Store ro = Store::open_readonly(path);
        EXPECT_TRUE(ro.read_only());
        EXPECT_EQ(ro.list_cells().size(), 1u);
        EXPECT_THROW(ro.commit_cell(make_cell(s.host, s.model, s.int8, "arc_easy", 0)), Error);
        EXPECT_THROW(ro.upsert_host(s.host), Error);
    }
}

// The field table drives the SQL: every stored field must be a cells column of the matching type,
// and every cells column other than the internal ids must be a field. Adding a field without a
// migration (or the reverse) fails here.
TEST(StoreSchema, field_table_matches_cells_columns) {
    TempDir dir;
    Store st = Store::open(dir.file("r.db"), true);
    std::map<std::string, std::string> columns;  // name -> declared type
    sqlite3_stmt * s = nullptr;
    sqlite3_prepare_v2(st.handle(), "PRAGMA table_info(cells)", -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) {
        columns[reinterpret_cast<const char *>(sqlite3_column_text(s, 1))] =
            reinterpret_cast<const char *>(sqlite3_column_text(s, 2));
    }
    sqlite3_finalize(s);
    ASSERT_FALSE(columns.empty());

    size_t n_stored = 0;
    for (const CellField & f : cell_fields()) {
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
        const CellField * f = find_cell_field(name);
        ASSERT_NE(f, nullptr) << "column without a field: " << name;
        EXPECT_TRUE(f->stored) << name;
    }
    EXPECT_EQ(n_stored + 5, columns.size());
}

TEST(StoreSchema, field_names_are_unique_and_findable) {
    std::map<std::string, int> seen;
    for (const CellField & f : cell_fields()) {
        EXPECT_EQ(seen[f.name]++, 0) << "duplicate field " << f.name;
        EXPECT_EQ(find_cell_field(f.name), &f);
    }
    EXPECT_EQ(find_cell_field("no_such_field"), nullptr);
    // the columns reports need most are there, with units in their names
    for (const char * name : {"energy_j", "energy_net_j", "prefill_energy_j", "decode_t_s", "ttft_s", "idle_power_w",
                              "score", "scheme_bpw", "host_name"}) {
        EXPECT_NE(find_cell_field(name), nullptr) << name;
    }
}

TEST(StoreSchema, host_fingerprint_is_stable_and_ignores_driver) {
    HostRecord a = make_host("alpha");
    HostRecord b = a;
    b.driver = "560.1";
    b.os = "Ubuntu 24.04";
    b.joulebench_version = "0.2.0";
    EXPECT_EQ(host_fingerprint(a), host_fingerprint(b));
    EXPECT_EQ(host_fingerprint(a).size(), 16u);
    HostRecord c = a;
    c.gpus_json = R"([{"name":"NVIDIA H100 80GB HBM3","uuid":"GPU-other"}])";
    EXPECT_NE(host_fingerprint(a), host_fingerprint(c));
    HostRecord d = a;
    d.hostname = "beta";
    EXPECT_NE(host_fingerprint(a), host_fingerprint(d));
    // GPU order does not matter
    HostRecord e = a, f = a;
    e.gpus_json = R"([{"uuid":"GPU-1"},{"uuid":"GPU-2"}])";
    f.gpus_json = R"([{"uuid":"GPU-2"},{"uuid":"GPU-1"}])";
    EXPECT_EQ(host_fingerprint(e), host_fingerprint(f));
    HostRecord bad = a;
    bad.gpus_json = "not json";
    EXPECT_THROW(host_fingerprint(bad), Error);
}

TEST(StoreSchema, upserts_return_stable_ids_and_update_descriptions) {
    TempDir dir;
    Store st = Store::open(dir.file("r.db"), true);
    HostRecord h = make_host("alpha");
    const int64_t id1 = st.upsert_host(h);
    h.driver = "999.0";
    const int64_t id2 = st.upsert_host(h);
    EXPECT_EQ(id1, id2);
    ASSERT_EQ(st.list_hosts().size(), 1u);
    EXPECT_EQ(st.list_hosts()[0].driver, "999.0");

    HostRecord no_fp = make_host("beta");
    no_fp.fingerprint.clear();
    const int64_t id3 = st.upsert_host(no_fp);
    EXPECT_NE(id3, id1);
    EXPECT_EQ(st.list_hosts()[1].fingerprint, host_fingerprint(no_fp));

    const int64_t m1 = st.upsert_model(make_model("abc"));
    EXPECT_EQ(st.upsert_model(make_model("abc")), m1);
    EXPECT_NE(st.upsert_model(make_model("def")), m1);

    SchemeRecord dyn = make_scheme("dynamic");
    const int64_t s1 = st.upsert_scheme(dyn);
    EXPECT_EQ(st.upsert_scheme(dyn), s1);
    const auto schemes = st.list_schemes();
    ASSERT_EQ(schemes.size(), 1u);
    EXPECT_EQ(schemes[0].sensitivity_json, dyn.sensitivity_json);
    EXPECT_EQ(schemes[0].bpw, dyn.bpw);
    EXPECT_EQ(schemes[0].tensor_types_json, dyn.tensor_types_json);

    SchemeRecord bad = make_scheme("x");
    bad.tensor_types_json = "{oops";
    EXPECT_THROW(st.upsert_scheme(bad), Error);
}

TEST(StoreSchema, runs_begin_and_finish) {
    TempDir dir;
    Store st = Store::open(dir.file("r.db"), true);
    HostRecord h = make_host("alpha");
    st.upsert_host(h);
    const int64_t r1 = st.begin_run("joulebench sweep -m a.gguf", h.fingerprint);
    const int64_t r2 = st.begin_run("joulebench sweep -m b.gguf");
    st.finish_run(r1);
    const auto runs = st.list_runs();
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].id, r1);
    EXPECT_EQ(runs[0].host_fingerprint, h.fingerprint);
    EXPECT_FALSE(runs[0].finished_at.empty());
    EXPECT_EQ(runs[1].id, r2);
    EXPECT_TRUE(runs[1].finished_at.empty());  // still running (or killed)
    EXPECT_NE(runs[0].uuid, runs[1].uuid);
    EXPECT_EQ(runs[0].uuid.size(), 36u);
    EXPECT_EQ(runs[0].command_line, "joulebench sweep -m a.gguf");
    EXPECT_THROW(st.finish_run(12345), Error);
    EXPECT_THROW(st.begin_run("x", "unknown-host"), Error);
}

TEST(StoreSchema, two_connections_write_in_turn) {
    TempDir dir;
    const std::string path = dir.file("r.db");
    Seeded s;
    Store a = Store::open(path, true);
    s.seed(a);
    Store b = Store::open(path);
    for (int i = 0; i < 5; ++i) {
        a.commit_cell(make_cell(s.host, s.model, s.fp16, "t", i));
        b.commit_cell(make_cell(s.host, s.model, s.int8, "t", i));
    }
    EXPECT_EQ(a.list_cells().size(), 10u);
    EXPECT_EQ(b.list_cells().size(), 10u);
}
