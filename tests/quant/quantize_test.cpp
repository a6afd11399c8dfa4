// Quantizing stories260K (all F32; dim 64, n_ff 172, 5 layers, vocab 512, untied output)
// through llama_model_quantize, and the cache around it. The expected types are what
// llama.cpp de3ff81 really does with these shapes (src/llama-quant.cpp):
//   - 1-D tensors (norms) stay F32 under every scheme;
//   - a tensor whose row length (ne[0]) is not a multiple of the type's block size falls
//     back: 256-blocks (K-quants, IQ4_XS) -> a 32-block type (q4_K -> q5_0, q5_K -> q5_1,
//     q6_K -> q8_0, iq4_xs -> iq4_nl), and if ne[0] is not a multiple of 32 either -> F16.
//     So ffn_down (ne[0] = 172) is F16 under every quantized scheme, and every 64-wide
//     tensor under a K-quant scheme gets a 32-block type;
//   - output.weight with ne[0] % 256 != 0 is Q8_0 under every K/IQ mixture;
//   - Q4_K_M / Q5_K_M give attn_v and ffn_down of "more bits" layers (here 2 and 4 of 5) Q6_K.

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "quant/cache.hpp"
#include "quant/gguf_file.hpp"
#include "quant/imatrix.hpp"
#include "quant/quantize.hpp"
#include "quant/scheme.hpp"
#include "quant/synth.hpp"
#include "quant_test_util.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

const std::string k_model = JB_TEST_MODEL;
constexpr int k_layers = 5;

enum Role { EMBD, OUTPUT, ATTN_Q, ATTN_K, ATTN_V, ATTN_O, FFN_GATE, FFN_UP, FFN_DOWN, NORM };

// Expected type of each tensor of stories260K, by role and layer.
using Rule = ggml_type (*)(Role, int layer);

std::map<std::string, ggml_type> expected_types(Rule rule) {
    std::map<std::string, ggml_type> m;
    m["token_embd.weight"] = rule(EMBD, -1);
    m["output.weight"] = rule(OUTPUT, -1);
    m["output_norm.weight"] = GGML_TYPE_F32;
    for (int i = 0; i < k_layers; ++i) {
        const std::string b = "blk." + std::to_string(i) + ".";
        m[b + "attn_norm.weight"] = GGML_TYPE_F32;
        m[b + "ffn_norm.weight"] = GGML_TYPE_F32;
        m[b + "attn_q.weight"] = rule(ATTN_Q, i);
        m[b + "attn_k.weight"] = rule(ATTN_K, i);
        m[b + "attn_v.weight"] = rule(ATTN_V, i);
        m[b + "attn_output.weight"] = rule(ATTN_O, i);
        m[b + "ffn_gate.weight"] = rule(FFN_GATE, i);
        m[b + "ffn_up.weight"] = rule(FFN_UP, i);
        m[b + "ffn_down.weight"] = rule(FFN_DOWN, i);
    }
    return m;
}

// Compares tensor by tensor, so a failure lists exactly the tensors whose type differs.
::testing::AssertionResult types_match(const std::map<std::string, ggml_type> & actual,
                                       const std::map<std::string, ggml_type> & expected) {
    std::string diff;
    for (const auto & [name, want] : expected) {
        auto it = actual.find(name);
        if (it == actual.end()) {
            diff += "\n  " + name + ": missing, expected " + type_name(want);
        } else if (it->second != want) {
            diff += "\n  " + name + ": " + type_name(it->second) + ", expected " + type_name(want);
        }
    }
    for (const auto & [name, got] : actual) {
        if (!expected.count(name)) {
            diff += "\n  " + name + ": unexpected tensor (" + type_name(got) + ")";
        }
    }
    if (diff.empty()) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "tensor types differ:" << diff;
}

bool more_bits_layer(int i) {  // llama.cpp's use_more_bits(i, 5)
    return i < 5 / 8 || i >= 7 * 5 / 8 || (i - 5 / 8) % 3 == 2;
}

class QuantizeStories : public ::testing::Test {
protected:
    static void SetUpTestSuite() { jbtest::quiet_llama_log(); }

