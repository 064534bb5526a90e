#include "obs/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace shopd::obs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::chrono::system_clock::time_point kTs{seconds(1'795'619'045) + milliseconds(123)};

TEST(Log, JsonLineShape) {
  std::string out;
  const std::string owned = "owned";
  AppendJsonLogLine(out, kTs, LogLevel::kWarn, "db_slow",
                    {{"user", "a\"b\n"},
                     {"owned", owned},
                     {"n", -3},
                     {"u", size_t{7}},
                     {"d", 1.5},
                     {"ok", true}});
  EXPECT_EQ(out,
            R"({"ts":"2026-11-25T15:04:05.123Z","level":"warn","msg":"db_slow",)"
            R"("user":"a\"b\n","owned":"owned","n":-3,"u":7,"d":1.5,"ok":true})");
}

TEST(Log, TextLineShape) {
  std::string out;
  AppendTextLogLine(out, kTs, LogLevel::kInfo, "started",
                    {{"listen", "0.0.0.0:80"}, {"name", "two words"}, {"n", 4}});
  EXPECT_EQ(out, R"(2026-11-25T15:04:05.123Z INFO  started listen=0.0.0.0:80 name="two words" n=4)");
}

TEST(Log, RejectsUnknownLevel) {
  EXPECT_THROW(InitLogging({.level = "loud"}), std::invalid_argument);
}

TEST(Log, WritesFilteredJsonLinesFromManyThreads) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  InitLogging({.level = "info", .json = true, .fd = fds[1]});
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  EXPECT_TRUE(LogEnabled(LogLevel::kInfo));

  LogDebug("hidden");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 50; ++i) LogInfo("tick", {{"thread", t}, {"i", i}, {"s", "x\"y"}});
    });
  }
  for (auto& th : threads) th.join();
  LogError("boom", {{"err", "disk \xff full"}});
  ShutdownLogging();
  InitLogging({});  // back to stdout for the other tests
  close(fds[1]);

  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);

  int ticks = 0, errors = 0;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = text.substr(start, nl - start);
    boost::system::error_code ec;
    const auto v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    const auto& obj = v.as_object();
    ASSERT_EQ(obj.at("ts").as_string().size(), 24u) << line;
    if (obj.at("msg") == "tick") {
      ++ticks;
      EXPECT_EQ(obj.at("level"), "info");
      EXPECT_EQ(obj.at("s"), "x\"y");
    } else {
      ++errors;
      EXPECT_EQ(obj.at("msg"), "boom");
      EXPECT_EQ(obj.at("level"), "error");
      EXPECT_EQ(obj.at("err"), "disk \xef\xbf\xbd full");
    }
  }
  EXPECT_EQ(start, text.size()) << "partial last line";
  EXPECT_EQ(ticks, 200);
  EXPECT_EQ(errors, 1);
}

}  // namespace
}  // namespace shopd::obs
