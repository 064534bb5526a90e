#include "core/error.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace shopd::core {
namespace {

TEST(ExceptionText, StandardExceptionsGiveTheirMessageOthersAPlaceholder) {
  EXPECT_EQ(ExceptionText(std::make_exception_ptr(std::runtime_error("disk on fire"))), "disk on fire");
  EXPECT_EQ(ExceptionText(std::make_exception_ptr(42)), "unknown exception");
  EXPECT_EQ(ExceptionText(nullptr), "unknown exception");
}

}  // namespace
}  // namespace shopd::core
