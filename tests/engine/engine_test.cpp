#include "engine/llama_engine.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "joulebench/error.hpp"

namespace {

jb::EngineParams small_params() {
    jb::EngineParams p;
    p.model_path = JB_TEST_MODEL;
    p.n_ctx = 2048;
    p.n_batch = 512;
    p.n_threads = 2;
    p.n_seq_max = 16;
    return p;
}

jb::LlamaEngine & engine() {
    static jb::LlamaEngine e(small_params());
    return e;
}

struct PhaseLog : jb::PhaseObserver {
    std::vector<jb::Phase> seen;
    void on_phase(jb::Phase p) override { seen.push_back(p); }
};

}  // namespace

TEST(LlamaEngine, loads_model_info) {
    const auto & info = engine().info();
    EXPECT_EQ(info.arch, "llama");
    EXPECT_EQ(info.n_layer, 5);
    EXPECT_EQ(info.n_embd, 64);
    EXPECT_EQ(info.n_vocab, 512);
    EXPECT_EQ(info.n_params, 292800u);
    EXPECT_FALSE(info.synthetic);
}

TEST(LlamaEngine, shared_prefix_matches_each_pair_alone) {
    const std::string ctx = "Once upon a time, there was a little girl named Lily. She loved to";
    std::vector<jb::LoglikRequest> reqs = {
        {ctx, " play"},
        {ctx, " play outside with her friends."},
        {ctx, " eat"},
        {ctx, " go to the park and see the big tree."},
        {"The cat sat on the", " mat."},
    };
    auto together = engine().loglikelihood(reqs);
    ASSERT_EQ(together.size(), reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) {
        auto alone = engine().loglikelihood(std::span(&reqs[i], 1));
        EXPECT_NEAR(together[i].logprob, alone[0].logprob, 1e-3) << "request " << i;
        EXPECT_EQ(together[i].n_tokens, alone[0].n_tokens);
        EXPECT_LT(together[i].logprob, 0.0);
        double sum = 0;
        for (float lp : together[i].token_logprobs) sum += lp;
        EXPECT_NEAR(sum, together[i].logprob, 1e-3);
    }
    // " play" is a prefix of the second continuation: its first token's log-prob is shared.
    EXPECT_NEAR(together[0].token_logprobs[0], together[1].token_logprobs[0], 1e-4);
}

TEST(LlamaEngine, continuation_tokens_follow_the_context_tokens) {
    // lm-eval: the continuation is tok(context + continuation) past len(tok(context)).
    const std::string ctx = "Lily went to the park.";
    auto whole = engine().tokenize(ctx + " She was happy.", true);
    auto head = engine().tokenize(ctx, true);
    jb::LoglikRequest req{ctx, " She was happy."};
    auto res = engine().loglikelihood(std::span(&req, 1));
    ASSERT_EQ(res[0].n_tokens, int(whole.size() - head.size()));
    EXPECT_EQ(res[0].tokens, std::vector<int32_t>(whole.begin() + long(head.size()), whole.end()));
}

TEST(LlamaEngine, trailing_context_space_moves_to_continuation) {
    jb::LoglikRequest a{"Lily saw a ", "dog."};
    jb::LoglikRequest b{"Lily saw a", " dog."};
    auto ra = engine().loglikelihood(std::span(&a, 1));
    auto rb = engine().loglikelihood(std::span(&b, 1));
    EXPECT_NEAR(ra[0].logprob, rb[0].logprob, 1e-5);
}

TEST(LlamaEngine, greedy_generation_is_greedy_under_loglikelihood) {
    jb::GenRequest g{"Once upon a time", {}, 12};
    auto gen = engine().generate(std::span(&g, 1));
    ASSERT_FALSE(gen[0].text.empty());
    EXPECT_EQ(gen[0].n_tokens, 12);
    jb::LoglikRequest req{"Once upon a time", gen[0].text};
    auto res = engine().loglikelihood(std::span(&req, 1));
    EXPECT_TRUE(res[0].is_greedy) << "generated: '" << gen[0].text << "'";
    jb::LoglikRequest other{"Once upon a time", " zebra quantum"};
    EXPECT_FALSE(engine().loglikelihood(std::span(&other, 1))[0].is_greedy);
}

TEST(LlamaEngine, parallel_generation_equals_sequential) {
    std::vector<jb::GenRequest> reqs = {
        {"Once upon a time", {}, 10}, {"The dog", {}, 6}, {"Lily and Tom", {}, 8}};
    auto together = engine().generate(reqs);
    for (size_t i = 0; i < reqs.size(); ++i) {
        auto alone = engine().generate(std::span(&reqs[i], 1));
        EXPECT_EQ(together[i].text, alone[0].text) << "prompt " << i;
        EXPECT_EQ(together[i].n_tokens, reqs[i].max_tokens);
    }
}

TEST(LlamaEngine, generation_stops_before_stop_string) {
    jb::GenRequest free_run{"Once upon a time", {}, 30};
    auto text = engine().generate(std::span(&free_run, 1))[0].text;
    ASSERT_GE(text.size(), 8u);
    // Stop at the second word of what the model writes anyway.
    auto space = text.find(' ', 1);
    ASSERT_NE(space, std::string::npos);
    std::string stop = text.substr(space, 3);
    jb::GenRequest stopped{"Once upon a time", {stop}, 30};
    auto res = engine().generate(std::span(&stopped, 1))[0];
    EXPECT_EQ(res.text, text.substr(0, text.find(stop)));
    EXPECT_LT(res.n_tokens, 30);
}

