#include <cmath>
#include <bit>
#include <limits>

#include "fixtures.hpp"
#include "joulebench/error.hpp"

using namespace jb;
using namespace jb::test;

static void expect_bitwise_equal(const std::vector<double> & a, const std::vector<double> & b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(std::bit_cast<uint64_t>(a[i]), std::bit_cast<uint64_t>(b[i])) << "sample " << i;
    }
}

static PowerTimeline round_trip(const PowerTimeline & tl) {
    const auto blob = encode_timeline_samples(tl);
    PowerTimeline out;
    out.domains = tl.domains;
    decode_timeline_samples(blob.data(), blob.size(), out, "test");
    return out;
}

TEST(StoreTimeline, round_trip_is_exact_for_realistic_samples) {
    const PowerTimeline tl = make_timeline(5000);
    const PowerTimeline out = round_trip(tl);
    expect_bitwise_equal(out.t_s, tl.t_s);
    ASSERT_EQ(out.power_w.size(), 2u);
    expect_bitwise_equal(out.power_w[0], tl.power_w[0]);
    expect_bitwise_equal(out.power_w[1], tl.power_w[1]);
}

TEST(StoreTimeline, round_trip_is_exact_for_awkward_values) {
    PowerTimeline tl;
    tl.domains = {"gpu0"};
    tl.t_s = {0.0,
              -0.0,
              1e-300,
              std::numeric_limits<double>::denorm_min(),
              3.0,
              2.0,
              1e300,
              -1e300,
              std::numeric_limits<double>::infinity(),
              -std::numeric_limits<double>::infinity(),
              0.1,
              0.30000000000000004};
    tl.power_w = {{std::nan(""), std::bit_cast<double>(uint64_t(0x7FF8DEADBEEF0001)), 700.0, 0.001, -5.0,
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(), 0.0, -0.0, 1.0, 2.0,
                   1.0}};
    const PowerTimeline out = round_trip(tl);
    expect_bitwise_equal(out.t_s, tl.t_s);
    expect_bitwise_equal(out.power_w[0], tl.power_w[0]);
}

TEST(StoreTimeline, round_trip_of_random_bit_patterns) {
    std::mt19937_64 gen(99);
    PowerTimeline tl;
    tl.domains = {"a", "b", "c"};
    tl.power_w.assign(3, {});
    for (int i = 0; i < 1000; ++i) {
        tl.t_s.push_back(std::bit_cast<double>(gen()));
        for (auto & col : tl.power_w) col.push_back(std::bit_cast<double>(gen()));
    }
    const PowerTimeline out = round_trip(tl);
    expect_bitwise_equal(out.t_s, tl.t_s);
    for (size_t d = 0; d < 3; ++d) expect_bitwise_equal(out.power_w[d], tl.power_w[d]);
}

TEST(StoreTimeline, empty_and_no_domains) {
    PowerTimeline empty;
    EXPECT_TRUE(round_trip(empty).t_s.empty());
    PowerTimeline only_times;
    only_times.t_s = {0.0, 0.02, 0.04};
    expect_bitwise_equal(round_trip(only_times).t_s, only_times.t_s);
}

TEST(StoreTimeline, compresses_realistic_samples) {
    // clock in ns, GPU in whole mW, CPU power as arbitrary doubles (incompressible mantissas)
    const PowerTimeline tl = make_timeline(20000);
    const size_t raw = tl.t_s.size() * 8 * 3;
    const size_t packed = encode_timeline_samples(tl).size();
    EXPECT_LT(packed, raw / 2) << packed << " of " << raw << " bytes";

    // counter-style columns alone (what NVML gives) shrink to about their entropy (the 4 W noise
    // and the clock jitter), a quarter of the raw doubles
    PowerTimeline gpu_only = tl;
    gpu_only.domains = {"gpu0"};
    gpu_only.power_w.resize(1);
    const size_t gpu_raw = gpu_only.t_s.size() * 8 * 2;
    const size_t gpu_packed = encode_timeline_samples(gpu_only).size();
    EXPECT_LT(gpu_packed, gpu_raw / 3) << gpu_packed << " of " << gpu_raw << " bytes";
}

