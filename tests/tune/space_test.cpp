// The settings suffix a trial's cells carry, the space searched per workload, and the trials
// read back from a store for sweep --engine tuned.

#include "tune/space.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "joulebench/engine_params.hpp"
#include "joulebench/error.hpp"
#include "joulebench/tune.hpp"
#include "support/store_builder.hpp"
#include "support/temp_dir.hpp"
#include "sweep/tuned.hpp"

using namespace jb;

TEST(TuneSettings, suffix_round_trips_every_searched_setting) {
    EngineParams p = engine_default_params();
    p.n_ctx = 512;
    p.n_batch = 256;
    p.n_ubatch = 128;
    p.n_seq_max = 8;
    p.flash_attn = FlashAttn::off;
    p.n_threads = 3;
    p.type_k = "q8_0";
    p.type_v = "f16";
    const std::string suffix = settings_suffix(p);
    EXPECT_EQ(suffix, "|tune=c:512,b:256,ub:128,np:8,fa:off,t:3,kv:q8_0/f16");
    EngineParams back = engine_default_params();
    ASSERT_TRUE(apply_settings_suffix("bench-v2:tg:64:n64:s1:r5|gpus=0" + suffix, back));
    EXPECT_EQ(settings_suffix(back), suffix);
    EXPECT_EQ(back.gpus, p.gpus);
    EngineParams untouched = engine_default_params();
    EXPECT_FALSE(apply_settings_suffix("bench-v2:tg:64:n64:s1:r5", untouched));
    EXPECT_THROW(apply_settings_suffix("x|tune=c:512,zz:1", untouched), InputError);
    EXPECT_THROW(apply_settings_suffix("x|tune=c:-5", untouched), InputError);
    EXPECT_EQ(untouched.n_ctx, engine_default_params().n_ctx);
}

TEST(TuneSpace, prefill_searches_micro_batch_and_batch_up_to_the_prompt) {
    tune::SpaceInput in;
    in.defaults = engine_default_params();
    in.defaults.n_seq_max = 1;
    in.prefill = true;
    in.n_tokens = 512;
    in.tokens_per_call = 512;
    in.on_gpu = true;
    const tune::Space s = tune::build_space(in);
    ASSERT_EQ(s.axes.size(), 3u);
    EXPECT_EQ(s.axes[0].name, "ub");
    EXPECT_EQ(s.axes[0].values, (std::vector<std::string>{"64", "128", "256", "512"}));
    EXPECT_EQ(s.axes[1].name, "b");
    // The default batch (2048) stays even above the prompt: the search starts there.
    EXPECT_EQ(s.axes[1].values, (std::vector<std::string>{"256", "512", "2048"}));
    EXPECT_EQ(s.axes[2].name, "fa");
    EXPECT_EQ(settings_suffix(tune::apply_point(s, s.start, in.defaults)), settings_suffix(in.defaults));
    // No threads axis on a GPU; a micro-batch above the batch cannot run.
    EngineParams p = in.defaults;
    p.n_ubatch = 512;
    p.n_batch = 256;
    EXPECT_FALSE(tune::runnable(p, in));
    p.n_batch = 512;
    EXPECT_TRUE(tune::runnable(p, in));
    p.n_ctx = 256;  // the prompt does not fit
    EXPECT_FALSE(tune::runnable(p, in));
}

TEST(TuneSpace, decode_on_the_cpu_searches_kernels_and_threads_and_overrides_replace_axes) {
    tune::SpaceInput in;
    in.defaults = engine_default_params();
    in.defaults.n_seq_max = 1;
    in.n_tokens = 64;
    in.tokens_per_call = 64;
    in.hardware_threads = 8;
    in.search_kv = true;
    const tune::Space s = tune::build_space(in);
    std::vector<std::string> names;
    for (const auto & a : s.axes) names.push_back(a.name);
    EXPECT_EQ(names, (std::vector<std::string>{"fa", "t", "kv"}));
    EXPECT_EQ(s.axes[1].values, (std::vector<std::string>{"0", "1", "2", "4"}));
    EXPECT_EQ(s.axes[2].values, (std::vector<std::string>{"f16/f16", "q8_0/q8_0"}));
    // A quantized V cache needs flash attention allowed.
    EngineParams p = in.defaults;
    p.type_v = "q8_0";
    p.flash_attn = FlashAttn::off;
    EXPECT_FALSE(tune::runnable(p, in));

    in.overrides = {parse_tune_axis("t=2,4"), parse_tune_axis("ub=32,64")};
    const tune::Space o = tune::build_space(in);
    EXPECT_EQ(o.axes[1].values, (std::vector<std::string>{"0", "2", "4"}));  // the default joins
    EXPECT_EQ(o.axes.back().name, "ub");
    EXPECT_EQ(o.axes.back().values, (std::vector<std::string>{"512", "32", "64"}));
    EXPECT_THROW(parse_tune_axis("zz=1"), UsageError);
    EXPECT_THROW(parse_tune_axis("fa=maybe"), UsageError);
    EXPECT_THROW(parse_tune_axis("b=0"), UsageError);
    EXPECT_THROW(parse_tune_axis("b"), UsageError);
}

