// Framing bounds of the platform protocol over a socketpair: round trip,
// oversize length prefix, truncation, and error mapping.
#include "attestation/platform/protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "attestation/platform/sys/unix_socket.h"

namespace cloister::attestation {
namespace {

struct Pair {
  sys::UniqueFd a, b;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a = sys::UniqueFd(fds[0]);
    b = sys::UniqueFd(fds[1]);
  }
};

TEST(ProtocolTest, RoundTrip) {
  Pair p;
  ASSERT_TRUE(WriteFrame(p.a.get(), AsBytes("hello")).ok());
  ASSERT_TRUE(WriteFrame(p.a.get(), {}).ok());
  auto f = ReadFrame(p.b.get(), 1000, 1000);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(ToString(*f), "hello");
  auto empty = ReadFrame(p.b.get(), 1000, 1000);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(ProtocolTest, OversizeRefusedOnBothSides) {
  Pair p;
  Bytes big(kMaxFrameBytes + 1);
  EXPECT_EQ(WriteFrame(p.a.get(), big).error().reason(), kFrameTooLarge);
  const uint8_t header[4] = {0x7f, 0xff, 0xff, 0xff};
  ASSERT_TRUE(sys::WriteAll(p.a.get(), header).ok());
  EXPECT_EQ(ReadFrame(p.b.get(), 1000, 1000).error().reason(), kFrameTooLarge);
  // Exactly 1 MiB is allowed.
  Pair q;
  std::thread writer([&] { EXPECT_TRUE(WriteFrame(q.a.get(), Bytes(kMaxFrameBytes, 7)).ok()); });
  auto f = ReadFrame(q.b.get(), 5000, 5000);
  writer.join();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size(), kMaxFrameBytes);
}

TEST(ProtocolTest, TruncatedAndClosed) {
  {
    Pair p;
    const uint8_t partial[6] = {0, 0, 0, 100, 1, 2};
    ASSERT_TRUE(sys::WriteAll(p.a.get(), partial).ok());
    p.a.Reset();
    EXPECT_EQ(ReadFrame(p.b.get(), 1000, 1000).error().reason(), kFrameTruncated);
  }
  {
    Pair p;
    const uint8_t partial[2] = {0, 0};
    ASSERT_TRUE(sys::WriteAll(p.a.get(), partial).ok());
    p.a.Reset();
    EXPECT_EQ(ReadFrame(p.b.get(), 1000, 1000).error().reason(), kFrameTruncated);
  }
  {
    Pair p;
    p.a.Reset();
    EXPECT_EQ(ReadFrame(p.b.get(), 1000, 1000).error().reason(), sys::kConnectionClosed);
  }
  {
    Pair p;  // stalls mid-frame: the body timeout fires
    const uint8_t partial[5] = {0, 0, 0, 10, 1};
    ASSERT_TRUE(sys::WriteAll(p.a.get(), partial).ok());
    EXPECT_EQ(ReadFrame(p.b.get(), 1000, 100).error().reason(), kFrameTruncated);
  }
}

TEST(ProtocolTest, ErrorMappingKeepsCodeAndReason) {
  Error e = PermissionDenied("no", "SEAL_SVN_TOO_HIGH");
  Error back = ErrorFromProto(ErrorToProto(e));
  EXPECT_EQ(back.code(), Code::kPermissionDenied);
  EXPECT_EQ(back.reason(), "SEAL_SVN_TOO_HIGH");
  PlatformError weird;
  weird.set_code(999);
  EXPECT_EQ(ErrorFromProto(weird).code(), Code::kUnknown);
  weird.set_code(0);  // "OK" is not an error
  EXPECT_EQ(ErrorFromProto(weird).code(), Code::kUnknown);
}

}  // namespace
}  // namespace cloister::attestation