TEST(StoreTimeline, shape_mismatch_is_an_error) {
    PowerTimeline tl = make_timeline(10);
    tl.power_w[0].push_back(1.0);
    EXPECT_THROW(encode_timeline_samples(tl), Error);
    tl = make_timeline(10);
    tl.domains.push_back("dram");
    EXPECT_THROW(encode_timeline_samples(tl), Error);
}

TEST(StoreTimeline, damaged_blob_is_an_error_naming_it) {
    const PowerTimeline tl = make_timeline(500);
    const auto blob = encode_timeline_samples(tl);
    auto decode = [&](std::vector<uint8_t> b, std::vector<std::string> domains) {
        PowerTimeline out;
        out.domains = std::move(domains);
        decode_timeline_samples(b.data(), b.size(), out, "runs.db: cell 7: timeline");
    };
    auto flipped = blob;
    flipped[blob.size() / 2] ^= 0x55;
    try {
        decode(flipped, tl.domains);
        FAIL();
    } catch (const Error & e) {
        EXPECT_NE(std::string(e.what()).find("runs.db: cell 7: timeline"), std::string::npos) << e.what();
    }
    EXPECT_THROW(decode(std::vector<uint8_t>(blob.begin(), blob.begin() + 11), tl.domains), Error);
    EXPECT_THROW(decode(std::vector<uint8_t>(blob.begin(), blob.end() - 10), tl.domains), Error);
    EXPECT_THROW(decode(blob, {"gpu0"}), Error);  // column count disagrees with the names
    auto bad_magic = blob;
    bad_magic[0] = 'X';
    EXPECT_THROW(decode(bad_magic, tl.domains), Error);
    auto huge = blob;
    huge[7] = 0x7F;  // n_samples far beyond the limit
    EXPECT_THROW(decode(huge, tl.domains), Error);
}

TEST(StoreTimeline, stored_and_read_back_through_the_store) {
    TempDir dir;
    Seeded s;
    Store st = Store::open(dir.file("r.db"), true);
    s.seed(st);
    PowerTimeline tl = make_timeline(3000, 5);
    tl.phases.push_back({"decode", 0.1 + 0.2, 1.0 / 3.0});  // phase times round-trip through JSON exactly
    const int64_t id = st.commit_cell(make_cell(s.host, s.model, s.fp16, "gsm8k", 0), {}, tl);
    const auto got = st.cell_timeline(id);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->domains, tl.domains);
    EXPECT_EQ(got->phases, tl.phases);
    expect_bitwise_equal(got->t_s, tl.t_s);
    expect_bitwise_equal(got->power_w[0], tl.power_w[0]);
    expect_bitwise_equal(got->power_w[1], tl.power_w[1]);
}

// Two GPUs peak at different moments: the cell's peak is that of their sum, the CPU estimate
// left out; one domain alone has no sum to take.
TEST(Timeline, peak_total_is_the_peak_of_the_summed_domains) {
    jb::PowerTimeline tl;
    tl.t_s = {0.0, 0.1, 0.2, 0.3};
    tl.domains = {"gpu:0", "gpu:1", "cpu-package:0"};
    tl.power_w = {{100.0, 400.0, 300.0, 100.0}, {NAN, 100.0, 350.0, 420.0}, {50.0, 50.0, 50.0, 50.0}};
    EXPECT_DOUBLE_EQ(jb::peak_total_w(tl, {"cpu-package:0"}), 650.0);  // 300 + 350 at 0.2 s
    EXPECT_DOUBLE_EQ(jb::peak_total_w(tl), 700.0);                    // all three
    EXPECT_TRUE(std::isnan(jb::peak_total_w(tl, {"gpu:1", "cpu-package:0"})));
}