    SchemeResult run(const std::string & scheme, QuantizeOptions o = {}) {
        o.cache_dir = cache_.path().string();
        o.n_threads = 2;
        return quantize_cached(k_model, parse_scheme(scheme), o);
    }

    jb::test::TempDir cache_;
};

}  // namespace

TEST_F(QuantizeStories, fp16_converts_every_matrix_to_f16_and_keeps_norms_f32) {
    const SchemeResult r = run("fp16");
    EXPECT_TRUE(types_match(r.tensor_types, expected_types([](Role, int) { return GGML_TYPE_F16; })));
    EXPECT_TRUE(r.fallbacks.empty());  // F16 has no blocks: ffn_down's 172 columns are fine
    EXPECT_FALSE(r.cache_hit);
    // bpw: (matrix weights * 16 + 704 norm weights * 32) / all weights
    const GgufSummary g = inspect_gguf(r.path);
    EXPECT_EQ(g.n_elements, 292800);
    EXPECT_NEAR(r.bpw, (292096.0 * 16 + 704.0 * 32) / 292800.0, 1e-9);
    EXPECT_EQ(r.file_bytes, fs::file_size(r.path));
    EXPECT_EQ(g.file_type, LLAMA_FTYPE_MOSTLY_F16);
    EXPECT_EQ(r.scheme, "ftype=F16;kv=f16/f16");
}

TEST_F(QuantizeStories, bf16_converts_every_matrix_to_bf16) {
    const SchemeResult r = run("bf16");
    EXPECT_TRUE(types_match(r.tensor_types, expected_types([](Role, int) { return GGML_TYPE_BF16; })));
}

TEST_F(QuantizeStories, int8_is_q8_0_except_ffn_down_which_falls_back_to_f16) {
    const SchemeResult r = run("int8");
    EXPECT_TRUE(types_match(r.tensor_types, expected_types([](Role role, int) {
                  return role == FFN_DOWN ? GGML_TYPE_F16 : GGML_TYPE_Q8_0;
              })));
    ASSERT_EQ(r.fallbacks.size(), 5u);
    for (const auto & f : r.fallbacks) {
        EXPECT_THAT(f.tensor, HasSubstr("ffn_down"));
        EXPECT_EQ(f.wanted, GGML_TYPE_Q8_0);
        EXPECT_EQ(f.used, GGML_TYPE_F16);
    }
    EXPECT_EQ(r.type_counts().at("q8_0"), 32);
    EXPECT_EQ(r.type_counts().at("f16"), 5);
    EXPECT_EQ(r.type_counts().at("f32"), 11);
    EXPECT_LT(r.bpw, run("fp16").bpw);
}

TEST_F(QuantizeStories, q6_k_falls_back_to_q8_0_on_64_wide_rows) {
    const SchemeResult r = run("q6_k");
    EXPECT_TRUE(types_match(r.tensor_types, expected_types([](Role role, int) {
                  return role == FFN_DOWN ? GGML_TYPE_F16 : GGML_TYPE_Q8_0;
              })));
}

TEST_F(QuantizeStories, q5_k_m_mixture_with_fallbacks) {
    const SchemeResult r = run("q5_k_m");
    EXPECT_TRUE(types_match(r.tensor_types, expected_types([](Role role, int i) {
                  switch (role) {
                      case OUTPUT:   return GGML_TYPE_Q8_0;
                      case FFN_DOWN: return GGML_TYPE_F16;
                      case ATTN_V:   return more_bits_layer(i) ? GGML_TYPE_Q8_0 : GGML_TYPE_Q5_1;  // q6_K / q5_K fell back
                      default:       return GGML_TYPE_Q5_1;                                        // q5_K fell back
                  }
              })));
}

TEST_F(QuantizeStories, q4_k_m_mixture_with_fallbacks) {
    const SchemeResult r = run("q4_k_m");
    EXPECT_TRUE(types_match(r.tensor_types, expected_types([](Role role, int i) {
                  switch (role) {
                      case OUTPUT:   return GGML_TYPE_Q8_0;
                      case FFN_DOWN: return GGML_TYPE_F16;
                      case ATTN_V:   return more_bits_layer(i) ? GGML_TYPE_Q8_0 : GGML_TYPE_Q5_0;
                      default:       return GGML_TYPE_Q5_0;
                  }
              })));
    // attn_v of layers 2 and 4 asked for q6_K; the others q4_K
    int n_q6 = 0;
    for (const auto & f : r.fallbacks) {
        n_q6 += f.wanted == GGML_TYPE_Q6_K;
    }
    EXPECT_EQ(n_q6, 4);  // attn_v and ffn_down of layers 2 and 4
}

