#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "quant/scheme.hpp"
#include "quant_test_util.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using ::testing::HasSubstr;

TEST(Scheme, presets_map_to_llama_file_types_and_kv_types) {
    struct Case {
        const char * name;
        llama_ftype ftype;
        ggml_type kv;
    };
    const Case cases[] = {
        {"fp16", LLAMA_FTYPE_MOSTLY_F16, GGML_TYPE_F16},       {"bf16", LLAMA_FTYPE_MOSTLY_BF16, GGML_TYPE_F16},
        {"int8", LLAMA_FTYPE_MOSTLY_Q8_0, GGML_TYPE_F16},      {"q6_k", LLAMA_FTYPE_MOSTLY_Q6_K, GGML_TYPE_F16},
        {"q5_k_m", LLAMA_FTYPE_MOSTLY_Q5_K_M, GGML_TYPE_F16},  {"q4_k_m", LLAMA_FTYPE_MOSTLY_Q4_K_M, GGML_TYPE_F16},
        {"iq4_xs", LLAMA_FTYPE_MOSTLY_IQ4_XS, GGML_TYPE_F16},  {"dynamic", LLAMA_FTYPE_MOSTLY_Q8_0, GGML_TYPE_Q8_0},
    };
    for (const auto & c : cases) {
        const Scheme s = parse_scheme(c.name);
        EXPECT_EQ(s.name, c.name);
        EXPECT_EQ(s.ftype, c.ftype) << c.name;
        EXPECT_EQ(s.kv_type_k, c.kv) << c.name;
        EXPECT_EQ(s.kv_type_v, c.kv) << c.name;
    }
    EXPECT_EQ(parse_scheme("int8").kind, SchemeKind::preset);
    EXPECT_EQ(parse_scheme("dynamic").kind, SchemeKind::dynamic);
    EXPECT_FALSE(parse_scheme("int8").flash_attn_required());
}

TEST(Scheme, any_llama_file_type_by_name_case_insensitive) {
    EXPECT_EQ(parse_scheme("q4_0").ftype, LLAMA_FTYPE_MOSTLY_Q4_0);
    EXPECT_EQ(parse_scheme("Q5_K_S").ftype, LLAMA_FTYPE_MOSTLY_Q5_K_S);
    EXPECT_EQ(parse_scheme("q3_k_m").ftype, LLAMA_FTYPE_MOSTLY_Q3_K_M);
    EXPECT_EQ(parse_scheme("Q2_K").ftype, LLAMA_FTYPE_MOSTLY_Q2_K);
    EXPECT_EQ(parse_scheme("iq3_xxs").ftype, LLAMA_FTYPE_MOSTLY_IQ3_XXS);
    EXPECT_EQ(parse_scheme("IQ2_M").ftype, LLAMA_FTYPE_MOSTLY_IQ2_M);
    EXPECT_EQ(parse_scheme("q4_k").ftype, LLAMA_FTYPE_MOSTLY_Q4_K_M);  // llama-quantize's alias
    EXPECT_EQ(parse_scheme("f16").ftype, LLAMA_FTYPE_MOSTLY_F16);
    EXPECT_EQ(parse_scheme("Q8_0").kind, SchemeKind::ftype);
    EXPECT_EQ(parse_scheme("Q8_0").name, "q8_0");
    EXPECT_EQ(parse_scheme("INT8").name, "int8");
    EXPECT_EQ(ftype_name(LLAMA_FTYPE_MOSTLY_Q4_K_M), "Q4_K_M");
    EXPECT_EQ(ftype_default_type(LLAMA_FTYPE_MOSTLY_Q4_K_M), GGML_TYPE_Q4_K);
    EXPECT_EQ(ftype_default_type(LLAMA_FTYPE_MOSTLY_IQ2_S), GGML_TYPE_IQ2_XS);
    // every name listed parses
    for (const auto & n : ftype_names()) {
        EXPECT_NO_THROW(parse_scheme(n)) << n;
    }
}

TEST(Scheme, kv8_suffix_quantizes_the_kv_cache_and_needs_flash_attention) {
    const Scheme s = parse_scheme("q4_k_m+kv8");
    EXPECT_EQ(s.name, "q4_k_m+kv8");
    EXPECT_EQ(s.ftype, LLAMA_FTYPE_MOSTLY_Q4_K_M);
    EXPECT_EQ(s.kv_type_k, GGML_TYPE_Q8_0);
    EXPECT_EQ(s.kv_type_v, GGML_TYPE_Q8_0);
    EXPECT_TRUE(s.flash_attn_required());
    EXPECT_EQ(parse_scheme("int8+KV8").kv_type_v, GGML_TYPE_Q8_0);
    EXPECT_EQ(parse_scheme("fp16+kv4").kv_type_k, GGML_TYPE_Q4_0);
    // same weights, so the same quantized file; different scheme identity
    EXPECT_EQ(parse_scheme("int8+kv8").weights_key(), parse_scheme("int8").weights_key());
    EXPECT_NE(parse_scheme("int8+kv8").canonical(), parse_scheme("int8").canonical());
    EXPECT_EQ(parse_scheme("int8+kv8").canonical(), "ftype=Q8_0;kv=q8_0/q8_0");
    EXPECT_EQ(parse_scheme("int8").canonical(), "ftype=Q8_0;kv=f16/f16");
}

