#include "core/time_format.h"

#include <gtest/gtest.h>

namespace shopd::core {
namespace {

TEST(TimeFormat, Rfc3339) {
  EXPECT_EQ(Rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Rfc3339(1'795'620'014), "2026-11-25T15:20:14Z");
  EXPECT_EQ(Rfc3339Millis(1'795'620'014'007), "2026-11-25T15:20:14.007Z");
}

}  // namespace
}  // namespace shopd::core
