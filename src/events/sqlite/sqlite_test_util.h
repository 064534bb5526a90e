// events/sqlite: test helpers shared by this folder's tests.
#pragma once

#include "core/testing/async_test_util.h"
#include "storage/sqlite/sqlite_test_util.h"

namespace shopd::events::sqlite::test_util {

using storage::sqlite::test_util::OpenOrDie;
using storage::sqlite::test_util::TempDir;
using shopd::testing::EventuallyTrue;
using shopd::testing::IoThread;

}  // namespace shopd::events::sqlite::test_util
