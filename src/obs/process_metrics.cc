#include "obs/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "obs/metrics.h"

namespace shopd::obs {
namespace {

// Fields of /proc/self/stat after the command name, which may itself contain
// spaces and parentheses; fields()[0] is field 3 (state) of proc(5).
struct ProcStat {
  std::vector<std::string> fields;
  double Field(int proc5_index) const {
    const size_t i = static_cast<size_t>(proc5_index - 3);
    return i < fields.size() ? std::strtod(fields[i].c_str(), nullptr) : NAN;
  }
};

ProcStat ReadProcStat() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ProcStat stat;
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return stat;
  std::istringstream rest(text.substr(paren + 1));
  for (std::string f; rest >> f;) stat.fields.push_back(std::move(f));
  return stat;
}

double ClockTicksPerSecond() { return static_cast<double>(sysconf(_SC_CLK_TCK)); }

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("btime ")) return std::strtod(line.c_str() + 6, nullptr);
  }
  return NAN;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return NAN;
  double n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream's own fd
}

double MaxFds() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return NAN;
  return rl.rlim_cur == RLIM_INFINITY ? INFINITY : static_cast<double>(rl.rlim_cur);
}

}  // namespace

void RegisterProcessMetrics(MetricsRegistry& registry) {
  // Field numbers from proc(5).
  constexpr int kUtime = 14, kStime = 15, kNumThreads = 20, kStartTime = 22, kVsize = 23,
                kRss = 24;
  const double ticks = ClockTicksPerSecond();
  const double page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double start_time = BootTimeSeconds() + ReadProcStat().Field(kStartTime) / ticks;

  registry.AddCallbackCounter(
      "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {},
      [ticks] {
        const ProcStat s = ReadProcStat();
        return (s.Field(kUtime) + s.Field(kStime)) / ticks;
      });
  registry.AddCallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                            {}, [page_bytes] { return ReadProcStat().Field(kRss) * page_bytes; });
  registry.AddCallbackGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {},
                            [] { return ReadProcStat().Field(kVsize); });
  registry.AddCallbackGauge("process_open_fds", "Number of open file descriptors.", {}, OpenFds);
  registry.AddCallbackGauge("process_max_fds", "Maximum number of open file descriptors.", {},
                            MaxFds);
  registry.AddCallbackGauge("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.", {},
                            [start_time] { return start_time; });
  registry.AddCallbackGauge("process_threads", "Number of OS threads in the process.", {},
                            [] { return ReadProcStat().Field(kNumThreads); });
}

}  // namespace shopd::obs
