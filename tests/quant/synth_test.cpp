// Synthetic models: every listed shape, shrunk to 2 layers at 1/16 width, is written through
// the gguf API, loaded by llama.cpp and decodes a prompt to finite logits.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "quant/gguf_file.hpp"
#include "quant/hash.hpp"
#include "quant/quantize.hpp"
#include "quant/synth.hpp"
#include "quant_test_util.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

const std::string k_vocab_dir = std::string(JB_SOURCE_DIR) + "/third_party/llama.cpp/models";

SynthOptions tiny(uint64_t seed = 1) {
    SynthOptions o;
    o.seed = seed;
    o.n_layers = 2;
    o.scale = 1.0 / 16;
    o.vocab_dir = k_vocab_dir;
    return o;
}

}  // namespace

TEST(SynthShapes, real_hyperparameters) {
    const SynthShape & q7 = find_synth_shape("qwen2.5-7b");
    EXPECT_EQ(q7.arch, "qwen2");
    EXPECT_EQ(q7.n_embd, 3584u);
    EXPECT_EQ(q7.n_layer, 28u);
    EXPECT_EQ(q7.n_head, 28u);
    EXPECT_EQ(q7.n_head_kv, 4u);
    EXPECT_EQ(q7.head_dim(), 128u);
    EXPECT_EQ(q7.n_ff, 18944u);
    EXPECT_EQ(q7.n_vocab, 152064u);
    EXPECT_FALSE(q7.tied_embeddings);
    EXPECT_TRUE(q7.qkv_bias);
    EXPECT_NEAR(q7.n_params() / 1e9, 7.62, 0.01);  // Qwen2.5-7B: 7.61 B

    EXPECT_TRUE(find_synth_shape("qwen2.5-0.5b").tied_embeddings);
    EXPECT_TRUE(find_synth_shape("QWEN2.5-1.5B").tied_embeddings);
    EXPECT_NEAR(find_synth_shape("qwen2.5-0.5b").n_params() / 1e9, 0.494, 0.005);
    EXPECT_NEAR(find_synth_shape("qwen2.5-14b").n_params() / 1e9, 14.77, 0.02);
    EXPECT_NEAR(find_synth_shape("llama-3-8b").n_params() / 1e9, 8.03, 0.01);
    EXPECT_NEAR(find_synth_shape("mistral-7b").n_params() / 1e9, 7.24, 0.01);
    EXPECT_EQ(find_synth_shape("llama-3-8b").rope_freq_base, 500000.0f);
    EXPECT_EQ(find_synth_shape("mistral-7b").vocab_file, "ggml-vocab-llama-spm.gguf");

    try {
        find_synth_shape("gpt-5");
        FAIL() << "no error";
    } catch (const UsageError & e) {
        EXPECT_THAT(e.what(), HasSubstr("qwen2.5-7b"));
    }
}

TEST(SynthShapes, scaling_keeps_head_dim_and_gqa) {
    const SynthShape s = scale_shape(find_synth_shape("qwen2.5-7b"), 2, 1.0 / 16);
    EXPECT_EQ(s.n_layer, 2u);
    EXPECT_EQ(s.head_dim(), 128u);
    EXPECT_EQ(s.n_head_kv, 1u);
    EXPECT_EQ(s.n_head, 7u);  // GQA 7:1 kept
    EXPECT_EQ(s.n_embd, 896u);
    EXPECT_EQ(s.n_ff % 256, 0u);
    EXPECT_EQ(s.n_vocab, 152064u);  // never scaled: the tokenizer is real

    const SynthShape l = scale_shape(find_synth_shape("llama-3-8b"), 0, 0.5);
    EXPECT_EQ(l.n_layer, 32u);
    EXPECT_EQ(l.n_head_kv, 4u);
    EXPECT_EQ(l.n_head, 16u);
    EXPECT_EQ(l.n_embd, 2048u);
    EXPECT_EQ(l.n_ff, 7168u);
    EXPECT_THROW(scale_shape(l, 0, 0.0), UsageError);
    EXPECT_THROW(scale_shape(l, 0, 2.0), UsageError);
}

