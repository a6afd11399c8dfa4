#include "joulebench/store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "store/sql.hpp"
#include "joulebench/error.hpp"

namespace jb {

using sql::Stmt;
using sql::Transaction;

// A sweep's cells take seconds to minutes, so waiting this long for another writer (a second
// sweep, a report) is cheap, and failing instead would lose a measurement.
static constexpr int kBusyTimeoutMs = 10000;

int store_schema_version() {
    return int(sql::migrations().size());
}

void SqliteCloser::operator()(sqlite3 * db) const {
    sqlite3_close_v2(db);
}

std::string utc_now_iso() {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const std::time_t t = system_clock::to_time_t(now);
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
}

static std::string random_uuid() {
    std::random_device rd;
    std::mt19937_64 gen((uint64_t(rd()) << 32) ^ rd() ^
                        uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()));
    uint64_t hi = gen();
    uint64_t lo = gen();
    hi = (hi & ~uint64_t(0xF000)) | 0x4000;                      // version 4
    lo = (lo & ~(uint64_t(0xC) << 60)) | (uint64_t(0x8) << 60);  // RFC 4122 variant
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48,
                       lo & 0xFFFFFFFFFFFFull);
}

std::string host_fingerprint(const HostRecord & h) {
    std::vector<std::string> gpus;
    nlohmann::json j = nlohmann::json::parse(h.gpus_json, nullptr, false);
    if (j.is_discarded() || !j.is_array()) {
        throw Error(fmt::format("host '{}': field 'gpus_json': not a JSON array", h.hostname));
    }
    for (const auto & g : j) {
        std::string id;
        if (g.is_object() && g.contains("uuid") && g["uuid"].is_string()) id = g["uuid"].get<std::string>();
        if (id.empty() && g.is_object() && g.contains("name") && g["name"].is_string())
            id = g["name"].get<std::string>();
        gpus.push_back(id);
    }
    std::sort(gpus.begin(), gpus.end());
    std::string s = fmt::format("{}\x1f{}\x1f{}", h.hostname, h.cpu_model, h.cpu_cores);
    for (const auto & g : gpus) {
        s += '\x1f';
        s += g;
    }
    // FNV-1a, 64 bit: stable across platforms and builds (std::hash is not)
    uint64_t hash = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        hash = (hash ^ c) * 0x100000001b3ull;
    }
    return fmt::format("{:016x}", hash);
}

// ---------------------------------------------------------------------------------------------
// Opening: check first, write later

// Checks the file's first 100 bytes (the SQLite header) with plain reads, before SQLite sees it:
// random bytes, a text file or another application's database are refused without any
// connection ever being opened on them.
static void check_header(const std::string & path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw InputError(
            path, errno == ENOENT ? std::string("no such file") : fmt::format("cannot open: {}", std::strerror(errno)));
    }
    if (S_ISDIR(st.st_mode)) {
        throw InputError(path, "is a directory, not a joulebench database");
    }
    if (st.st_size == 0) {
        throw InputError(
            path, "empty file, not a joulebench database; refusing to use it (remove it or choose another path)");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw InputError(path, fmt::format("cannot read: {}", std::strerror(errno)));
    }
    unsigned char hdr[100] = {};
    if (!in.read(reinterpret_cast<char *>(hdr), sizeof(hdr)) || std::memcmp(hdr, "SQLite format 3", 16) != 0) {
        throw InputError(
            path,
            "not an SQLite database (no 'SQLite format 3' header), so not a joulebench database; file left unchanged");
    }
    // application_id: big-endian at offset 68. Written when the file is created, before WAL mode
    // is switched on, so the main file's header always carries it.
    const uint32_t app_id = uint32_t(hdr[68]) << 24 | uint32_t(hdr[69]) << 16 | uint32_t(hdr[70]) << 8 | hdr[71];
    if (app_id == 0) {
        throw InputError(path, "an SQLite database not made by joulebench (application_id 0); file left unchanged");
    }
    if (app_id != uint32_t(kStoreApplicationId)) {
        throw InputError(path, fmt::format("an SQLite database of another application (application_id 0x{:08x}, "
                                           "joulebench's is 0x{:08x}); file left unchanged",
                                           app_id, uint32_t(kStoreApplicationId)));
    }
}

// "file:" URI for a path, for the query parameters only a URI can carry.
static std::string file_uri(const std::string & path, const char * params) {
    std::string uri = path.rfind('/', 0) == 0 ? "file://" : "file:";
    for (unsigned char c : path) {
        if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7F) {
            uri += fmt::format("%{:02X}", c);
        } else {
            uri += char(c);
        }
    }
    return uri + "?" + params;
}