TEST(Scheme, unknown_names_are_usage_errors_that_list_the_choices) {
    try {
        parse_scheme("int7");
        FAIL() << "no error";
    } catch (const UsageError & e) {
        EXPECT_THAT(e.what(), HasSubstr("unknown scheme 'int7'"));
        EXPECT_THAT(e.what(), HasSubstr("q4_k_m"));
        EXPECT_THAT(e.what(), HasSubstr("iq3_xxs"));
    }
    EXPECT_THROW(parse_scheme(""), UsageError);
    EXPECT_THROW(parse_scheme("int8+kv3"), UsageError);
    EXPECT_THROW(parse_scheme("+kv8"), UsageError);
}

TEST(Scheme, kv_pairs_without_fast_kernels_are_refused_unless_allowed) {
    EXPECT_TRUE(kv_pair_is_fast(GGML_TYPE_F16, GGML_TYPE_F16));
    EXPECT_TRUE(kv_pair_is_fast(GGML_TYPE_BF16, GGML_TYPE_BF16));
    EXPECT_TRUE(kv_pair_is_fast(GGML_TYPE_Q8_0, GGML_TYPE_Q8_0));
    EXPECT_TRUE(kv_pair_is_fast(GGML_TYPE_Q4_0, GGML_TYPE_Q4_0));
    EXPECT_FALSE(kv_pair_is_fast(GGML_TYPE_Q8_0, GGML_TYPE_F16));
    EXPECT_FALSE(kv_pair_is_fast(GGML_TYPE_Q5_1, GGML_TYPE_Q5_1));
    EXPECT_THROW(check_kv_pair(GGML_TYPE_Q8_0, GGML_TYPE_F16, false, "x"), UsageError);
    EXPECT_NO_THROW(check_kv_pair(GGML_TYPE_Q8_0, GGML_TYPE_F16, true, "x"));
    EXPECT_THROW(check_kv_pair(GGML_TYPE_Q4_K, GGML_TYPE_Q4_K, true, "x"), UsageError);  // not a KV type at all
}

namespace {

std::string error_of(const std::string & path) {
    try {
        parse_scheme(path);
    } catch (const Error & e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(Scheme, custom_json_scheme_parses_overrides_and_kv) {
    jb::test::TempDir dir;
    const std::string path = dir.write("mixed.json", R"({
        "name": "q4-ffn8",
        "default_type": "q4_k_m",
        "overrides": [{"pattern": "ffn_down", "type": "q8_0"}, {"pattern": "attn_v", "type": "Q6_K"}],
        "kv": "q8_0"
    })");
    const Scheme s = parse_scheme(path);
    EXPECT_EQ(s.kind, SchemeKind::custom);
    EXPECT_EQ(s.name, "q4-ffn8");
    EXPECT_EQ(s.source, path);
    EXPECT_EQ(s.ftype, LLAMA_FTYPE_MOSTLY_Q4_K_M);
    ASSERT_EQ(s.overrides.size(), 2u);
    EXPECT_EQ(s.overrides[0].pattern, "ffn_down");
    EXPECT_EQ(s.overrides[0].type, GGML_TYPE_Q8_0);
    EXPECT_EQ(s.overrides[1].type, GGML_TYPE_Q6_K);
    EXPECT_EQ(s.kv_type_k, GGML_TYPE_Q8_0);
    EXPECT_EQ(s.weights_key(), "ftype=Q4_K_M;tt=ffn_down=q8_0,attn_v=q6_K");
    EXPECT_EQ(s.canonical(), "ftype=Q4_K_M;tt=ffn_down=q8_0,attn_v=q6_K;kv=q8_0/q8_0");

    // different overrides, different key; name alone does not matter
    const std::string other = dir.write("other.json", R"({"name": "x", "default_type": "q4_k_m",
        "overrides": [{"pattern": "ffn_down", "type": "q6_k"}]})");
    EXPECT_NE(parse_scheme(other).weights_key(), s.weights_key());
    const std::string renamed = dir.write("renamed.json", R"({"name": "y", "default_type": "Q4_K_M",
        "overrides": [{"pattern": "ffn_down", "type": "q8_0"}, {"pattern": "attn_v", "type": "q6_k"}], "kv": "q8_0"})");
    EXPECT_EQ(parse_scheme(renamed).canonical(), s.canonical());