// One test per shape, so a failure names it.
class SynthEveryShape : public ::testing::TestWithParam<std::string> {};

TEST_P(SynthEveryShape, writes_a_model_llama_cpp_loads_and_decodes) {
    jb::test::TempDir dir;
    const std::string path = dir.file("m.gguf");
    const SynthResult r = write_synthetic_model(GetParam(), path, tiny());
    const SynthShape & base = find_synth_shape(GetParam());

    const GgufSummary g = inspect_gguf(path);
    EXPECT_EQ(g.architecture, base.arch);
    EXPECT_EQ(g.model_name, "synthetic-" + GetParam());
    EXPECT_EQ(g.n_elements, r.n_params);
    EXPECT_EQ(g.file_bytes, r.file_bytes);
    const GgufTensor * embd = g.find("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->ne[1], (int64_t) base.n_vocab);  // rows = the real tokenizer's size
    EXPECT_EQ(embd->type, GGML_TYPE_F16);
    EXPECT_EQ(g.find("output.weight") == nullptr, base.tied_embeddings);
    EXPECT_EQ(g.find("blk.0.attn_q.bias") != nullptr, base.qkv_bias);
    EXPECT_EQ(g.find("blk.0.attn_norm.weight")->type, GGML_TYPE_F32);
    EXPECT_EQ(g.find("blk.2.attn_q.weight"), nullptr);  // --layers 2

    const jbtest::DecodeCheck d = jbtest::decode_prompt(path);
    ASSERT_TRUE(d.loaded) << "llama.cpp could not load " << GetParam();
    ASSERT_TRUE(d.decoded);
    EXPECT_EQ(d.n_vocab, (int) base.n_vocab);
    EXPECT_GT(d.n_tokens, 3);  // a real tokenizer, not bytes
    EXPECT_EQ(d.n_nonfinite, 0);
    EXPECT_LT(d.min_logit, d.max_logit);  // not a constant output
    EXPECT_LT(d.max_logit, 50.0f);        // weights scaled like a trained model's
}

INSTANTIATE_TEST_SUITE_P(Shapes, SynthEveryShape,
                         ::testing::Values("qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b", "qwen2.5-14b",
                                           "qwen2.5-32b", "llama-3-8b", "mistral-7b"),
                         [](const auto & info) {
                             std::string n = info.param;
                             for (auto & c : n) {
                                 c = std::isalnum((unsigned char) c) ? c : '_';
                             }
                             return n;
                         });

TEST(Synth, every_listed_shape_is_tested) {
    EXPECT_EQ(synth_shapes().size(), 8u);  // keep INSTANTIATE_TEST_SUITE_P above in step
}

TEST(Synth, synthetic_flag_round_trips_and_real_models_are_not_flagged) {
    jb::test::TempDir dir;
    const std::string path = dir.file("m.gguf");
    SynthOptions o = tiny(42);
    o.scale = 1.0 / 32;
    write_synthetic_model("mistral-7b", path, o);
    const auto info = read_synth_info(path);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->shape, "mistral-7b");
    EXPECT_EQ(info->seed, 42u);
    EXPECT_EQ(info->n_layer, 2u);
    EXPECT_FLOAT_EQ((float) info->scale, 1.0f / 32);
    EXPECT_TRUE(is_synthetic_model(path));
    EXPECT_FALSE(is_synthetic_model(JB_TEST_MODEL));
    EXPECT_THROW(is_synthetic_model(dir.file("missing.gguf")), InputError);
}