TEST_F(QuantizeStories, iq4_xs_needs_no_imatrix_and_falls_back_to_iq4_nl) {
    const SchemeResult r = run("iq4_xs");
    EXPECT_TRUE(types_match(r.tensor_types, expected_types([](Role role, int) {
                  switch (role) {
                      case OUTPUT:   return GGML_TYPE_Q8_0;
                      case FFN_DOWN: return GGML_TYPE_F16;
                      default:       return GGML_TYPE_IQ4_NL;
                  }
              })));
}

TEST_F(QuantizeStories, iq3_xxs_needs_no_imatrix_here_because_every_tensor_falls_back) {
    // llama.cpp checks the imatrix requirement on the type after the shape fallback:
    // 64-wide rows cannot hold IQ3_XXS's 256-blocks, so they become iq4_nl, which needs none.
    const SchemeResult r = run("iq3_xxs");
    EXPECT_EQ(r.type_counts().at("iq4_nl"), 31);
    EXPECT_EQ(r.tensor_types.at("output.weight"), GGML_TYPE_Q8_0);
    EXPECT_EQ(r.tensor_types.at("blk.0.ffn_down.weight"), GGML_TYPE_F16);
    EXPECT_EQ(r.type_counts().count("iq3_xxs"), 0u);
}

TEST_F(QuantizeStories, kv8_shares_the_weights_file_of_its_base_scheme) {
    const SchemeResult base = run("int8");
    const SchemeResult kv8 = run("int8+kv8");
    EXPECT_FALSE(base.cache_hit);
    EXPECT_TRUE(kv8.cache_hit);
    EXPECT_EQ(kv8.path, base.path);
    EXPECT_EQ(kv8.tensor_types, base.tensor_types);
    EXPECT_EQ(kv8.scheme, "ftype=Q8_0;kv=q8_0/q8_0");
    EXPECT_EQ(kv8.scheme_name, "int8+kv8");
    EXPECT_TRUE(parse_scheme("int8+kv8").flash_attn_required());
}

TEST_F(QuantizeStories, second_request_is_a_cache_hit_without_rewriting) {
    const SchemeResult first = run("q4_k_m");
    ASSERT_FALSE(first.cache_hit);
    struct stat st1 {};
    ASSERT_EQ(::stat(first.path.c_str(), &st1), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));

    const SchemeResult second = run("q4_k_m");
    EXPECT_TRUE(second.cache_hit);
    EXPECT_EQ(second.quantize_s, 0.0);
    EXPECT_EQ(second.path, first.path);
    EXPECT_EQ(second.tensor_types, first.tensor_types);
    EXPECT_EQ(second.bpw, first.bpw);
    EXPECT_EQ(second.fallbacks.size(), first.fallbacks.size());  // kept in the sidecar
    struct stat st2 {};
    ASSERT_EQ(::stat(second.path.c_str(), &st2), 0);
    EXPECT_EQ(st2.st_ino, st1.st_ino);
    EXPECT_EQ(st2.st_mtim.tv_sec, st1.st_mtim.tv_sec);
    EXPECT_EQ(st2.st_mtim.tv_nsec, st1.st_mtim.tv_nsec);

    // --force quantizes again
    QuantizeOptions o;
    o.force = true;
    const SchemeResult forced = run("q4_k_m", o);
    EXPECT_FALSE(forced.cache_hit);
    EXPECT_EQ(forced.path, first.path);
    EXPECT_EQ(forced.tensor_types, first.tensor_types);
}