static SqlitePtr open_connection(const std::string & path, int flags, const char * uri_params = nullptr) {
    sqlite3 * raw = nullptr;
    const std::string name = uri_params ? file_uri(path, uri_params) : path;
    const int rc = sqlite3_open_v2(name.c_str(), &raw, flags | (uri_params ? SQLITE_OPEN_URI : 0), nullptr);
    SqlitePtr db(raw);
    if (rc != SQLITE_OK) {
        throw InputError(
            path, fmt::format("cannot open as SQLite database: {}", raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, kBusyTimeoutMs);
    return db;
}

// Reads the identity and version through a read-only connection; throws InputError naming what
// is wrong. Returns the schema version (user_version).
static int check_identity(sqlite3 * db, const std::string & path) {
    auto query_int = [&](const char * q) -> int64_t {
        sqlite3_stmt * s = nullptr;
        int rc = sqlite3_prepare_v2(db, q, -1, &s, nullptr);
        int64_t v = 0;
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(s);
            if (rc == SQLITE_ROW) {
                v = sqlite3_column_int64(s, 0);
                rc = SQLITE_OK;
            }
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_OK) {
            throw InputError(path, fmt::format("corrupt or unreadable SQLite database ({}); file left unchanged",
                                               sqlite3_errmsg(db)));
        }
        return v;
    };
    // reading sqlite_master first makes SQLite parse the schema: a damaged file fails here
    query_int("SELECT count(*) FROM sqlite_master");
    const int64_t app_id = query_int("PRAGMA application_id");
    if (app_id != kStoreApplicationId) {
        throw InputError(path, fmt::format("not a joulebench database (application_id 0x{:08x}); file left unchanged",
                                           uint32_t(app_id)));
    }
    const int64_t version = query_int("PRAGMA user_version");
    if (version > store_schema_version()) {
        throw InputError(path, fmt::format("schema version {} is newer than this joulebench build knows ({}); "
                                           "use a newer joulebench; file left unchanged",
                                           version, store_schema_version()));
    }
    if (version <= 0) {
        throw InputError(path,
                         "not a joulebench database (schema never initialised, user_version 0); file left unchanged");
    }
    for (const char * table : sql::required_tables()) {
        sqlite3_stmt * s = nullptr;
        sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &s, nullptr);
        sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
        const bool found = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
        if (!found) {
            throw InputError(path,
                             fmt::format("not a joulebench database (missing table '{}'); file left unchanged", table));
        }
    }
    sqlite3_stmt * s = nullptr;
    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'application'", -1, &s, nullptr);
    const bool ok = s && sqlite3_step(s) == SQLITE_ROW &&
                    std::string_view(reinterpret_cast<const char *>(sqlite3_column_text(s, 0))) == "joulebench";
    sqlite3_finalize(s);
    if (!ok) {
        throw InputError(
            path, "not a joulebench database (meta table lacks application = 'joulebench'); file left unchanged");
    }
    return int(version);
}

// Applies the migrations the file lacks, each in its own transaction with its user_version bump.
// The version is read again inside the transaction: another process may have migrated meanwhile.
static void apply_migrations(sqlite3 * db, const std::string & path) {
    const auto & list = sql::migrations();
    auto user_version = [&] {
        Stmt v(db, path, "PRAGMA user_version");
        v.step();
        return v.int64(0);
    };
    if (user_version() >= int64_t(list.size())) {
        return;  // the common case: no write lock taken
    }
    for (size_t target = 1; target <= list.size(); ++target) {
        Transaction tx(db, path);
        if (user_version() >= int64_t(target)) {
            continue;  // already there (maybe another process migrated meanwhile); tx rolls back
        }
        sql::exec(db, path, list[target - 1]);
        sql::exec(db, path, fmt::format("PRAGMA user_version = {}", target).c_str());
        Stmt(db, path, "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)")
            .bind(1, std::to_string(target))
            .run();
        tx.commit();
    }
}

