// The space of a served load: llama-server's settings around serve's defaults, the overrides
// (cps only this way, c refused), which points the server can run, and a setting's identity.

#include "tune/serve_space.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "joulebench/error.hpp"
#include "serve/tuned.hpp"

using namespace jb;
using namespace jb::tune;

namespace {

ServeSpaceInput input(int clients) {
    ServeSpaceInput in;
    in.defaults.parallel = clients;
    in.defaults.batch_size = 2048;
    in.defaults.ubatch_size = 512;
    in.defaults.flash_attn = "auto";
    in.defaults.cache_type_k = in.defaults.cache_type_v = "f16";
    in.on_gpu = true;
    return in;
}

const Axis * axis(const Space & s, const std::string & name) {
    for (const auto & a : s.axes) {
        if (a.name == name) return &a;
    }
    return nullptr;
}

}  // namespace

TEST(TuneServeSpace, slots_around_the_clients_then_micro_batch_batch_and_kernels) {
    const Space s = build_serve_space(input(32));
    std::vector<std::string> names;
    for (const auto & a : s.axes) names.push_back(a.name);
    EXPECT_EQ(names, (std::vector<std::string>{"np", "ub", "b", "fa"}));  // no threads on a GPU, no kv unless asked
    EXPECT_EQ(axis(s, "np")->values, (std::vector<std::string>{"8", "16", "32", "64"}));
    EXPECT_EQ(axis(s, "ub")->values, (std::vector<std::string>{"128", "256", "512", "1024", "2048"}));
    EXPECT_EQ(axis(s, "b")->values, (std::vector<std::string>{"512", "1024", "2048", "4096"}));
    // The search starts at the defaults.
    const ServeServerOptions d = apply_serve_point(s, s.start, input(32).defaults);
    EXPECT_EQ(serve::settings_suffix(d), "np=32,b=2048,ub=512,fa=auto,t=0,kv=f16/f16,cps=auto");
    EXPECT_EQ(d.ctx_size, 0);  // serve sizes the context
    // One client: no slot count below one, and no duplicates.
    EXPECT_EQ(axis(build_serve_space(input(1)), "np")->values, (std::vector<std::string>{"1", "2"}));
}

TEST(TuneServeSpace, threads_on_a_cpu_kv_when_asked_and_flash_attention_fixed_by_a_quantized_v_cache) {
    ServeSpaceInput in = input(4);
    in.on_gpu = false;
    in.hardware_threads = 8;
    in.search_kv = true;
    Space s = build_serve_space(in);
    EXPECT_EQ(axis(s, "t")->values, (std::vector<std::string>{"0", "1", "2", "4"}));
    EXPECT_EQ(axis(s, "kv")->values, (std::vector<std::string>{"f16/f16", "q8_0/q8_0"}));
    in.flash_attn_fixed = true;
    in.defaults.flash_attn = "on";
    EXPECT_EQ(axis(build_serve_space(in), "fa"), nullptr);

    // What llama-server cannot run: a micro-batch above the batch, a quantized V cache without
    // flash attention.
    ServeServerOptions o = input(4).defaults;
    EXPECT_TRUE(serve_runnable(o));
    o.ubatch_size = 4096;
    EXPECT_FALSE(serve_runnable(o));
    o = input(4).defaults;
    o.cache_type_v = "q8_0";
    o.flash_attn = "off";
    EXPECT_FALSE(serve_runnable(o));
    o.flash_attn = "auto";
    EXPECT_TRUE(serve_runnable(o));
}

TEST(TuneServeSpace, overrides_replace_an_axis_add_context_per_slot_and_refuse_c) {
    ServeSpaceInput in = input(8);
    in.overrides = {parse_tune_axis("np=4,8"), parse_tune_axis("cps=1024,4096")};
    const Space s = build_serve_space(in);
    EXPECT_EQ(axis(s, "np")->values, (std::vector<std::string>{"4", "8"}));
    EXPECT_EQ(axis(s, "cps")->values, (std::vector<std::string>{"auto", "1024", "4096"}));  // the default first
    // cps 4096 at 4 slots: a 16384-cell context, named per slot.
    Point p = s.start;
    p[0] = 0;  // np 4
    p[size_t(std::find_if(s.axes.begin(), s.axes.end(), [](const Axis & a) { return a.name == "cps"; }) -
             s.axes.begin())] = 2;
    const ServeServerOptions o = apply_serve_point(s, p, in.defaults);
    EXPECT_EQ(o.parallel, 4);
    EXPECT_EQ(o.ctx_size, 16384);
    EXPECT_EQ(serve::settings_suffix(o), "np=4,b=2048,ub=512,fa=auto,t=0,kv=f16/f16,cps=4096");
    EXPECT_EQ(serve_settings_label(o), "np 4, b 2048, ub 512, fa auto, server's threads, KV f16/f16, ctx/slot 4096");

    ServeSpaceInput bad = input(8);
    bad.overrides = {parse_tune_axis("c=4096")};
    try {
        build_serve_space(bad);
        FAIL() << "c accepted for a served load";
    } catch (const UsageError & e) {
        EXPECT_NE(std::string(e.what()).find("cps"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_tune_axis("cps=8"), UsageError);  // fewer than 16 cells
    EXPECT_NO_THROW(parse_tune_axis("cps=auto,2048"));
}

TEST(TuneServeSpace, a_trial_fingerprint_round_trips_and_other_fingerprints_are_no_trial) {
    const std::string load = "serve-v1:abc";
    const std::string fp = load + serve::trial_suffix(3, "np=4,b=2048,ub=512,fa=auto,t=0,kv=f16/f16,cps=auto");
    EXPECT_EQ(fp, "serve-v1:abc|tune=r3|np=4,b=2048,ub=512,fa=auto,t=0,kv=f16/f16,cps=auto");
    const auto t = serve::trial_name(fp, load);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->repeat, 3);
    EXPECT_EQ(t->settings, "np=4,b=2048,ub=512,fa=auto,t=0,kv=f16/f16,cps=auto");
    EXPECT_FALSE(serve::trial_name(fp, "serve-v1:abd"));       // another load
    EXPECT_FALSE(serve::trial_name(load, load));                // the load itself, no trial
    EXPECT_FALSE(serve::trial_name(load + "|tune=rx|np=4", load));  // no repeat number
    EXPECT_FALSE(serve::trial_name(load + "|tune=r1", load));       // no settings
}
