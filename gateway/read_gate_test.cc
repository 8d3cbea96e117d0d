// ReadGate (gateway/read_gate.h): slots, the bounded FIFO of waiting calls,
// and the wait limit. Contexts are never read from here, only compared.
#include "gateway/read_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace cloister::gateway {
namespace {

TEST(ReadGateTest, GrantsSlotsThenQueuesInOrderThenRefuses) {
  ReadGate gate({.slots = 1,
                 .max_waiting = 1,
                 .max_wait = std::chrono::seconds(30),
                 .max_read = std::chrono::seconds(30)});
  grpc::ServerContext a, b, c;
  int granted_a = -1, granted_b = -1, granted_c = -1;
  gate.Acquire(&a, [&](bool g) { granted_a = g; });
  EXPECT_EQ(granted_a, 1);
  gate.Acquire(&b, [&](bool g) { granted_b = g; });
  EXPECT_EQ(granted_b, -1) << "waits while the slot is held";
  gate.Acquire(&c, [&](bool g) { granted_c = g; });
  EXPECT_EQ(granted_c, 0) << "refused at once: the queue is full";
  EXPECT_EQ(gate.held(), 1);
  EXPECT_EQ(gate.waiting(), 1);
  gate.Release(&a);
  EXPECT_EQ(granted_b, 1) << "the slot goes to the next waiter";
  gate.Release(&b);
  EXPECT_EQ(gate.held(), 0);
  EXPECT_EQ(gate.waiting(), 0);
}

TEST(ReadGateTest, AWaitPastItsLimitIsRefused) {
  ReadGate gate({.slots = 1,
                 .max_waiting = 4,
                 .max_wait = std::chrono::milliseconds(100),
                 .max_read = std::chrono::seconds(30)});
  grpc::ServerContext a, b;
  std::atomic<int> granted_b{-1};
  gate.Acquire(&a, [](bool) {});
  gate.Acquire(&b, [&](bool g) { granted_b = g; });
  for (int i = 0; i < 100 && granted_b == -1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(granted_b, 0);
  EXPECT_EQ(gate.waiting(), 0);
  gate.Release(&a);
}

}  // namespace
}  // namespace cloister::gateway
