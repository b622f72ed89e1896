#include <gtest/gtest.h>

#include "rusm/otp/message.h"
#include "rusm/otp/pid.h"

namespace rusm::otp {
namespace {

TEST(PidTest, PacksNodeGenerationAndSlot) {
  Pid p = Pid::make(7, 12345, 678);
  EXPECT_EQ(p.node(), 7);
  EXPECT_EQ(p.generation(), 12345u);
  EXPECT_EQ(p.slot(), 678u);
  EXPECT_TRUE(p.valid());
  EXPECT_FALSE(Pid().valid());
  EXPECT_EQ(p.to_string(), "<7.678.12345>");
  EXPECT_NE(Pid::make(0, 1, 5), Pid::make(0, 2, 5)) << "generation must distinguish reused slots";
}

TEST(MessageTest, OwnsItsPayloadInlineAndOnTheHeap) {
  Message small = Message::make(3, "hi");
  EXPECT_EQ(small.tag(), 3u);
  EXPECT_EQ(small.text(), "hi");
  std::string big(1000, 'x');
  Message large = Message::make(4, big);
  EXPECT_EQ(large.text(), big);
  Message moved = std::move(large);
  EXPECT_TRUE(large.empty());
  EXPECT_EQ(moved.size(), 1000u);
}

TEST(MessageTest, CarriesTriviallyCopyableValues) {
  struct Point {
    int x, y;
  };
  Message m = Message::of(9, Point{3, 4});
  EXPECT_EQ(m.as<Point>().x, 3);
  EXPECT_EQ(m.as<Point>().y, 4);
}

int destroyed = 0;
void destroy_int(void* p) {
  ++destroyed;
  delete static_cast<int*>(p);
}

TEST(MessageTest, DestroysHostResourcesItStillOwns) {
  destroyed = 0;
  {
    Message m = Message::make(1);
    m.attach(new int(1), destroy_int);
    m.attach(new int(2), destroy_int);
    EXPECT_EQ(m.resource_count(), 2u);
    int* taken = static_cast<int*>(m.take_resource(0));
    ASSERT_NE(taken, nullptr);
    delete taken;
  }
  EXPECT_EQ(destroyed, 1) << "the resource not taken must be destroyed with the message";
}

TEST(ExitReasonTest, Formats) {
  EXPECT_EQ(ExitReason::normal().to_string(), "normal");
  EXPECT_EQ(ExitReason::error("boom").to_string(), "error: boom");
  EXPECT_EQ(ExitReason::shutdown("why").to_string(), "shutdown: why");
  EXPECT_EQ(ExitReason::killed(), ExitReason::killed());
  EXPECT_NE(ExitReason::killed(), ExitReason::kill());
}

}  // namespace
}  // namespace rusm::otp
