// obs: structured application logging, one JSON object per line on stdout.
// Depends on nothing (spdlog stays inside log.cc).
//
// An event is a short stable name plus typed fields, so logs can be queried
// without parsing prose. Logging works before InitLogging (level info, JSON)
// and from any thread. Info and below are buffered and flushed every second;
// warn and above are flushed at once.
//
//   obs::InitLogging({.level = "debug"});
//   obs::LogInfo("server_started", {{"listen", addr}, {"threads", 4}});
//   // {"ts":"2026-11-25T15:04:05.123Z","level":"info","msg":"server_started",
//   //  "listen":"0.0.0.0:8080","threads":4}
//   obs::ShutdownLogging();
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace shopd::obs {

struct LogConfig {
  std::string level = "info";  // trace|debug|info|warn|error|critical|off
  bool json = true;            // false: human-readable `ts LEVEL msg k=v` lines
  int fd = 1;                  // output file descriptor; tests pass a pipe
};

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// A field value: a string (referenced, not copied: it must outlive the call),
// an integer, a double or a bool.
class FieldValue {
 public:
  enum class Kind { kString, kInt, kUint, kDouble, kBool };

  FieldValue(std::string_view v) : kind_(Kind::kString), str_(v) {}
  FieldValue(const char* v) : kind_(Kind::kString), str_(v) {}
  FieldValue(const std::string& v) : kind_(Kind::kString), str_(v) {}
  FieldValue(bool v) : kind_(Kind::kBool), bool_(v) {}
  FieldValue(double v) : kind_(Kind::kDouble), double_(v) {}
  template <std::signed_integral T>
  FieldValue(T v) : kind_(Kind::kInt), int_(v) {}
  template <std::unsigned_integral T>
    requires(!std::same_as<T, bool>)
  FieldValue(T v) : kind_(Kind::kUint), uint_(v) {}

  Kind kind() const { return kind_; }
  std::string_view str() const { return str_; }
  int64_t int_value() const { return int_; }
  uint64_t uint_value() const { return uint_; }
  double double_value() const { return double_; }
  bool bool_value() const { return bool_; }

 private:
  Kind kind_;
  std::string_view str_;
  union {
    int64_t int_;
    uint64_t uint_;
    double double_;
    bool bool_;
  };
};

struct Field {
  std::string_view key;
  FieldValue value;
};
using Fields = std::initializer_list<Field>;

// Sets level, format and output. Throws std::invalid_argument for an unknown
// level. Safe to call while other threads log.
void InitLogging(LogConfig config);
// Writes out anything a sink still buffers (the fd sink writes each line at
// once); logging still works afterwards.
void ShutdownLogging();

bool LogEnabled(LogLevel level);
void Log(LogLevel level, std::string_view event, Fields fields = {});

inline void LogDebug(std::string_view event, Fields fields = {}) {
  Log(LogLevel::kDebug, event, fields);
}
inline void LogInfo(std::string_view event, Fields fields = {}) {
  Log(LogLevel::kInfo, event, fields);
}
inline void LogWarn(std::string_view event, Fields fields = {}) {
  Log(LogLevel::kWarn, event, fields);
}
inline void LogError(std::string_view event, Fields fields = {}) {
  Log(LogLevel::kError, event, fields);
}

// The line shapes (without the trailing newline), exposed for tests.
void AppendJsonLogLine(std::string& out, std::chrono::system_clock::time_point ts,
                       LogLevel level, std::string_view event, Fields fields);
void AppendTextLogLine(std::string& out, std::chrono::system_clock::time_point ts,
                       LogLevel level, std::string_view event, Fields fields);

}  // namespace shopd::obs