TEST(LlamaEngine, reports_phases_and_counters) {
    PhaseLog log;
    engine().set_phase_observer(&log);
    engine().reset_counters();
    jb::GenRequest g{"Once upon a time", {}, 5};
    engine().generate(std::span(&g, 1));
    engine().set_phase_observer(nullptr);
    ASSERT_EQ(log.seen.size(), 3u);
    EXPECT_EQ(log.seen[0], jb::Phase::prefill);
    EXPECT_EQ(log.seen[1], jb::Phase::decode);
    EXPECT_EQ(log.seen[2], jb::Phase::idle);
    auto c = engine().counters();
    EXPECT_EQ(c.decode_tokens, 5);
    EXPECT_EQ(c.prefill_tokens, int64_t(engine().tokenize("Once upon a time", true).size()));
    EXPECT_GE(c.first_token_s, 0.0);
}

TEST(LlamaEngine, bench_workloads_count_tokens) {
    engine().reset_counters();
    auto pp = engine().bench_prefill(128, 2);
    EXPECT_EQ(pp.prefill_tokens, 256);
    auto tg = engine().bench_decode(16, 4);
    EXPECT_EQ(tg.decode_tokens, 64);
    EXPECT_GT(tg.decode_s, 0.0);
    EXPECT_THROW(engine().bench_prefill(4096, 1), jb::UsageError);
}

TEST(LlamaEngine, missing_model_is_a_clear_error) {
    auto p = small_params();
    p.model_path = "/nonexistent/model.gguf";
    try {
        jb::LlamaEngine e(p);
        FAIL() << "expected an error";
    } catch (const jb::InputError & e) {
        EXPECT_STREQ(e.what(), "/nonexistent/model.gguf: model file not found");
    }
}

TEST(LlamaEngine, non_gguf_file_is_a_clear_error) {
    auto path = std::filesystem::temp_directory_path() / "jb_not_a_model.gguf";
    std::ofstream(path) << "this is not a gguf file\n";
    auto p = small_params();
    p.model_path = path.string();
    EXPECT_THROW({ jb::LlamaEngine e(p); }, jb::InputError);
    EXPECT_THROW(jb::gguf_is_synthetic(path.string()), jb::InputError);
    std::filesystem::remove(path);
}

TEST(LlamaEngine, quantized_v_cache_without_flash_attention_is_refused) {
    auto p = small_params();
    p.type_k = p.type_v = "q8_0";
    p.flash_attn = jb::FlashAttn::off;
    EXPECT_THROW({ jb::LlamaEngine e(p); }, jb::UsageError);
    p.type_v = "nonsense";
    EXPECT_THROW({ jb::LlamaEngine e(p); }, jb::UsageError);
}

TEST(LlamaEngine, token_distributions_agree_with_loglikelihood) {
    const std::string text = "Once upon a time, there was a little girl named Lily. She loved to play outside.";
    auto tokens = engine().tokenize(text, true);
    auto d = engine().token_distributions(tokens, 64);
    ASSERT_EQ(d.n_rows, int(tokens.size()) - 1);
    ASSERT_EQ(d.n_vocab, 512);
    // Each row is a log-distribution: probabilities sum to 1.
    double p = 0;
    for (int v = 0; v < d.n_vocab; ++v) p += std::exp(double(d.row(3)[v]));
    EXPECT_NEAR(p, 1.0, 1e-4);
    // Row i scores token i+1, exactly what loglikelihood() gives for the same split.
    const auto head = engine().tokenize("Once upon a time,", true);
    jb::LoglikRequest req{"Once upon a time,", text.substr(std::string("Once upon a time,").size())};
    auto ll = engine().loglikelihood(std::span(&req, 1))[0];
    ASSERT_EQ(size_t(ll.n_tokens), tokens.size() - head.size());
    double sum = 0;
    for (size_t i = head.size(); i < tokens.size(); ++i) sum += d.row(int(i) - 1)[tokens[i]];
    EXPECT_NEAR(sum, ll.logprob, 1e-3);
    EXPECT_THROW(engine().token_distributions(tokens, 1), jb::UsageError);
}

TEST(LlamaEngine, reconfigure_swaps_the_context_and_keeps_the_model) {
    jb::LlamaEngine e(small_params());
    const std::vector<jb::LoglikRequest> req = {{"Once upon a time", " there was"}};
    const double before = e.loglikelihood(req)[0].logprob;
    PhaseLog log;
    e.set_phase_observer(&log);
    auto p = small_params();
    p.n_ctx = 256;
    p.n_batch = 64;
    p.n_ubatch = 32;
    p.n_seq_max = 1;
    p.n_threads = 1;
    e.reconfigure(p);
    EXPECT_EQ(e.params().n_ctx, 256);
    EXPECT_EQ(e.params().n_ubatch, 32);
    EXPECT_EQ(log.seen.front(), jb::Phase::load);  // the new context is setup, not workload
    EXPECT_NEAR(e.loglikelihood(req)[0].logprob, before, 1e-3);
    EXPECT_THROW(e.bench_prefill(512, 1), jb::UsageError);  // the smaller context is in force
    // Another file or placement needs a new engine.
    auto other = p;
    other.n_gpu_layers = 0;
    EXPECT_THROW(e.reconfigure(other), jb::UsageError);
    e.set_phase_observer(nullptr);
}