static std::string parent_dir(const std::string & path) {
    const std::string::size_type slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// Builds a new database beside `path` and links it into place only when complete, so a crash
// during creation leaves no half-made file under the real name, and an existing file is never
// replaced (link() fails with EEXIST where rename() would overwrite).
static void create_database(const std::string & path) {
    const std::string dir = parent_dir(path);
    if (::access(dir.c_str(), W_OK) != 0) {
        throw InputError(path, fmt::format("cannot create: directory '{}': {}", dir, std::strerror(errno)));
    }
    const std::string tmp = fmt::format("{}.creating-{}-{}", path, ::getpid(), random_uuid().substr(0, 8));
    auto remove_tmp = [&] {
        for (const char * suffix : {"", "-journal", "-wal", "-shm"}) {
            ::unlink((tmp + suffix).c_str());
        }
    };
    try {
        SqlitePtr db = open_connection(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        // The application id goes in with the first write, in rollback-journal mode, so it is in
        // the main file's header (not only in a WAL) before anyone can see the file.
        sql::exec(db.get(), path, fmt::format("PRAGMA application_id = {}", kStoreApplicationId).c_str());
        apply_migrations(db.get(), path);
        Stmt meta(db.get(), path, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
        meta.bind(1, "created_at").bind(2, utc_now_iso()).run();
        meta.bind(1, "created_by").bind(2, "joulebench " JOULEBENCH_VERSION).run();
        meta = Stmt(db.get(), path, "PRAGMA journal_mode = WAL");
        meta.step();
        if (meta.text(0) != "wal") {
            throw Error(fmt::format("{}: cannot switch to WAL journal mode (got '{}')", path, meta.text(0)));
        }
        meta.reset();
    } catch (...) {
        remove_tmp();
        throw;
    }
    if (::link(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        if (err == EEXIST) {
            remove_tmp();  // created by someone else meanwhile: open theirs (it is checked)
            return;
        }
        // file systems without hard links: rename, having checked the name is still free
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
            remove_tmp();
            throw InputError(path, fmt::format("cannot create: {}", std::strerror(err)));
        }
    }
    remove_tmp();
    // make the new name durable too
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

Store::Store(std::string path, SqlitePtr db, bool read_only)
    : path_(std::move(path)), db_(std::move(db)), read_only_(read_only) {}
Store::Store(Store &&) noexcept = default;
Store & Store::operator=(Store &&) noexcept = default;
Store::~Store() = default;

// The connection that checks a file before we trust it. Reading a WAL-mode file through an
// ordinary read-only connection creates -wal and -shm files beside it (and cannot remove them);
// when no -wal exists the main file holds everything, so it is read as immutable, which creates
// nothing. When a -wal exists (a writer is active, or one was killed), the ordinary read-only
// connection is needed to see its committed contents, and the files it uses are already there.
static SqlitePtr open_for_check(const std::string & path) {
    struct stat st {};
    const bool has_wal = ::stat((path + "-wal").c_str(), &st) == 0;
    return has_wal ? open_connection(path, SQLITE_OPEN_READONLY)
                   : open_connection(path, SQLITE_OPEN_READONLY, "immutable=1");
}

Store Store::open(const std::string & path, bool create) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno != ENOENT) {
            throw InputError(path, fmt::format("cannot open: {}", std::strerror(errno)));
        }
        if (!create) {
            throw InputError(path, "no such file");
        }
        create_database(path);
    }
    check_header(path);
    check_identity(open_for_check(path).get(), path);
    // Only now, knowing the file is ours and of a version we know, open it for writing. Checked
    // again through this connection: a newer joulebench may have migrated it in the meantime.
    SqlitePtr db = open_connection(path, SQLITE_OPEN_READWRITE);
    check_identity(db.get(), path);
    sql::exec(db.get(), path, "PRAGMA foreign_keys = ON");
    Stmt wal(db.get(), path, "PRAGMA journal_mode = WAL");
    wal.step();
    wal.reset();
    // FULL: a committed cell survives power loss too, at one fsync per cell (cells take seconds).
    sql::exec(db.get(), path, "PRAGMA synchronous = FULL");
    apply_migrations(db.get(), path);
    return Store(path, std::move(db), false);
}

Store Store::open_readonly(const std::string & path) {
    check_header(path);
    check_identity(open_for_check(path).get(), path);
    SqlitePtr db = open_connection(path, SQLITE_OPEN_READONLY);
    const int version = check_identity(db.get(), path);
    if (version < store_schema_version()) {
        // An older file is read through a migrated copy in memory: reports and projections work
        // on it and the file itself is never written (a committed result stays byte for byte).
        SqlitePtr mem = open_connection(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY);
        sqlite3_backup * b = sqlite3_backup_init(mem.get(), "main", db.get(), "main");
        const int rc = b ? sqlite3_backup_step(b, -1) : sqlite3_errcode(mem.get());
        sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) {
            throw InputError(path, fmt::format("cannot read it to migrate a copy from schema version {}: {}", version,
                                               sqlite3_errmsg(mem.get())));
        }
        sql::exec(mem.get(), path, "PRAGMA foreign_keys = ON");
        apply_migrations(mem.get(), path);
        return Store(path, std::move(mem), true);
    }
    return Store(path, std::move(db), true);
}