TEST_F(QuantizeStories, a_leftover_part_file_is_not_a_cached_file) {
    const SchemeResult first = run("int8");
    // simulate a process killed mid-write: only a .part remains
    const std::string part = first.path + ".part";
    fs::rename(first.path, part);
    fs::resize_file(part, fs::file_size(part) / 2);
    fs::remove(first.path + ".json");

    const SchemeResult again = run("int8");
    EXPECT_FALSE(again.cache_hit);
    EXPECT_EQ(again.path, first.path);
    EXPECT_FALSE(fs::exists(part));
    EXPECT_EQ(again.tensor_types, first.tensor_types);
    EXPECT_EQ(inspect_gguf(again.path).file_bytes, first.file_bytes);
}

TEST_F(QuantizeStories, stale_parts_are_removed_but_not_those_being_written) {
    QuantCache cache(cache_.path().string());
    const CacheEntry stale = cache.entry("stale", "key-a");
    const CacheEntry live = cache.entry("live", "key-b");
    std::ofstream(stale.part_path) << "half";
    std::ofstream(live.part_path) << "half";
    CacheLock held = cache.lock(live);  // another writer is busy with `live`
    EXPECT_EQ(cache.remove_stale_parts(), 1);
    EXPECT_FALSE(fs::exists(stale.part_path));
    EXPECT_TRUE(fs::exists(live.part_path));
    held.release();
    EXPECT_EQ(cache.remove_stale_parts(), 1);
    EXPECT_FALSE(fs::exists(live.part_path));
}

TEST_F(QuantizeStories, a_truncated_cached_file_is_quantized_again) {
    const SchemeResult first = run("int8");
    fs::resize_file(first.path, 1000);
    const SchemeResult again = run("int8");
    EXPECT_FALSE(again.cache_hit);
    EXPECT_EQ(again.file_bytes, first.file_bytes);
}

TEST_F(QuantizeStories, one_process_waits_while_another_holds_the_lock) {
    const Scheme s = parse_scheme("q5_0");
    // find the entry by quantizing once, then remove the file
    const SchemeResult first = run("q5_0");
    fs::remove(first.path);

    QuantCache cache(cache_.path().string());
    CacheEntry e;
    e.lock_path = first.path.substr(0, first.path.size() - 5) + ".lock";
    CacheLock held = cache.lock(e);

    std::atomic<bool> done{false};
    SchemeResult waited;
    std::thread t([&] {
        QuantizeOptions o;
        o.cache_dir = cache_.path().string();
        waited = quantize_cached(k_model, s, o);
        done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(done.load());
    EXPECT_FALSE(fs::exists(first.path));
    held.release();
    t.join();
    EXPECT_TRUE(done.load());
    EXPECT_FALSE(waited.cache_hit);
    EXPECT_TRUE(fs::exists(first.path));
}

TEST_F(QuantizeStories, concurrent_requests_quantize_once) {
    SchemeResult a, b;
    std::thread ta([&] { a = run("q4_1"); });
    std::thread tb([&] { b = run("q4_1"); });
    ta.join();
    tb.join();
    EXPECT_EQ(a.path, b.path);
    EXPECT_NE(a.cache_hit, b.cache_hit);  // exactly one of them quantized
    EXPECT_EQ(a.tensor_types, b.tensor_types);
}

TEST_F(QuantizeStories, custom_json_overrides_are_applied_first_match_wins) {
    const std::string path = cache_.file("custom.json");
    std::ofstream(path) << R"({
        "name": "q4-mixed",
        "default_type": "q4_k_m",
        "overrides": [
            {"pattern": "^output\\.weight$", "type": "q4_0"},
            {"pattern": "attn_q", "type": "q8_0"},
            {"pattern": "blk\\.[01]\\.attn_output", "type": "f16"},
            {"pattern": "attn_output", "type": "q4_1"},
            {"pattern": "ffn_gate", "type": "q6_k"}
        ],
        "kv": "q8_0"
    })";
    const SchemeResult r = run(path);
    EXPECT_TRUE(types_match(r.tensor_types, expected_types([](Role role, int i) {
                  switch (role) {
                      case OUTPUT:   return GGML_TYPE_Q4_0;
                      case ATTN_Q:   return GGML_TYPE_Q8_0;
                      case ATTN_O:   return i <= 1 ? GGML_TYPE_F16 : GGML_TYPE_Q4_1;
                      case FFN_GATE: return GGML_TYPE_Q8_0;  // q6_K asked, 64-wide rows: falls back
                      case FFN_DOWN: return GGML_TYPE_F16;
                      case ATTN_V:   return more_bits_layer(i) ? GGML_TYPE_Q8_0 : GGML_TYPE_Q5_0;  // the mixture
                      default:       return GGML_TYPE_Q5_0;
                  }
              })));
    EXPECT_EQ(r.scheme_name, "q4-mixed");
    EXPECT_THAT(r.path, HasSubstr("q4-mixed"));
    EXPECT_NE(r.path, run("q4_k_m").path);  // different overrides, different file
}

