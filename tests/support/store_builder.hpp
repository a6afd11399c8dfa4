#pragma once
// Minimal rows for tests that need a small store to run a command on. Each sets only what links a
// cell to its host, model and scheme, so the test itself sets (and shows) every value it checks.
// tests/store/fixtures.hpp fills every field instead, for the store's round-trip tests.

#include <string>

#include "joulebench/store.hpp"

namespace jb::test {

// Upserts a host known only by its name and GPUs, and returns it with its fingerprint.
inline HostRecord add_host(Store & st, const std::string & hostname, const std::string & gpus_json = "[]") {
    HostRecord h;
    h.hostname = hostname;
    h.gpus_json = gpus_json;
    h.fingerprint = host_fingerprint(h);
    st.upsert_host(h);
    return h;
}

inline ModelRecord add_model(Store & st, const std::string & hash, const std::string & file_name) {
    ModelRecord m;
    m.hash = hash;
    m.file_name = file_name;
    st.upsert_model(m);
    return m;
}

inline SchemeRecord add_scheme(Store & st, const std::string & canonical, const std::string & name) {
    SchemeRecord s;
    s.canonical = canonical;
    s.name = name;
    st.upsert_scheme(s);
    return s;
}

// A cell of h, m and s with its key set and nothing measured yet (status ok, repeat 0).
inline CellRecord minimal_cell(const HostRecord & h, const ModelRecord & m, const SchemeRecord & s,
                               const std::string & task, const std::string & workload_fp) {
    CellRecord c;
    c.host_fingerprint = h.fingerprint;
    c.model_hash = m.hash;
    c.scheme_canonical = s.canonical;
    c.task = task;
    c.workload_fp = workload_fp;
    return c;
}

}  // namespace jb::test