TEST(TuneSpace, fa_and_kv_values_are_checked_once_for_both_spaces) {
    EXPECT_EQ(tune::fa_of("auto"), "auto");
    EXPECT_EQ(tune::kv_of("q8_0/f16"), std::make_pair(std::string("q8_0"), std::string("f16")));
    try {
        tune::fa_of("maybe");
        FAIL() << "expected an error";
    } catch (const UsageError & e) {
        EXPECT_STREQ(e.what(), "--axis fa: 'maybe' is not on, off or auto");
    }
    for (const char * bad : {"q8_0", "/f16", "q8_0/"}) {
        try {
            tune::kv_of(bad);
            FAIL() << bad;
        } catch (const UsageError & e) {
            EXPECT_EQ(std::string(e.what()), fmt::format("--axis kv: '{}' is not K/V, e.g. f16/f16 or q8_0/q8_0", bad));
        }
    }
}

TEST(TuneSpace, a_task_searches_context_batch_and_sequences) {
    tune::SpaceInput in;
    in.defaults = engine_default_params();
    in.task = true;
    in.on_gpu = true;
    const tune::Space s = tune::build_space(in);
    std::vector<std::string> names;
    for (const auto & a : s.axes) names.push_back(a.name);
    EXPECT_EQ(names, (std::vector<std::string>{"c", "b", "np", "ub", "fa"}));
    tune::Point p;
    EngineParams e = in.defaults;
    e.n_ctx = 512;
    e.n_batch = 512;
    ASSERT_TRUE(tune::point_of(s, e, in.defaults, p));
    EXPECT_EQ(tune::apply_point(s, p, in.defaults).n_ctx, 512);
    e.n_threads = 3;  // threads are not searched on a GPU: no point of the space has 3
    EXPECT_FALSE(tune::point_of(s, e, in.defaults, p));
}

namespace {

// A trial cell as `joulebench tune` stores it.
void add_trial(Store & st, const CellRecord & base, const std::string & suffix, int repeat, double j_per_token,
               double tok_s, bool is_default, const metrics::TuneConstraints & c, int min_repeats = 3, bool ok = true) {
    CellRecord rec = base;
    rec.workload_fp = base.workload_fp + suffix;
    rec.repeat_idx = repeat;
    rec.status = ok ? kStatusOk : kStatusFailed;
    rec.error = ok ? "" : "out of memory";
    rec.energy_json =
        nlohmann::json{{"tune", sweep::trial_json(suffix, is_default, j_per_token, tok_s, NAN, c, min_repeats)}}.dump();
    st.commit_cell(rec);
}

}  // namespace

TEST(TuneStored, the_best_stored_setting_follows_the_latest_tunes_constraints) {
    test::TempDir dir;
    Store st = Store::open(dir.file("t.db"), /*create=*/true);
    const auto h = test::add_host(st, "node1");
    const auto m = test::add_model(st, "m1", "stories.gguf");
    const auto s = test::add_scheme(st, "f16", "fp16");
    const CellRecord base = test::minimal_cell(h, m, s, "tg64", "bench-v2:tg:64:n64:s1:r5");
    const std::string dflt = "|tune=c:8192,b:2048,ub:512,np:1,fa:auto,t:0,kv:f16/f16";
    const std::string slow = "|tune=c:8192,b:2048,ub:512,np:1,fa:on,t:1,kv:f16/f16";
    const std::string fast = "|tune=c:8192,b:2048,ub:512,np:1,fa:off,t:1,kv:f16/f16";
    const std::string oom = "|tune=c:8192,b:2048,ub:512,np:1,fa:on,t:2,kv:f16/f16";
    metrics::TuneConstraints none;
    for (int k = 0; k < 3; ++k) add_trial(st, base, dflt, k, 1.0 + 0.01 * k, 100, true, none);
    for (int k = 0; k < 3; ++k) add_trial(st, base, slow, k, 0.5, 40, false, none);
    for (int k = 0; k < 3; ++k) add_trial(st, base, fast, k, 0.7, 90, false, none);
    add_trial(st, base, oom, 0, 0.1, 500, false, none, 3, /*ok=*/false);
    // A cell of another workload and a plain sweep cell are no trials of this one.
    CellRecord plain = base;
    st.commit_cell(plain);

    const sweep::TuneKey key{h.fingerprint, m.hash, s.canonical, "tg64", base.workload_fp};
    sweep::StoredTune t = sweep::stored_tune(st, key);
    ASSERT_EQ(t.settings.size(), 4u);
    EXPECT_TRUE(t.settings[0].is_default);
    EXPECT_EQ(t.settings[0].next_repeat, 3);
    EXPECT_TRUE(t.settings[3].runs.failed);
    EXPECT_EQ(t.settings[size_t(sweep::best_stored(t))].suffix, slow);

    // A later tune asked for >= 60 tokens/s: the fast setting, not the frugal slow one.
    metrics::TuneConstraints fast_enough;
    fast_enough.min_tok_s = 60;
    add_trial(st, base, fast, 3, 0.7, 90, false, fast_enough);
    t = sweep::stored_tune(st, key);
    ASSERT_TRUE(t.constraints.min_tok_s.has_value());
    EXPECT_DOUBLE_EQ(*t.constraints.min_tok_s, 60.0);
    EXPECT_EQ(t.settings[size_t(sweep::best_stored(t))].suffix, fast);

    // Nothing stored for another scheme.
    const sweep::TuneKey other{h.fingerprint, m.hash, "q8_0", "tg64", base.workload_fp};
    EXPECT_EQ(sweep::best_stored(sweep::stored_tune(st, other)), -1);
}