TEST_F(QuantizeStories, dynamic_needs_its_search_result_then_applies_it_per_tensor) {
    Scheme s = parse_scheme("dynamic");
    QuantizeOptions o;
    o.cache_dir = cache_.path().string();
    try {
        quantize_cached(k_model, s, o);
        FAIL() << "no error";
    } catch (const UsageError & e) {
        EXPECT_THAT(e.what(), HasSubstr("sensitivity search"));
    }
    s.set_tensor_types({{"blk.0.attn_q.weight", GGML_TYPE_Q4_0},
                        {"blk.3.attn_q.weight", GGML_TYPE_F16},
                        {"token_embd.weight", GGML_TYPE_Q5_1}});
    const SchemeResult r = quantize_cached(k_model, s, o);
    EXPECT_EQ(r.tensor_types.at("blk.0.attn_q.weight"), GGML_TYPE_Q4_0);
    EXPECT_EQ(r.tensor_types.at("blk.3.attn_q.weight"), GGML_TYPE_F16);
    EXPECT_EQ(r.tensor_types.at("token_embd.weight"), GGML_TYPE_Q5_1);
    EXPECT_EQ(r.tensor_types.at("blk.1.attn_q.weight"), GGML_TYPE_Q8_0);  // base file type
    EXPECT_EQ(r.tensor_types.at("blk.1.ffn_down.weight"), GGML_TYPE_F16);
}

TEST_F(QuantizeStories, bad_inputs_get_clear_errors) {
    QuantizeOptions o;
    o.cache_dir = cache_.path().string();
    try {
        quantize_cached(cache_.file("nope.gguf"), parse_scheme("int8"), o);
        FAIL() << "no error";
    } catch (const InputError & e) {
        EXPECT_THAT(e.what(), HasSubstr("nope.gguf"));
    }
    cache_.write("junk.gguf", "not a model");
    EXPECT_THROW(quantize_cached(cache_.file("junk.gguf"), parse_scheme("int8"), o), InputError);

    // an already quantized source
    const SchemeResult q = run("int8");
    try {
        quantize_cached(q.path, parse_scheme("q4_k_m"), o);
        FAIL() << "no error";
    } catch (const InputError & e) {
        EXPECT_THAT(e.what(), HasSubstr("already quantized"));
    }
}

TEST_F(QuantizeStories, default_cache_dir_follows_xdg) {
    const char * old = std::getenv("XDG_CACHE_HOME");
    const std::string saved = old ? old : "";
    ::setenv("XDG_CACHE_HOME", "/tmp/xdg-test", 1);
    EXPECT_EQ(default_cache_dir(), "/tmp/xdg-test/joulebench/quant");
    ::unsetenv("XDG_CACHE_HOME");
    const char * home = std::getenv("HOME");
    if (home) {
        EXPECT_EQ(default_cache_dir(), std::string(home) + "/.cache/joulebench/quant");
    }
    if (old) {
        ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
    }
}

// A model whose rows are multiples of 256, so that very-low-bit types apply without fallback:
// a tiny llama with stories260K's own 512-token tokenizer.
class QuantizeImatrix : public ::testing::Test {
protected:
    static void SetUpTestSuite() { jbtest::quiet_llama_log(); }

