#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "quant/hash.hpp"
#include "quant_test_util.hpp"
#include "joulebench/error.hpp"

using namespace jb;

// Reference values from `xxhsum -H1` (Debian's xxhash 0.8.1).
TEST(Xxh64, matches_reference_vectors) {
    EXPECT_EQ(xxh64(std::string()), 0xef46db3751d8e999ULL);
    EXPECT_EQ(xxh64(std::string("abc")), 0x44bc2cf5ad770999ULL);
    std::string letters;
    for (int i = 0; i < 100; ++i) {
        letters += (char) ('A' + i % 26);
    }
    EXPECT_EQ(xxh64(letters), 0x90ea05b4db400364ULL);
    EXPECT_EQ(hex64(0x90ea05b4db400364ULL), "90ea05b4db400364");
}

TEST(Xxh64, streaming_equals_one_shot_at_every_split) {
    std::string data;
    for (int i = 0; i < 200; ++i) {
        data += (char) (i * 37 + 11);
    }
    const uint64_t want = xxh64(data);
    for (size_t a = 0; a <= data.size(); a += 7) {
        for (size_t b = a; b <= data.size(); b += 13) {
            Xxh64 h;
            h.update(data.data(), a);
            h.update(data.data() + a, b - a);
            h.update(data.data() + b, data.size() - b);
            ASSERT_EQ(h.digest(), want) << "split at " << a << ", " << b;
        }
    }
}

TEST(Xxh64, file_hash_is_the_content_hash) {
    jb::test::TempDir dir;
    std::string content(5 << 20, '\0');  // spans several read buffers
    for (size_t i = 0; i < content.size(); ++i) {
        content[i] = (char) (i * 2654435761u >> 13);
    }
    dir.write("a.bin", content);
    EXPECT_EQ(xxh64_file(dir.file("a.bin")), xxh64(content));
    EXPECT_THROW(xxh64_file(dir.file("missing.bin")), InputError);
}

TEST(Xxh64, memo_is_reused_and_invalidated_by_a_change) {
    jb::test::TempDir dir;
    const std::string f = dir.file("m.bin");
    std::ofstream(f, std::ios::binary) << "first content";
    const uint64_t h1 = xxh64_file_memo(f, dir.file("memo"));
    EXPECT_EQ(h1, xxh64(std::string("first content")));
    EXPECT_EQ(xxh64_file_memo(f, dir.file("memo")), h1);
    // A memo that disagrees with the stamp is not trusted: rewriting the file changes size and mtime.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ofstream(f, std::ios::binary | std::ios::trunc) << "second, longer content";
    EXPECT_EQ(xxh64_file_memo(f, dir.file("memo")), xxh64(std::string("second, longer content")));
}