TEST(Synth, same_seed_same_bytes_other_seed_other_weights) {
    jb::test::TempDir dir;
    SynthOptions o = tiny(5);
    o.scale = 1.0 / 32;
    write_synthetic_model("mistral-7b", dir.file("a.gguf"), o);
    write_synthetic_model("mistral-7b", dir.file("b.gguf"), o);
    o.seed = 6;
    write_synthetic_model("mistral-7b", dir.file("c.gguf"), o);
    EXPECT_EQ(xxh64_file(dir.file("a.gguf")), xxh64_file(dir.file("b.gguf")));
    EXPECT_NE(xxh64_file(dir.file("a.gguf")), xxh64_file(dir.file("c.gguf")));
    EXPECT_FALSE(fs::exists(dir.file("a.gguf.part")));
}

TEST(Synth, bf16_and_f32_weights) {
    jb::test::TempDir dir;
    SynthOptions o = tiny();
    o.scale = 1.0 / 32;
    o.type = GGML_TYPE_BF16;
    write_synthetic_model("mistral-7b", dir.file("bf16.gguf"), o);
    EXPECT_EQ(inspect_gguf(dir.file("bf16.gguf")).find("blk.1.ffn_up.weight")->type, GGML_TYPE_BF16);
    EXPECT_EQ(inspect_gguf(dir.file("bf16.gguf")).file_type, LLAMA_FTYPE_MOSTLY_BF16);
    EXPECT_TRUE(jbtest::decode_prompt(dir.file("bf16.gguf")).decoded);
    o.type = GGML_TYPE_F32;
    write_synthetic_model("mistral-7b", dir.file("f32.gguf"), o);
    EXPECT_EQ(inspect_gguf(dir.file("f32.gguf")).find("output.weight")->type, GGML_TYPE_F32);
    o.type = GGML_TYPE_Q8_0;
    EXPECT_THROW(write_synthetic_model("mistral-7b", dir.file("q8.gguf"), o), UsageError);
}

TEST(Synth, missing_vocabulary_names_the_file) {
    jb::test::TempDir dir;
    SynthOptions o = tiny();
    o.vocab_dir = dir.path().string();
    try {
        write_synthetic_model("qwen2.5-0.5b", dir.file("m.gguf"), o);
        FAIL() << "no error";
    } catch (const InputError & e) {
        EXPECT_THAT(e.what(), HasSubstr("ggml-vocab-qwen2.gguf"));
        EXPECT_THAT(e.what(), HasSubstr("--vocab-dir"));
    }
    EXPECT_FALSE(fs::exists(dir.file("m.gguf")));
}

TEST(Synth, quantized_synthetic_model_decodes_with_a_q8_0_kv_cache) {
    jb::test::TempDir dir;
    SynthOptions o = tiny();
    o.scale = 1.0 / 32;
    write_synthetic_model("mistral-7b", dir.file("m.gguf"), o);  // vocab 32000: quick to quantize
    QuantizeOptions qo;
    qo.cache_dir = dir.file("cache");
    qo.n_threads = 2;
    const SchemeResult r = quantize_cached(dir.file("m.gguf"), parse_scheme("q4_k_m+kv8"), qo);
    // n_embd 512 and n_ff 512: multiples of 256, so the K-quant mixture applies without fallback
    EXPECT_TRUE(r.fallbacks.empty());
    EXPECT_EQ(r.tensor_types.at("blk.0.ffn_gate.weight"), GGML_TYPE_Q4_K);
    EXPECT_EQ(r.tensor_types.at("blk.0.ffn_down.weight"), GGML_TYPE_Q4_K);
    EXPECT_EQ(r.tensor_types.at("blk.1.ffn_down.weight"), GGML_TYPE_Q6_K);  // use_more_bits(1, 2)
    EXPECT_EQ(r.tensor_types.at("blk.1.attn_v.weight"), GGML_TYPE_Q6_K);
    EXPECT_EQ(r.tensor_types.at("output.weight"), GGML_TYPE_Q6_K);
    EXPECT_TRUE(is_synthetic_model(r.path));
    const Scheme s = parse_scheme("q4_k_m+kv8");
    ASSERT_TRUE(s.flash_attn_required());
    const jbtest::DecodeCheck d = jbtest::decode_prompt(r.path, s.kv_type_v, /*flash_attn =*/true);
    ASSERT_TRUE(d.decoded);
    EXPECT_EQ(d.n_nonfinite, 0);
}