int Store::schema_version() const {
    Stmt s(db_.get(), path_, "PRAGMA user_version");
    s.step();
    return int(s.int64(0));
}

std::string Store::integrity_check() const {
    Stmt s(db_.get(), path_, "PRAGMA integrity_check");
    std::string out;
    while (s.step()) {
        if (!out.empty()) out += "; ";
        out += s.text(0);
    }
    return out;
}

void Store::require_writable(const char * what) const {
    if (read_only_) {
        throw Error(fmt::format("{}: {}: database was opened read-only", path_, what));
    }
}

// ---------------------------------------------------------------------------------------------
// Hosts, models, schemes, runs

int64_t Store::upsert_host(const HostRecord & h_in) {
    require_writable("upsert_host");
    HostRecord h = h_in;
    if (h.fingerprint.empty()) {
        h.fingerprint = host_fingerprint(h);
    }
    Stmt s(db_.get(), path_,
           "INSERT INTO hosts (fingerprint, hostname, cpu_model, cpu_cores, ram_bytes, gpus_json, driver, llama_commit,"
           " joulebench_version, os, first_seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
           " ON CONFLICT (fingerprint) DO UPDATE SET hostname = excluded.hostname, cpu_model = excluded.cpu_model,"
           " cpu_cores = excluded.cpu_cores, ram_bytes = excluded.ram_bytes, gpus_json = excluded.gpus_json,"
           " driver = excluded.driver, llama_commit = excluded.llama_commit,"
           " joulebench_version = excluded.joulebench_version, os = excluded.os RETURNING id");
    s.bind(1, h.fingerprint).bind(2, h.hostname).bind(3, h.cpu_model);
    s.bind(4, h.cpu_cores).bind(5, h.ram_bytes).bind(6, h.gpus_json).bind(7, h.driver);
    s.bind(8, h.llama_commit).bind(9, h.joulebench_version);
    s.bind(10, h.os).bind(11, utc_now_iso());
    s.step();
    const int64_t id = s.int64(0);
    s.reset();
    return id;
}

int64_t Store::upsert_model(const ModelRecord & m) {
    require_writable("upsert_model");
    if (m.hash.empty()) {
        throw Error(fmt::format("{}: model '{}': field 'hash' is empty", path_, m.file_name));
    }
    Stmt s(db_.get(), path_,
           "INSERT INTO models (hash, path, file_name, arch, n_params, file_bytes, synthetic) VALUES (?,?,?,?,?,?,?)"
           " ON CONFLICT (hash) DO UPDATE SET path = excluded.path, file_name = excluded.file_name,"
           " arch = excluded.arch, n_params = excluded.n_params, file_bytes = excluded.file_bytes,"
           " synthetic = excluded.synthetic RETURNING id");
    s.bind(1, m.hash).bind(2, m.path).bind(3, m.file_name);
    s.bind(4, m.arch).bind(5, m.n_params).bind(6, m.file_bytes).bind(7, int64_t(m.synthetic));
    s.step();
    const int64_t id = s.int64(0);
    s.reset();
    return id;
}

int64_t Store::upsert_scheme(const SchemeRecord & sc) {
    require_writable("upsert_scheme");
    if (sc.canonical.empty()) {
        throw Error(fmt::format("{}: scheme '{}': field 'canonical' is empty", path_, sc.name));
    }
    Stmt s(db_.get(), path_,
           "INSERT INTO schemes (canonical, name, default_type, kv_type, bpw, file_bytes, tensor_types_json,"
           " sensitivity_json) VALUES (?,?,?,?,?,?,?,?)"
           " ON CONFLICT (canonical) DO UPDATE SET name = excluded.name, default_type = excluded.default_type,"
           " kv_type = excluded.kv_type, bpw = excluded.bpw, file_bytes = excluded.file_bytes,"
           " tensor_types_json = excluded.tensor_types_json, sensitivity_json = excluded.sensitivity_json"
           " RETURNING id");
    s.bind(1, sc.canonical).bind(2, sc.name);
    s.bind(3, sc.default_type).bind(4, sc.kv_type).bind(5, sc.bpw);
    s.bind(6, sc.file_bytes).bind(7, sc.tensor_types_json).bind_opt_text(8, sc.sensitivity_json);
    s.step();
    const int64_t id = s.int64(0);
    s.reset();
    return id;
}

