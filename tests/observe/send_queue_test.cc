#include "observe/send_queue.h"

#include <gtest/gtest.h>

namespace rusm::observe {
namespace {

std::shared_ptr<const std::string> msg(size_t n) {
  return std::make_shared<const std::string>(n, 'x');
}

TEST(SendQueue, SnapshotsBeyondTheirBoundAreDropped) {
  SendQueue q({.max_bytes = 1 << 20, .max_messages = 100, .max_droppable = 2});
  EXPECT_EQ(q.push(msg(10), true), SendQueue::Push::kQueued);  // being written
  EXPECT_EQ(q.push(msg(10), true), SendQueue::Push::kQueued);
  EXPECT_EQ(q.push(msg(10), true), SendQueue::Push::kQueued);
  EXPECT_EQ(q.push(msg(10), true), SendQueue::Push::kDropped);
  EXPECT_EQ(q.push(msg(10), false), SendQueue::Push::kQueued) << "replies are not dropped";
  EXPECT_EQ(q.size(), 4u);
  q.pop();  // the next snapshot goes out: one waits behind it now
  EXPECT_EQ(q.push(msg(10), true), SendQueue::Push::kQueued);
  EXPECT_EQ(q.push(msg(10), true), SendQueue::Push::kDropped);
}

TEST(SendQueue, RepliesBeyondTheBoundsOverflow) {
  SendQueue by_count({.max_bytes = 1 << 20, .max_messages = 3, .max_droppable = 4});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(by_count.push(msg(1), false), SendQueue::Push::kQueued);
  }
  EXPECT_EQ(by_count.push(msg(1), false), SendQueue::Push::kOverflow);
  EXPECT_EQ(by_count.push(msg(1), true), SendQueue::Push::kDropped);
  EXPECT_EQ(by_count.size(), 3u) << "an overflow queues nothing";

  SendQueue by_bytes({.max_bytes = 100, .max_messages = 100, .max_droppable = 4});
  EXPECT_EQ(by_bytes.push(msg(60), false), SendQueue::Push::kQueued);
  EXPECT_EQ(by_bytes.push(msg(40), false), SendQueue::Push::kQueued);
  EXPECT_EQ(by_bytes.push(msg(1), false), SendQueue::Push::kOverflow);
  EXPECT_EQ(by_bytes.bytes(), 100u);
}

TEST(SendQueue, OneMessageIntoAnEmptyQueueIsAlwaysTaken) {
  SendQueue q({.max_bytes = 10, .max_messages = 1, .max_droppable = 0});
  EXPECT_EQ(q.push(msg(1000), false), SendQueue::Push::kQueued);
  EXPECT_EQ(q.front()->size(), 1000u);
}

TEST(SendQueue, GaugesFollowTheQueueAndReturnToZero) {
  SendQueueGauges g;
  {
    SendQueue q({.max_bytes = 1 << 20, .max_messages = 100, .max_droppable = 4}, &g);
    auto shared = msg(50);
    q.push(shared, true);
    q.push(shared, false);  // shared messages count once per queue that holds them
    q.push(msg(7), false);
    EXPECT_EQ(g.bytes.load(), 107);
    EXPECT_EQ(g.messages.load(), 3);
    q.pop();
    EXPECT_EQ(g.bytes.load(), 57);
    EXPECT_EQ(g.messages.load(), 2);
    SendQueue other({}, &g);
    other.push(msg(3), false);
    EXPECT_EQ(g.bytes.load(), 60);
    q.clear();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_EQ(g.bytes.load(), 3);
    q.push(msg(5), false);  // the destructor releases the rest
  }
  EXPECT_EQ(g.bytes.load(), 0);
  EXPECT_EQ(g.messages.load(), 0);
}

}  // namespace
}  // namespace rusm::observe
