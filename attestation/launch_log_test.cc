// Replay of the measured-launch log detects every change to the event
// sequence: edited, inserted, dropped and reordered events.
#include "attestation/launch_log.h"

#include <gtest/gtest.h>

namespace cloister::attestation {
namespace {

LaunchEvent Event(uint64_t index, std::string type, std::string_view what) {
  LaunchEvent e;
  e.set_index(index);
  e.set_type(std::move(type));
  auto d = crypto::Sha256(what);
  e.set_data_digest(d.data(), d.size());
  auto x = crypto::Sha256(std::string_view("extender"));
  e.set_extender(x.data(), x.size());
  e.set_description(std::string(what));
  return e;
}

LaunchLog ThreeEvents() {
  LaunchLog log;
  *log.add_events() = Event(0, "platform.start", "platform");
  *log.add_events() = Event(1, "enclave.start", "gateway");
  *log.add_events() = Event(2, "config", "cluster.toml");
  return log;
}

void Reindex(LaunchLog& log) {
  for (int i = 0; i < log.events_size(); ++i) log.mutable_events(i)->set_index(static_cast<uint64_t>(i));
}

TEST(LaunchLogTest, EmptyLogReplaysToZeroDigest) {
  auto d = Replay(LaunchLog());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, kInitialLaunchDigest);
}

TEST(LaunchLogTest, ReplayEqualsStepwiseExtend) {
  LaunchLog log = ThreeEvents();
  crypto::Digest d = kInitialLaunchDigest;
  for (const auto& e : log.events()) d = ExtendDigest(d, e);
  auto replayed = Replay(log);
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(*replayed, d);
  // The chain formula of attestation.proto, spelled out once.
  crypto::Digest manual = kInitialLaunchDigest;
  for (const auto& e : log.events()) {
    Bytes buf(manual.begin(), manual.end());
    auto ed = crypto::Sha256(e.SerializeAsString());
    buf.insert(buf.end(), ed.begin(), ed.end());
    manual = crypto::Sha256(buf);
  }
  EXPECT_EQ(manual, d);
}

TEST(LaunchLogTest, ChangedEventChangesDigest) {
  const crypto::Digest good = *Replay(ThreeEvents());
  for (int field = 0; field < 4; ++field) {
    LaunchLog log = ThreeEvents();
    LaunchEvent* e = log.mutable_events(1);
    switch (field) {
      case 0: (*e->mutable_data_digest())[0] ^= 1; break;
      case 1: e->set_type("enclave.stop"); break;
      case 2: (*e->mutable_extender())[31] ^= 0x80; break;
      case 3: e->set_description("gateway!"); break;
    }
    auto d = Replay(log);
    ASSERT_TRUE(d.ok()) << field;
    EXPECT_NE(*d, good) << field;
  }
}

TEST(LaunchLogTest, InsertedEventDetected) {
  const crypto::Digest good = *Replay(ThreeEvents());
  LaunchLog log = ThreeEvents();
  *log.add_events() = Event(1, "config", "evil");  // index collides
  EXPECT_EQ(Replay(log).error().reason(), kLaunchLogMalformed);
  // Even correctly re-indexed, the digest differs.
  LaunchLog inserted;
  *inserted.add_events() = log.events(0);
  *inserted.add_events() = Event(0, "config", "evil");
  *inserted.add_events() = log.events(1);
  *inserted.add_events() = log.events(2);
  Reindex(inserted);
  ASSERT_TRUE(Replay(inserted).ok());
  EXPECT_NE(*Replay(inserted), good);
}

TEST(LaunchLogTest, DroppedEventDetected) {
  const crypto::Digest good = *Replay(ThreeEvents());
  LaunchLog log = ThreeEvents();
  log.mutable_events()->DeleteSubrange(1, 1);
  EXPECT_EQ(Replay(log).error().reason(), kLaunchLogMalformed);  // gap in indices
  Reindex(log);
  ASSERT_TRUE(Replay(log).ok());
  EXPECT_NE(*Replay(log), good);
  // Dropping the tail keeps indices valid, but not the digest.
  LaunchLog truncated = ThreeEvents();
  truncated.mutable_events()->RemoveLast();
  EXPECT_NE(*Replay(truncated), good);
}

TEST(LaunchLogTest, ReorderedEventsDetected) {
  const crypto::Digest good = *Replay(ThreeEvents());
  LaunchLog log = ThreeEvents();
  log.mutable_events()->SwapElements(1, 2);
  EXPECT_EQ(Replay(log).error().reason(), kLaunchLogMalformed);
  Reindex(log);
  ASSERT_TRUE(Replay(log).ok());
  EXPECT_NE(*Replay(log), good);
}

TEST(LaunchLogTest, MalformedEventsRejected) {
  LaunchLog log = ThreeEvents();
  log.mutable_events(2)->set_data_digest("short");
  EXPECT_EQ(Replay(log).code(), Code::kInvalidArgument);
  log = ThreeEvents();
  log.mutable_events(0)->clear_extender();
  EXPECT_EQ(Replay(log).error().reason(), kLaunchLogMalformed);
  log = ThreeEvents();
  log.mutable_events(0)->set_type("");
  EXPECT_EQ(Replay(log).error().reason(), kLaunchLogMalformed);
  log = ThreeEvents();
  log.mutable_events(0)->set_description(std::string(kMaxLaunchEventDescriptionSize + 1, 'x'));
  EXPECT_EQ(Replay(log).error().reason(), kLaunchLogMalformed);
}

}  // namespace
}  // namespace cloister::attestation
