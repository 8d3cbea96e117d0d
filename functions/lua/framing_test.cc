// Tests of the child→parent framing: round trip and hostile transcripts.
#include "functions/lua/framing.h"

#include <gtest/gtest.h>

namespace cloister::functions::lua {
namespace {

TEST(FramingTest, RoundTrip) {
  Usage u{123, 456, 7.5};
  std::string wire = EncodeOutput("out", "hello") + EncodeLog("a log\n") + EncodeUsage(u) +
                     EncodeStatus(Aborted("boom", "LUA_RUNTIME_ERROR"));
  auto m = DecodeChildMessages(wire, 1 << 20);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  ASSERT_EQ(m->outputs.size(), 1u);
  EXPECT_EQ(m->outputs[0].first, "out");
  EXPECT_EQ(m->outputs[0].second, "hello");
  EXPECT_EQ(m->log, "a log\n");
  ASSERT_TRUE(m->usage.has_value());
  EXPECT_EQ(m->usage->instructions, 123u);
  EXPECT_EQ(m->usage->peak_memory_bytes, 456u);
  ASSERT_TRUE(m->status.has_value());
  EXPECT_EQ(m->status->error().reason(), "LUA_RUNTIME_ERROR");
  EXPECT_EQ(m->status->error().message(), "boom");
}

TEST(FramingTest, Violation) {
  char frame[kViolationFrameSize];
  EncodeViolation(41, frame);
  auto m = DecodeChildMessages(std::string_view(frame, sizeof(frame)), 1024);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->violation, 41u);
}

TEST(FramingTest, RejectsTruncatedAndOversized) {
  std::string wire = EncodeOutput("out", std::string(100, 'x'));
  for (size_t cut : {size_t{1}, size_t{4}, size_t{7}, wire.size() - 1}) {
    auto m = DecodeChildMessages(std::string_view(wire).substr(0, cut), 1 << 20);
    ASSERT_FALSE(m.ok()) << cut;
    EXPECT_EQ(m.error().reason(), "SANDBOX_PROTOCOL_ERROR");
  }
  auto big = DecodeChildMessages(wire, 10);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().reason(), "SANDBOX_PROTOCOL_ERROR");
}

TEST(FramingTest, RejectsLyingLengthsAndTypes) {
  std::string lie("\x01\xff\xff\xff\x7f", 5);  // 2 GiB frame, 0 bytes present
  auto m = DecodeChildMessages(lie, ~0ull >> 2);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().reason(), "SANDBOX_PROTOCOL_ERROR");
  std::string unknown("\x09\x00\x00\x00\x00", 5);
  auto u = DecodeChildMessages(unknown, 1024);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().reason(), "SANDBOX_PROTOCOL_ERROR");
  // Output name length past the payload.
  std::string bad_name("\x01\x04\x00\x00\x00\xff\x00\x00\x00", 9);
  auto n = DecodeChildMessages(bad_name, 1024);
  ASSERT_FALSE(n.ok());
  // Nothing may follow the final status.
  auto after = DecodeChildMessages(EncodeStatus(OkStatus()) + EncodeLog("x"), 1024);
  ASSERT_FALSE(after.ok());
  // A status code outside google.rpc.Code.
  std::string code("\x04\x08\x00\x00\x00\x63\x00\x00\x00\x00\x00\x00\x00", 13);
  auto c = DecodeChildMessages(code, 1024);
  ASSERT_FALSE(c.ok());
}

}  // namespace
}  // namespace cloister::functions::lua
