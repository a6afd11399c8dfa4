// Files that are not joulebench databases of a known version: every way of opening them gives one
// clear error naming the file, and the file's bytes (and its directory) stay exactly as they were.

#include <functional>

#include "fixtures.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using namespace jb::test;

namespace {

void sqlite_exec(const std::string & path, const std::string & sql) {
    sqlite3 * db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char * err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
}

// Tries every entry point on `path` and checks each throws an InputError naming the file and
// containing `reason`, with the file and its directory unchanged.
void expect_refused_untouched(const TempDir & dir, const std::string & path, const std::string & reason) {
    const std::string before = read_bytes(path);
    const auto listing = dir_listing(dir.path());
    const TempDir other;
    Store dst = Store::open(other.file("dst.db"), true);

    const std::vector<std::pair<const char *, std::function<void()>>> attempts = {
        {"open", [&] { Store::open(path); }},
        {"open(create)", [&] { Store::open(path, true); }},
        {"open_readonly", [&] { Store::open_readonly(path); }},
        {"merge_into", [&] { merge_into(dst, path); }},
    };
    for (const auto & [name, attempt] : attempts) {
        try {
            attempt();
            ADD_FAILURE() << name << " accepted " << path;
        } catch (const InputError & e) {
            const std::string msg = e.what();
            EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << name << ": message must start with the file: " << msg;
            EXPECT_NE(msg.find(reason), std::string::npos) << name << ": " << msg;
            EXPECT_EQ(msg.find('\n'), std::string::npos) << name << ": one line: " << msg;
        } catch (const std::exception & e) {
            ADD_FAILURE() << name << ": wrong exception type: " << e.what();
        }
        EXPECT_EQ(read_bytes(path), before) << name << " modified " << path;
        EXPECT_EQ(dir_listing(dir.path()), listing) << name << " left files beside " << path;
    }
    EXPECT_TRUE(dst.list_cells().empty());
}

std::string make_valid_db(const TempDir & dir, const std::string & name) {
    const std::string path = dir.file(name);
    Seeded s;
    Store st = Store::open(path, true);
    s.seed(st);
    st.commit_cell(make_cell(s.host, s.model, s.fp16, "arc_easy", 0), make_items(20), make_timeline(100));
    return path;
}

}  // namespace

TEST(StoreBadFiles, random_bytes) {
    TempDir dir;
    const std::string path = dir.file("random.db");
    write_bytes(path, random_bytes(10000, 42));
    expect_refused_untouched(dir, path, "not an SQLite database");
}

TEST(StoreBadFiles, text_file) {
    TempDir dir;
    const std::string path = dir.file("results.csv");
    write_bytes(path, "model,scheme,energy_j\nqwen,int8,123.4\n");
    expect_refused_untouched(dir, path, "not an SQLite database");
}

TEST(StoreBadFiles, short_file_and_empty_file) {
    TempDir dir;
    const std::string short_path = dir.file("short.db");
    write_bytes(short_path, "SQLite format 3");
    expect_refused_untouched(dir, short_path, "not an SQLite database");
    const std::string empty_path = dir.file("empty.db");
    write_bytes(empty_path, "");
    expect_refused_untouched(dir, empty_path, "empty file");
}

TEST(StoreBadFiles, directory) {
    TempDir dir;
    const std::string path = dir.file("a_dir.db");
    fs::create_directory(path);
    const TempDir other;
    EXPECT_THROW(Store::open(path, true), InputError);
    EXPECT_THROW(Store::open_readonly(path), InputError);
    EXPECT_TRUE(fs::is_directory(path));
}

TEST(StoreBadFiles, foreign_sqlite_database) {
    TempDir dir;
    const std::string path = dir.file("firefox_places.sqlite");
    sqlite_exec(path,
                "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places VALUES (1, 'x');");
    expect_refused_untouched(dir, path, "not made by joulebench");
}

TEST(StoreBadFiles, other_application_id) {
    TempDir dir;
    const std::string path = dir.file("other_app.db");
    sqlite_exec(path, "PRAGMA application_id = 1234567; CREATE TABLE cells (x);");
    expect_refused_untouched(dir, path, "another application (application_id 0x0012d687");
}

TEST(StoreBadFiles, our_application_id_but_missing_tables) {
    TempDir dir;
    const std::string path = dir.file("impostor.db");
    sqlite_exec(path,
                fmt::format("PRAGMA application_id = {}; PRAGMA user_version = 1; CREATE TABLE meta (key, value);",
                            kStoreApplicationId));
    expect_refused_untouched(dir, path, "missing table 'hosts'");
}

TEST(StoreBadFiles, our_application_id_never_initialised) {
    TempDir dir;
    const std::string path = dir.file("half.db");
    sqlite_exec(path, fmt::format("PRAGMA application_id = {}; CREATE TABLE x (y);", kStoreApplicationId));
    expect_refused_untouched(dir, path, "user_version 0");
}

TEST(StoreBadFiles, newer_schema_version) {
    TempDir dir;
    const std::string path = make_valid_db(dir, "future.db");
    sqlite_exec(path, fmt::format("PRAGMA user_version = {}", store_schema_version() + 1));
    expect_refused_untouched(dir, path,
                             fmt::format("schema version {} is newer than this joulebench build knows ({})",
                                         store_schema_version() + 1, store_schema_version()));
}

TEST(StoreBadFiles, valid_header_then_garbage) {
    TempDir dir;
    const std::string good = make_valid_db(dir, "good.db");
    std::string bytes = read_bytes(good);
    ASSERT_GT(bytes.size(), 8192u);
    fs::remove(good);
    // keep the 100-byte header (magic, our application id) and scramble everything after it
    const std::string junk = random_bytes(bytes.size() - 100, 9);
    std::copy(junk.begin(), junk.end(), bytes.begin() + 100);
    const std::string path = dir.file("scrambled.db");
    write_bytes(path, bytes);
    expect_refused_untouched(dir, path, "corrupt or unreadable SQLite database");
}

TEST(StoreBadFiles, valid_database_is_accepted_and_unchanged_by_read_only_use) {
    TempDir dir;
    const std::string path = make_valid_db(dir, "good.db");
    const std::string before = read_bytes(path);
    const auto listing = dir_listing(dir.path());
    {
        Store ro = Store::open_readonly(path);
        EXPECT_EQ(ro.list_cells().size(), 1u);
        EXPECT_EQ(ro.integrity_check(), "ok");
    }
    EXPECT_EQ(read_bytes(path), before);
    // An ordinary read-only SQLite connection on a WAL database may leave empty -wal and -shm
    // files beside it (SQLite's own bookkeeping, harmless); it never writes the database itself.
    for (const auto & name : dir_listing(dir.path())) {
        EXPECT_TRUE(name == "good.db" || name == "good.db-wal" || name == "good.db-shm") << name;
    }
    if (fs::exists(path + "-wal")) {
        EXPECT_EQ(fs::file_size(path + "-wal"), 0u);
    }
    (void)listing;
}
