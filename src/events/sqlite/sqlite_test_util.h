// events/sqlite: test helpers shared by this folder's tests.
#pragma once

#include <stdlib.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "storage/sqlite/sqlite_database.h"
#include "core/testing/async_test_util.h"

namespace shopd::events::sqlite::test_util {

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "shopd-events-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::unique_ptr<storage::sqlite::SqliteDatabase> OpenOrDie(const std::string& dir) {
  auto db = storage::sqlite::SqliteDatabase::Open({.data_dir = dir});
  if (!db) throw std::runtime_error("open failed: " + db.error().internal);
  return std::move(*db);
}

using shopd::testing::EventuallyTrue;
using shopd::testing::IoThread;

}  // namespace shopd::events::sqlite::test_util