    void SetUp() override {
        SynthShape s;
        s.name = "tiny-llama-256";
        s.arch = "llama";
        s.vocab_file = fs::path(k_model).filename().string();
        s.n_vocab = 512;
        s.n_embd = 256;
        s.n_layer = 2;
        s.n_head = 4;
        s.n_head_kv = 2;
        s.n_ff = 512;
        s.n_ctx_train = 256;
        SynthOptions o;
        o.vocab_dir = fs::path(k_model).parent_path().string();
        o.seed = 7;
        model_ = dir_.file("tiny256.gguf");
        write_synthetic_model(s, model_, o);
    }

    jb::test::TempDir dir_;
    std::string model_;
};

TEST_F(QuantizeImatrix, very_low_bit_types_require_an_imatrix_and_use_it) {
    QuantizeOptions o;
    o.cache_dir = dir_.path().string();
    try {
        quantize_cached(model_, parse_scheme("iq2_xxs"), o);
        FAIL() << "no error";
    } catch (const UsageError & e) {
        EXPECT_THAT(e.what(), HasSubstr("imatrix"));
        EXPECT_THAT(e.what(), HasSubstr("iq2_xxs"));
    }
    // no .part left behind by the failure
    for (const auto & de : fs::directory_iterator(dir_.path())) {
        EXPECT_THAT(de.path().string(), ::testing::Not(HasSubstr(".part")));
    }

    Imatrix im;
    im.datasets.push_back("synthetic");
    for (const auto & t : inspect_gguf(model_).tensors) {
        if (t.n_dims == 2) {
            im.entries[t.name] = std::vector<float>((size_t) t.ne[0], 1.0f);
        }
    }
    o.imatrix_path = dir_.file("ones.imatrix.gguf");
    save_imatrix_gguf(im, o.imatrix_path);
    EXPECT_EQ(load_imatrix(o.imatrix_path).entries.size(), im.entries.size());

    const SchemeResult r = quantize_cached(model_, parse_scheme("iq2_xxs"), o);
    EXPECT_EQ(r.tensor_types.at("blk.0.ffn_gate.weight"), GGML_TYPE_IQ2_XXS);
    EXPECT_EQ(r.tensor_types.at("blk.1.ffn_up.weight"), GGML_TYPE_IQ2_XXS);
    EXPECT_EQ(r.tensor_types.at("blk.0.attn_v.weight"), GGML_TYPE_Q2_K);  // the IQ2 mixture, n_gqa < 4
    EXPECT_EQ(r.tensor_types.at("token_embd.weight"), GGML_TYPE_Q2_K);
    EXPECT_EQ(r.tensor_types.at("output.weight"), GGML_TYPE_Q5_K);
    EXPECT_LT(r.bpw, 4.0);
    EXPECT_TRUE(r.fallbacks.empty());

    // the imatrix is part of the key: another imatrix, another file
    im.entries.begin()->second[0] = 2.0f;
    QuantizeOptions o2 = o;
    o2.imatrix_path = dir_.file("other.imatrix.gguf");
    save_imatrix_gguf(im, o2.imatrix_path);
    const SchemeResult r2 = quantize_cached(model_, parse_scheme("iq2_xxs"), o2);
    EXPECT_FALSE(r2.cache_hit);
    EXPECT_NE(r2.path, r.path);
    EXPECT_TRUE(is_synthetic_model(r2.path));  // the flag survives quantization
}

TEST_F(QuantizeStories, two_processes_at_once_quantize_once) {
    const std::string cmd = std::string(JB_BINARY) + " quantize -m " + k_model +
                            " --scheme q5_k_s -o json --cache-dir " + cache_.path().string() + " 2>/dev/null";
    FILE * a = ::popen(cmd.c_str(), "r");
    FILE * b = ::popen(cmd.c_str(), "r");
    ASSERT_TRUE(a && b);
    auto slurp = [](FILE * p) {
        std::string out;
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
            out.append(buf, n);
        }
        return out;
    };
    const std::string out_a = slurp(a);
    const std::string out_b = slurp(b);
    EXPECT_EQ(::pclose(a), 0);
    EXPECT_EQ(::pclose(b), 0);
    const int n_miss = (out_a.find("\"cache_hit\": false") != std::string::npos) +
                       (out_b.find("\"cache_hit\": false") != std::string::npos);
    EXPECT_EQ(n_miss, 1) << out_a << out_b;
}
