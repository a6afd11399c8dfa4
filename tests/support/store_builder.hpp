#pragma once
// Minimal rows for tests that need a small store to run a command on. Each sets only what links a
// cell to its host, model and scheme, so the test itself sets (and shows) every value it checks.
// tests/store/fixtures.hpp fills every field instead, for the store's round-trip tests.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

// Stored item results as a sweep writes them: item i has id "q<i>", is right when outcomes[i] is 1,
// and has `choices` per-choice log-probabilities (multiple choice), or is a generation item
// (`choices` 0). The primary metric `metric` carries the same outcome. Ids start at q<first>.
inline std::vector<CellItem> items_of(const std::vector<int> & outcomes, int choices, const std::string & metric = "acc",
                                      size_t first = 0) {
    std::vector<CellItem> out;
    for (size_t i = 0; i < outcomes.size(); ++i) {
        nlohmann::json j = {{"id", "q" + std::to_string(first + i)}, {"group", ""}, {"correct", outcomes[i] != 0}};
        if (choices > 0) {
            j["gold"] = 0;
            j["predicted"] = outcomes[i] ? 0 : 1;
            j["logprobs"] = std::vector<double>(size_t(choices), -1.0);
        } else {
            j["generated"] = outcomes[i] ? "42" : "7";
            j["target"] = "42";
        }
        j["scores"] = {{metric, outcomes[i] ? 1.0 : 0.0}};
        out.push_back({int64_t(first + i), j.dump()});
    }
    return out;
}

}  // namespace jb::test
