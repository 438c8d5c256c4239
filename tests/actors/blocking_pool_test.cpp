#include "actors/blocking_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>

namespace mbx {
namespace {

TEST(BlockingPoolTest, RunsEveryPostedJobBeforeStopReturns) {
  std::atomic<int> ran{0};
  BlockingPool pool("test", 3);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(pool.post([&] { ++ran; }));
  pool.stop();
  EXPECT_EQ(ran.load(), 100);
}

TEST(BlockingPoolTest, RefusesPostsAfterStop) {
  BlockingPool pool("test", 1);
  pool.stop();
  EXPECT_FALSE(pool.post([] {}));
  pool.stop();  // idempotent
}

}  // namespace
}  // namespace mbx