TEST(Synth, fp16_of_an_f16_model_is_the_model_itself_not_a_copy) {
    jb::test::TempDir dir;
    SynthOptions o = tiny();
    o.scale = 1.0 / 32;
    write_synthetic_model("mistral-7b", dir.file("m.gguf"), o);
    QuantizeOptions qo;
    qo.cache_dir = dir.file("cache");
    const SchemeResult r = quantize_cached(dir.file("m.gguf"), parse_scheme("fp16+kv8"), qo);
    EXPECT_TRUE(r.is_source);
    EXPECT_TRUE(r.cache_hit);
    EXPECT_EQ(r.path, dir.file("m.gguf"));
    EXPECT_EQ(r.tensor_types.at("blk.0.ffn_up.weight"), GGML_TYPE_F16);
    EXPECT_EQ(r.scheme, "ftype=F16;kv=q8_0/q8_0");
    // bf16 really converts
    const SchemeResult b = quantize_cached(dir.file("m.gguf"), parse_scheme("bf16"), qo);
    EXPECT_FALSE(b.is_source);
    EXPECT_NE(b.path, dir.file("m.gguf"));
    EXPECT_EQ(b.tensor_types.at("blk.0.ffn_up.weight"), GGML_TYPE_BF16);
    EXPECT_EQ(b.tensor_types.at("blk.0.attn_norm.weight"), GGML_TYPE_F32);
}

// The commands, end to end through the binary.
namespace {

// The command with its stderr merged into stdout.
std::string run_cmd(const std::string & cmd, int * status) { return jbtest::run_shell(cmd + " 2>&1", status); }

}  // namespace

TEST(SynthCli, list_help_write_and_quantize) {
    jb::test::TempDir dir;
    int st = 0;
    std::string out = run_cmd(std::string(JB_BINARY) + " synth --list", &st);
    EXPECT_EQ(st, 0) << out;
    for (const auto & s : synth_shapes()) {
        EXPECT_THAT(out, HasSubstr(s.name));
    }
    out = run_cmd(std::string(JB_BINARY) + " synth --help", &st);
    EXPECT_EQ(st, 0);
    EXPECT_THAT(out, HasSubstr("qwen2.5-14b"));

    const std::string m = dir.file("tiny.gguf");
    out = run_cmd(std::string(JB_BINARY) + " synth --arch mistral-7b " + m +
                      " --layers 2 --scale 1/32 --seed 3 --vocab-dir " + k_vocab_dir, &st);
    ASSERT_EQ(st, 0) << out;
    EXPECT_TRUE(is_synthetic_model(m));
    EXPECT_EQ(read_synth_info(m)->seed, 3u);

    const std::string q = std::string(JB_BINARY) + " quantize -m " + m + " --scheme int8 -o json --cache-dir " +
                          dir.file("cache");
    out = run_cmd(q, &st);
    ASSERT_EQ(st, 0) << out;
    EXPECT_THAT(out, HasSubstr("\"cache_hit\": false"));
    EXPECT_THAT(out, HasSubstr("\"synthetic\": true"));
    EXPECT_THAT(out, HasSubstr("\"q8_0\""));
    out = run_cmd(q, &st);
    EXPECT_THAT(out, HasSubstr("\"cache_hit\": true"));

    out = run_cmd(std::string(JB_BINARY) + " quantize -m " + m + " --scheme int9 --cache-dir " + dir.file("cache"), &st);
    EXPECT_NE(st, 0);
    EXPECT_THAT(out, HasSubstr("unknown scheme 'int9'"));
    out = run_cmd(std::string(JB_BINARY) + " synth --arch gpt-5 " + dir.file("x.gguf"), &st);
    EXPECT_NE(st, 0);
    EXPECT_THAT(out, HasSubstr("unknown architecture"));
}