std::vector<HostRecord> Store::list_hosts() const {
    Stmt s(db_.get(), path_,
           "SELECT id, fingerprint, hostname, cpu_model, cpu_cores, ram_bytes, gpus_json, driver, llama_commit,"
           " joulebench_version, os FROM hosts ORDER BY id");
    std::vector<HostRecord> out;
    while (s.step()) {
        HostRecord h;
        h.id = s.int64(0);
        h.fingerprint = s.text(1);
        h.hostname = s.text(2);
        h.cpu_model = s.text(3);
        h.cpu_cores = s.int64(4);
        h.ram_bytes = s.int64(5);
        h.gpus_json = s.text(6);
        h.driver = s.text(7);
        h.llama_commit = s.text(8);
        h.joulebench_version = s.text(9);
        h.os = s.text(10);
        out.push_back(std::move(h));
    }
    return out;
}

std::vector<ModelRecord> Store::list_models() const {
    Stmt s(db_.get(), path_,
           "SELECT id, hash, path, file_name, arch, n_params, file_bytes, synthetic FROM models ORDER BY id");
    std::vector<ModelRecord> out;
    while (s.step()) {
        ModelRecord m;
        m.id = s.int64(0);
        m.hash = s.text(1);
        m.path = s.text(2);
        m.file_name = s.text(3);
        m.arch = s.text(4);
        m.n_params = s.int64(5);
        m.file_bytes = s.int64(6);
        m.synthetic = s.int64(7) != 0;
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<SchemeRecord> Store::list_schemes() const {
    Stmt s(db_.get(), path_,
           "SELECT id, canonical, name, default_type, kv_type, bpw, file_bytes, tensor_types_json, sensitivity_json"
           " FROM schemes ORDER BY id");
    std::vector<SchemeRecord> out;
    while (s.step()) {
        SchemeRecord sc;
        sc.id = s.int64(0);
        sc.canonical = s.text(1);
        sc.name = s.text(2);
        sc.default_type = s.text(3);
        sc.kv_type = s.text(4);
        sc.bpw = s.real(5);
        sc.file_bytes = s.int64(6);
        sc.tensor_types_json = s.text(7);
        sc.sensitivity_json = s.text(8);
        out.push_back(std::move(sc));
    }
    return out;
}

std::vector<RunRecord> Store::list_runs() const {
    Stmt s(db_.get(), path_,
           "SELECT r.id, r.uuid, coalesce(h.fingerprint, ''), r.started_at, coalesce(r.finished_at, ''),"
           " r.command_line, r.joulebench_version FROM runs r LEFT JOIN hosts h ON h.id = r.host_id ORDER BY r.id");
    std::vector<RunRecord> out;
    while (s.step()) {
        RunRecord r;
        r.id = s.int64(0);
        r.uuid = s.text(1);
        r.host_fingerprint = s.text(2);
        r.started_at = s.text(3);
        r.finished_at = s.text(4);
        r.command_line = s.text(5);
        r.joulebench_version = s.text(6);
        out.push_back(std::move(r));
    }
    return out;
}

static int64_t lookup_id(sqlite3 * db, const std::string & path, const char * sql, const std::string & value) {
    Stmt s(db, path, sql);
    s.bind(1, value);
    return s.step() ? s.int64(0) : 0;
}

void Store::upsert_model_scheme(const std::string & model_hash, const std::string & scheme_canonical, double bpw,
                                int64_t file_bytes) {
    require_writable("upsert_model_scheme");
    const int64_t model_id = lookup_id(db_.get(), path_, "SELECT id FROM models WHERE hash = ?", model_hash);
    const int64_t scheme_id = lookup_id(db_.get(), path_, "SELECT id FROM schemes WHERE canonical = ?", scheme_canonical);
    if (!model_id || !scheme_id) {
        throw Error(fmt::format("{}: upsert_model_scheme ({}, {}): {} is not in the store (upsert it first)", path_,
                                model_hash, scheme_canonical, !model_id ? "model" : "scheme"));
    }
    if (file_bytes < 0) {
        throw Error(fmt::format("{}: upsert_model_scheme ({}, {}): field 'file_bytes' is negative ({})", path_,
                                model_hash, scheme_canonical, file_bytes));
    }
    Stmt s(db_.get(), path_,
           "INSERT INTO model_schemes (model_id, scheme_id, bpw, file_bytes) VALUES (?, ?, ?, ?)"
           " ON CONFLICT (model_id, scheme_id) DO UPDATE SET bpw = excluded.bpw, file_bytes = excluded.file_bytes");
    s.bind(1, model_id).bind(2, scheme_id).bind(3, bpw).bind(4, file_bytes).run();
}

std::vector<ModelSchemeRecord> Store::list_model_schemes() const {
    Stmt s(db_.get(), path_,
           "SELECT m.hash, s.canonical, ms.bpw, ms.file_bytes FROM model_schemes ms JOIN models m ON m.id = ms.model_id"
           " JOIN schemes s ON s.id = ms.scheme_id ORDER BY ms.model_id, ms.scheme_id");
    std::vector<ModelSchemeRecord> out;
    while (s.step()) {
        out.push_back({s.text(0), s.text(1), s.real(2), s.int64(3)});
    }
    return out;
}

void Store::set_model_relation(const std::string & family, const std::string & role, const std::string & model_hash) {
    require_writable("set_model_relation");
    if (family.empty() || role.empty()) {
        throw Error(fmt::format("{}: set_model_relation: field '{}' is empty", path_, family.empty() ? "family" : "role"));
    }
    const int64_t model_id = lookup_id(db_.get(), path_, "SELECT id FROM models WHERE hash = ?", model_hash);
    if (!model_id) {
        throw Error(fmt::format("{}: set_model_relation ({}, {}): model '{}' is not in the store (upsert it first)",
                                path_, family, role, model_hash));
    }
    Stmt s(db_.get(), path_,
           "INSERT INTO model_relations (family, role, model_id) VALUES (?, ?, ?)"
           " ON CONFLICT (family, role) DO UPDATE SET model_id = excluded.model_id");
    s.bind(1, family).bind(2, role).bind(3, model_id).run();
}

std::vector<Store::ModelRelation> Store::model_relations() const {
    Stmt s(db_.get(), path_,
           "SELECT r.family, r.role, m.hash FROM model_relations r JOIN models m ON m.id = r.model_id"
           " ORDER BY r.family, r.role");
    std::vector<ModelRelation> out;
    while (s.step()) {
        out.push_back({s.text(0), s.text(1), s.text(2)});
    }
    return out;
}

int64_t Store::begin_run(const std::string & command_line, const std::string & host_fp) {
    require_writable("begin_run");
    int64_t host_id = 0;
    if (!host_fp.empty()) {
        host_id = lookup_id(db_.get(), path_, "SELECT id FROM hosts WHERE fingerprint = ?", host_fp);
        if (host_id == 0) {
            throw Error(fmt::format("{}: begin_run: host fingerprint '{}' is not in the store (upsert_host first)",
                                    path_, host_fp));
        }
    }
    Stmt s(db_.get(), path_,
           "INSERT INTO runs (uuid, host_id, started_at, command_line, joulebench_version) VALUES (?,?,?,?,?)"
           " RETURNING id");
    s.bind(1, random_uuid());
    if (host_id)
        s.bind(2, host_id);
    else
        s.bind_null(2);
    s.bind(3, utc_now_iso()).bind(4, command_line);
    s.bind(5, JOULEBENCH_VERSION);
    s.step();
    const int64_t id = s.int64(0);
    s.reset();
    return id;
}

void Store::finish_run(int64_t run_id) {
    require_writable("finish_run");
    Stmt s(db_.get(), path_, "UPDATE runs SET finished_at = ? WHERE id = ?");
    s.bind(1, utc_now_iso()).bind(2, run_id).run();
    if (sqlite3_changes(db_.get()) != 1) {
        throw Error(fmt::format("{}: finish_run: no run with id {}", path_, run_id));
    }
}

// ---------------------------------------------------------------------------------------------
// Cells

static const char * kCellKeyWhere =
    "h.fingerprint = ? AND m.hash = ? AND s.canonical = ? AND c.task = ? AND c.workload_fp = ? AND c.repeat_idx = ?";

static std::vector<FieldValue> key_args(const CellKey & k) {
    return {k.host_fingerprint, k.model_hash, k.scheme_canonical, k.task, k.workload_fp, k.repeat_idx};
}

static std::string describe(const CellKey & k) {
    return fmt::format("cell ({}, {}, {}, {}, {}, #{})", k.host_fingerprint, k.model_hash, k.scheme_canonical, k.task,
                       k.workload_fp, k.repeat_idx);
}

std::vector<CellRecord> Store::select_cells(const std::string & where, const std::vector<FieldValue> & args) const {
    const auto & fields = cell_fields();
    std::string q = "SELECT ";
    for (size_t i = 0; i < fields.size(); ++i) {
        q += i ? ", " : "";
        q += fields[i].select_sql;
    }
    q += " FROM cells c JOIN hosts h ON h.id = c.host_id JOIN models m ON m.id = c.model_id"
         " JOIN schemes s ON s.id = c.scheme_id"
         " LEFT JOIN model_schemes ms ON ms.model_id = c.model_id AND ms.scheme_id = c.scheme_id";
    if (!where.empty()) {
        q += " WHERE " + where;
    }
    q += " ORDER BY c.id";
    Stmt s(db_.get(), path_, q);
    for (size_t i = 0; i < args.size(); ++i) {
        s.bind_value(int(i + 1), args[i]);
    }
    std::vector<CellRecord> out;
    while (s.step()) {
        CellRecord r;
        for (size_t i = 0; i < fields.size(); ++i) {
            fields[i].set(r, s.value(int(i)));
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<CellRecord> Store::list_cells(const CellFilter & f) const {
    std::string where;
    std::vector<FieldValue> args;
    auto any_of = [&](const char * column, const std::vector<std::string> & values) {
        if (values.empty()) return;
        where += where.empty() ? "" : " AND ";
        where += fmt::format("{} IN ({})", column, fmt::join(std::vector<std::string>(values.size(), "?"), ", "));
        for (const auto & v : values) args.emplace_back(v);
    };
    any_of("h.fingerprint", f.host_fingerprints);
    any_of("m.hash", f.model_hashes);
    any_of("s.canonical", f.scheme_canonicals);
    any_of("c.task", f.tasks);
    any_of("c.workload_fp", f.workload_fps);
    if (!f.status.empty()) {
        any_of("c.status", {f.status});
    }
    if (!f.origin.empty()) {
        any_of("c.origin", {f.origin});
    }
    return select_cells(where, args);
}

std::optional<CellRecord> Store::find_cell(const CellKey & key) const {
    auto rows = select_cells(kCellKeyWhere, key_args(key));
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
}

bool Store::has_cell(const CellKey & key, bool failed_is_done) const {
    Stmt s(
        db_.get(), path_,
        fmt::format("SELECT c.status FROM cells c JOIN hosts h ON h.id = c.host_id JOIN models m ON m.id = c.model_id"
                    " JOIN schemes s ON s.id = c.scheme_id WHERE {}",
                    kCellKeyWhere));
    const auto args = key_args(key);
    for (size_t i = 0; i < args.size(); ++i) {
        s.bind_value(int(i + 1), args[i]);
    }
    if (!s.step()) return false;
    return failed_is_done || s.text(0) == kStatusOk;
}

int64_t Store::commit_cell(const CellRecord & rec_in, const std::vector<CellItem> & items,
                           const PowerTimeline & timeline) {
    require_writable("commit_cell");
    CellRecord rec = rec_in;
    rec.committed_at = utc_now_iso();
    if (rec.started_at.empty()) rec.started_at = rec.committed_at;
    if (rec.finished_at.empty()) rec.finished_at = rec.committed_at;
    Transaction tx(db_.get(), path_);
    const int64_t id = insert_cell(rec, rec.run_id, items, timeline);
    tx.commit();
    return id;
}

int64_t Store::insert_cell(const CellRecord & rec, int64_t run_id, const std::vector<CellItem> & items,
                           const PowerTimeline & timeline) {
    const std::string what = describe(rec.key());
    if (rec.status != kStatusOk && rec.status != kStatusFailed) {
        throw Error(fmt::format("{}: {}: field 'status': must be 'ok' or 'failed', not '{}'", path_, what, rec.status));
    }
    if (rec.task.empty()) {
        throw Error(fmt::format("{}: {}: field 'task' is empty", path_, what));
    }
    if (rec.origin != kOriginMeasured && rec.origin != kOriginProjected) {
        throw Error(fmt::format("{}: {}: field 'origin': must be 'measured' or 'projected', not '{}'", path_, what,
                                rec.origin));
    }
    const int64_t host_id =
        lookup_id(db_.get(), path_, "SELECT id FROM hosts WHERE fingerprint = ?", rec.host_fingerprint);
    const int64_t model_id = lookup_id(db_.get(), path_, "SELECT id FROM models WHERE hash = ?", rec.model_hash);
    const int64_t scheme_id =
        lookup_id(db_.get(), path_, "SELECT id FROM schemes WHERE canonical = ?", rec.scheme_canonical);
    if (!host_id || !model_id || !scheme_id) {
        throw Error(fmt::format("{}: {}: {} is not in the store (upsert it before committing cells)", path_, what,
                                !host_id    ? "host"
                                : !model_id ? "model"
                                            : "scheme"));
    }

    // Replace: the old row goes with its items and timeline (ON DELETE CASCADE), all inside the
    // caller's transaction, so a failure below restores it.
    Stmt del(db_.get(), path_,
             "DELETE FROM cells WHERE host_id = ? AND model_id = ? AND scheme_id = ? AND task = ? AND workload_fp = ?"
             " AND repeat_idx = ?");
    del.bind(1, host_id).bind(2, model_id).bind(3, scheme_id).bind(4, rec.task);
    del.bind(5, rec.workload_fp).bind(6, rec.repeat_idx).run();

    // The column list comes from the field table: adding a field there (and a migration) is all.
    std::string cols = "host_id, model_id, scheme_id, run_id";
    std::string marks = "?, ?, ?, ?";
    std::vector<const CellField *> stored;
    for (const CellField & f : cell_fields()) {
        if (f.stored) {
            cols += fmt::format(", {}", f.name);
            marks += ", ?";
            stored.push_back(&f);
        }
    }
    Stmt ins(db_.get(), path_, fmt::format("INSERT INTO cells ({}) VALUES ({})", cols, marks));
    ins.bind(1, host_id).bind(2, model_id).bind(3, scheme_id);
    if (run_id)
        ins.bind(4, run_id);
    else
        ins.bind_null(4);
    for (size_t i = 0; i < stored.size(); ++i) {
        ins.bind_value(int(i + 5), stored[i]->get(rec));
    }
    try {
        ins.run();
    } catch (const Error & e) {
        throw Error(fmt::format("{} ({})", e.what(), what));
    }
    const int64_t cell_id = sqlite3_last_insert_rowid(db_.get());
    if (commit_hook_) commit_hook_("cell");

    Stmt item(db_.get(), path_, "INSERT INTO items (cell_id, idx, result_json) VALUES (?, ?, ?)");
    for (const CellItem & it : items) {
        item.bind(1, cell_id).bind(2, it.idx).bind(3, it.result_json);
        try {
            item.run();
        } catch (const Error & e) {
            throw Error(fmt::format("{} ({}, item {})", e.what(), what, it.idx));
        }
    }
    if (commit_hook_) commit_hook_("items");

    if (!timeline.empty()) {
        const std::vector<uint8_t> blob = encode_timeline_samples(timeline);
        nlohmann::json phases = nlohmann::json::array();
        for (const PhaseInterval & p : timeline.phases) {
            phases.push_back({{"phase", p.phase}, {"t0_s", p.t0_s}, {"t1_s", p.t1_s}});
        }
        Stmt tl(db_.get(), path_,
                "INSERT INTO timelines (cell_id, n_samples, domains_json, phases_json, encoding, data)"
                " VALUES (?, ?, ?, ?, ?, ?)");
        tl.bind(1, cell_id).bind(2, int64_t(timeline.t_s.size()));
        tl.bind(3, nlohmann::json(timeline.domains).dump());
        tl.bind(4, phases.dump()).bind(5, kTimelineEncoding);
        tl.bind_blob(6, blob.data(), blob.size()).run();
    }
    if (commit_hook_) commit_hook_("timeline");
    return cell_id;
}

std::vector<CellItem> Store::cell_items(int64_t cell_id) const {
    Stmt s(db_.get(), path_, "SELECT idx, result_json FROM items WHERE cell_id = ? ORDER BY idx");
    s.bind(1, cell_id);
    std::vector<CellItem> out;
    while (s.step()) {
        out.push_back({s.int64(0), s.text(1)});
    }
    return out;
}

std::optional<PowerTimeline> Store::cell_timeline(int64_t cell_id) const {
    Stmt s(db_.get(), path_,
           "SELECT n_samples, domains_json, phases_json, encoding, data FROM timelines WHERE cell_id = ?");
    s.bind(1, cell_id);
    if (!s.step()) return std::nullopt;
    const std::string what = fmt::format("{}: cell {}: timeline", path_, cell_id);
    if (s.text(3) != kTimelineEncoding) {
        throw Error(fmt::format("{}: unknown encoding '{}'", what, s.text(3)));
    }
    PowerTimeline tl;
    try {
        tl.domains = nlohmann::json::parse(s.text(1)).get<std::vector<std::string>>();
        for (const auto & p : nlohmann::json::parse(s.text(2))) {
            tl.phases.push_back(
                {p.at("phase").get<std::string>(), p.at("t0_s").get<double>(), p.at("t1_s").get<double>()});
        }
    } catch (const nlohmann::json::exception & e) {
        throw Error(fmt::format("{}: bad domains_json/phases_json: {}", what, e.what()));
    }
    const std::vector<uint8_t> blob = s.blob(4);
    decode_timeline_samples(blob.data(), blob.size(), tl, what);
    if (int64_t(tl.t_s.size()) != s.int64(0)) {
        throw Error(fmt::format("{}: n_samples {} but the data holds {}", what, s.int64(0), tl.t_s.size()));
    }
    return tl;
}

}  // namespace jb
