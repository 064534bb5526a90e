#include "obs/access_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "obs/metrics.h"

namespace shopd::obs {
namespace {

std::vector<boost::json::object> ParseLines(const std::string& text) {
  std::vector<boost::json::object> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    boost::system::error_code ec;
    auto v = boost::json::parse(std::string_view(text).substr(start, nl - start), ec);
    EXPECT_FALSE(ec) << text.substr(start, nl - start);
    if (!ec) out.push_back(v.as_object());
  }
  EXPECT_EQ(start, text.size()) << "partial last line";
  return out;
}

AccessRecord Record(std::string_view id, int status = 200) {
  return {.request_id = id,
          .method = "GET",
          .path = "/users/{id}",
          .target = "/users/42?x=1",
          .status = status,
          .duration_ms = 1.23456,
          .remote_ip = "10.0.0.7",
          .bytes_out = 512};
}

// Collects what the writer thread hands to the sink.
struct Collector {
  std::mutex mu;
  std::string text;
  std::function<void(std::string_view)> Sink() {
    return [this](std::string_view batch) {
      std::lock_guard lock(mu);
      text.append(batch);
    };
  }
};

TEST(AccessLog, WritesOneJsonObjectPerLine) {
  Collector out;
  AccessLog log(AccessLogConfig{.sink = out.Sink()});
  log.Write({.request_id = "r\"1",
             .method = "POST",
             .path = "/orders",
             .target = "/orders?q=\n\x01\xff",
             .status = 201,
             .duration_ms = 12.3456,
             .remote_ip = "::1",
             .bytes_out = 0});
  log.Stop();
  const auto lines = ParseLines(out.text);
  ASSERT_EQ(lines.size(), 1u);
  const auto& o = lines[0];
  EXPECT_EQ(o.at("ts").as_string().size(), 24u);
  EXPECT_EQ(o.at("level"), "info");
  EXPECT_EQ(o.at("msg"), "request");
  EXPECT_EQ(o.at("request_id"), "r\"1");
  EXPECT_EQ(o.at("method"), "POST");
  EXPECT_EQ(o.at("route"), "/orders");
  EXPECT_EQ(o.at("target"), "/orders?q=\n\x01\xef\xbf\xbd");
  EXPECT_EQ(o.at("status"), 201);
  EXPECT_EQ(o.at("duration_ms").as_double(), 12.346);
  EXPECT_EQ(o.at("remote_ip"), "::1");
  EXPECT_EQ(o.at("bytes"), 0);
  EXPECT_EQ(out.text.find(R"("duration_ms":12.346,)") != std::string::npos, true) << out.text;
}

// Through a real pipe, from several threads: half flush explicitly, half rely
// on their buffers being handed over when they exit.
TEST(AccessLog, AllLinesArriveThroughAnFd) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string text;
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  });

  constexpr int kThreads = 4, kPerThread = 3000;
  {
    AccessLog log(AccessLogConfig{.flush_bytes = 4096,
                                  .max_queued_batches = 1 << 20,
                                  .max_queued_bytes = size_t{1} << 30,
                                  .fd = fds[1]});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          log.Write(Record(std::to_string(t) + "-" + std::to_string(i)));
        }
        if (t % 2 == 0) log.FlushThreadBuffer();
      });
    }
    for (auto& th : threads) th.join();
    log.Stop();
    EXPECT_EQ(log.DroppedLines(), 0u);
  }
  close(fds[1]);
  reader.join();
  close(fds[0]);

  const auto lines = ParseLines(text);
  ASSERT_EQ(lines.size(), size_t{kThreads} * kPerThread);
  std::vector<std::string> ids;
  for (const auto& o : lines) {
    ids.emplace_back(o.at("request_id").as_string());
    EXPECT_EQ(o.at("route"), "/users/{id}");
    EXPECT_EQ(o.at("bytes"), 512);
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "duplicated lines";
}

TEST(AccessLog, BlockedOutputDropsInsteadOfBlocking) {
  MetricsRegistry metrics;
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  size_t received = 0;
  AccessLog log(AccessLogConfig{.flush_bytes = 1,  // every line is a batch
                                .max_queued_batches = 2,
                                .sink =
                                    [&](std::string_view batch) {
                                      std::unique_lock lock(mu);
                                      cv.wait(lock, [&] { return released; });
                                      received += std::count(batch.begin(), batch.end(), '\n');
                                    }},
                metrics);
  constexpr int kLines = 100;
  for (int i = 0; i < kLines; ++i) log.Write(Record("id"));  // returns although output is stuck
  EXPECT_GE(log.DroppedLines(), uint64_t{kLines - 2});
  {
    std::lock_guard lock(mu);
    released = true;
  }
  cv.notify_all();
  log.Stop();
  EXPECT_EQ(received + log.DroppedLines(), uint64_t{kLines});
  EXPECT_NE(metrics.RenderPrometheus().find("shopd_access_log_dropped_lines_total " +
                                            std::to_string(log.DroppedLines()) + "\n"),
            std::string::npos);
}

TEST(AccessLog, ExitingThreadHandsOverItsBuffer) {
  Collector out;
  AccessLog log(AccessLogConfig{.sink = out.Sink()});
  std::thread([&] {
    for (int i = 0; i < 3; ++i) log.Write(Record("exit"));
  }).join();
  log.Stop();
  EXPECT_EQ(ParseLines(out.text).size(), 3u);
}

TEST(AccessLog, DisabledWritesNothing) {
  Collector out;
  AccessLog log(AccessLogConfig{.enabled = false, .sink = out.Sink()});
  log.Write(Record("x"));
  log.FlushThreadBuffer();
  log.Stop();
  EXPECT_EQ(out.text, "");
  EXPECT_EQ(log.DroppedLines(), 0u);
}

TEST(AccessLog, LinesAfterStopAreDroppedAndCounted) {
  Collector out;
  AccessLog log(AccessLogConfig{.sink = out.Sink()});
  log.Write(Record("before"));
  log.Stop();
  log.Stop();  // idempotent
  log.Write(Record("after"));
  log.FlushThreadBuffer();
  EXPECT_EQ(log.DroppedLines(), 1u);
  EXPECT_EQ(ParseLines(out.text).size(), 1u);
}

TEST(AccessLog, ManyLogsOnOneThread) {
  for (int i = 0; i < 50; ++i) {
    Collector out;
    AccessLog log(AccessLogConfig{.sink = out.Sink()});
    log.Write(Record("a"));
    log.Stop();
    EXPECT_EQ(ParseLines(out.text).size(), 1u);
  }
}

}  // namespace
}  // namespace shopd::obs