    // separate K and V types (slow pair: must be allowed explicitly)
    const std::string kv = dir.write("kv.json", R"({"default_type": "int8", "kv": {"k": "q8_0", "v": "f16"},
        "allow_slow_kv": true})");
    const Scheme k = parse_scheme(kv);
    EXPECT_EQ(k.name, "kv");  // file stem when "name" is absent
    EXPECT_EQ(k.ftype, LLAMA_FTYPE_MOSTLY_Q8_0);
    EXPECT_EQ(k.kv_type_k, GGML_TYPE_Q8_0);
    EXPECT_EQ(k.kv_type_v, GGML_TYPE_F16);
    EXPECT_FALSE(k.flash_attn_required());

    // a +kv8 suffix on a file
    EXPECT_EQ(parse_scheme(other + "+kv8").kv_type_v, GGML_TYPE_Q8_0);
}

TEST(Scheme, bad_json_schemes_name_the_file_and_the_field) {
    jb::test::TempDir dir;
    std::string e;

    e = error_of(dir.write("syntax.json", R"({"default_type": "q4_k_m",)"));
    EXPECT_THAT(e, HasSubstr("syntax.json"));
    EXPECT_THAT(e, HasSubstr("invalid JSON"));

    e = error_of(dir.write("nodefault.json", R"({"name": "x"})"));
    EXPECT_THAT(e, HasSubstr("nodefault.json"));
    EXPECT_THAT(e, HasSubstr("field 'default_type'"));

    e = error_of(dir.write("badftype.json", R"({"default_type": "q4_k_x"})"));
    EXPECT_THAT(e, HasSubstr("field 'default_type'"));
    EXPECT_THAT(e, HasSubstr("q4_k_x"));

    e = error_of(
        dir.write("badtype.json", R"({"default_type": "q4_k_m", "overrides": [{"pattern": "ffn", "type": "q9_0"}]})"));
    EXPECT_THAT(e, HasSubstr("badtype.json"));
    EXPECT_THAT(e, HasSubstr("field 'overrides[0].type'"));
    EXPECT_THAT(e, HasSubstr("q9_0"));

    e = error_of(dir.write("badregex.json",
                           R"({"default_type": "q4_k_m", "overrides": [{"pattern": "ffn(", "type": "q8_0"}]})"));
    EXPECT_THAT(e, HasSubstr("field 'overrides[0].pattern'"));
    EXPECT_THAT(e, HasSubstr("invalid regex"));

    e = error_of(dir.write("typo.json", R"({"default_type": "q4_k_m", "overides": []})"));
    EXPECT_THAT(e, HasSubstr("field 'overides'"));
    EXPECT_THAT(e, HasSubstr("unknown field"));

    e = error_of(dir.write("badkv.json", R"({"default_type": "q4_k_m", "kv": "q5_1"})"));
    EXPECT_THAT(e, HasSubstr("badkv.json"));
    EXPECT_THAT(e, HasSubstr("field 'kv'"));
    EXPECT_THAT(e, HasSubstr("allow_slow_kv"));

    // llama.cpp ignores --tensor-type rules when the file type is not quantized: refuse, don't mislead
    e = error_of(
        dir.write("f16over.json", R"({"default_type": "fp16", "overrides": [{"pattern": "ffn", "type": "q8_0"}]})"));
    EXPECT_THAT(e, HasSubstr("field 'default_type'"));
    EXPECT_THAT(e, HasSubstr("not a quantized file type"));

    e = error_of(dir.write("array.json", R"([1, 2])"));
    EXPECT_THAT(e, HasSubstr("expected a JSON object"));

    EXPECT_THROW(parse_scheme(dir.file("missing.json")), InputError);
    EXPECT_THROW(parse_scheme(dir.write("dyn.json", R"({"default_type": "dynamic"})")), InputError);
}

TEST(Scheme, dynamic_carries_per_tensor_types_from_the_search) {
    Scheme s = parse_scheme("dynamic");
    EXPECT_TRUE(s.needs_tensor_types());
    EXPECT_TRUE(s.flash_attn_required());  // Q8_0 KV cache
    const std::string empty_key = s.weights_key();
    s.set_tensor_types({{"blk.0.ffn_down.weight", GGML_TYPE_F16}, {"blk.1.attn_v.weight", GGML_TYPE_Q4_K}});
    EXPECT_FALSE(s.needs_tensor_types());
    EXPECT_EQ(s.weights_key(), "ftype=Q8_0;t=blk.0.ffn_down.weight=f16,blk.1.attn_v.weight=q4_K");
    EXPECT_NE(s.weights_key(), empty_key);
    const auto rules = s.quantize_rules();
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules[0].pattern, R"(^blk\.0\.ffn_down\.weight$)");
    EXPECT_EQ(rules[0].type, GGML_TYPE_F16);

    // JSON "tensor_types" fills the same hook (a saved search result)
    jb::test::TempDir dir;
    const std::string path = dir.file("dyn-result.json");
    std::ofstream(path) << R"({"name": "dynamic-kld0.01", "default_type": "q8_0",
        "tensor_types": {"blk.0.ffn_down.weight": "f16", "blk.1.attn_v.weight": "q4_K"}, "kv": "q8_0"})";
    const Scheme j = parse_scheme(path);
    EXPECT_EQ(j.weights_key(), s.weights_key());
    EXPECT_EQ(j.canonical(), s.canonical());
}
