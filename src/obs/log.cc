#include "obs/log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "obs/fd_write.h"
#include "obs/json_escape.h"

namespace shopd::obs {
namespace {

// Writes each formatted line with one write(2), never a partial line: stdio
// would split lines at its buffer boundary and let the access log's writes
// land in the middle of one.
class FdLineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit FdLineSink(int fd) : fd_(fd) {}

  void SetFd(int fd) {
    std::lock_guard lock(mutex_);
    fd_ = fd;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    WriteAll(fd_, std::string_view(formatted.data(), formatted.size()));
  }
  void flush_() override {}

 private:
  int fd_;
};

struct LogState {
  std::shared_ptr<FdLineSink> sink;
  std::shared_ptr<spdlog::logger> logger;
  std::atomic<bool> json{true};
};

// Never destroyed, so that logging stays safe during static destruction.
LogState& State() {
  static LogState* state = [] {
    auto* s = new LogState;
    s->sink = std::make_shared<FdLineSink>(1);
    s->logger = std::make_shared<spdlog::logger>("shopd", s->sink);
    s->logger->set_pattern("%v");
    s->logger->set_level(spdlog::level::info);
    // No buffering and no periodic flusher (which would wake every process
    // every second): the app log is a few lines a minute; the access log has
    // its own batching writer.
    spdlog::register_logger(s->logger);
    return s;
  }();
  return *state;
}

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::err;
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "error";
}

spdlog::level::level_enum ParseLevel(std::string_view name) {
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn" || name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "critical") return spdlog::level::critical;
  if (name == "off") return spdlog::level::off;
  throw std::invalid_argument("unknown log level: " + std::string(name));
}

void AppendJsonValue(std::string& out, const FieldValue& v) {
  switch (v.kind()) {
    case FieldValue::Kind::kString: AppendJsonString(out, v.str()); break;
    case FieldValue::Kind::kInt: AppendJsonInt(out, v.int_value()); break;
    case FieldValue::Kind::kUint: AppendJsonUint(out, v.uint_value()); break;
    case FieldValue::Kind::kDouble: AppendJsonDouble(out, v.double_value()); break;
    case FieldValue::Kind::kBool: out += v.bool_value() ? "true" : "false"; break;
  }
}

// Quotes only when the value would otherwise be ambiguous in `k=v` form.
bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

}  // namespace

void AppendJsonLogLine(std::string& out, std::chrono::system_clock::time_point ts,
                       LogLevel level, std::string_view event, Fields fields) {
  out += "{\"ts\":\"";
  AppendTimestamp(out, ts);
  out += "\",\"level\":\"";
  out += LevelName(level);
  out += "\",\"msg\":";
  AppendJsonString(out, event);
  for (const Field& f : fields) {
    out += ',';
    AppendJsonString(out, f.key);
    out += ':';
    AppendJsonValue(out, f.value);
  }
  out += '}';
}

void AppendTextLogLine(std::string& out, std::chrono::system_clock::time_point ts,
                       LogLevel level, std::string_view event, Fields fields) {
  AppendTimestamp(out, ts);
  static constexpr std::string_view kPadded[] = {" DEBUG ", " INFO  ", " WARN  ", " ERROR "};
  out += kPadded[static_cast<int>(level)];
  out += event;
  for (const Field& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    if (f.value.kind() == FieldValue::Kind::kString && !NeedsQuotes(f.value.str())) {
      out += f.value.str();
    } else {
      AppendJsonValue(out, f.value);
    }
  }
}

void InitLogging(LogConfig config) {
  const auto level = ParseLevel(config.level);
  LogState& state = State();
  state.json.store(config.json, std::memory_order_relaxed);
  state.sink->SetFd(config.fd);
  state.logger->set_level(level);
}

void ShutdownLogging() {
  State().logger->flush();  // nothing is buffered today; kept for sinks that buffer
}

bool LogEnabled(LogLevel level) { return State().logger->should_log(ToSpdlog(level)); }

void Log(LogLevel level, std::string_view event, Fields fields) {
  LogState& state = State();
  const auto spd_level = ToSpdlog(level);
  if (!state.logger->should_log(spd_level)) return;
  thread_local std::string line;
  line.clear();
  const auto now = std::chrono::system_clock::now();
  if (state.json.load(std::memory_order_relaxed)) {
    AppendJsonLogLine(line, now, level, event, fields);
  } else {
    AppendTextLogLine(line, now, level, event, fields);
  }
  state.logger->log(spdlog::source_loc{}, spd_level,
                    spdlog::string_view_t(line.data(), line.size()));
}

}  // namespace shopd::obs
