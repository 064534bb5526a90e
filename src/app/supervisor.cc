#include "app/supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "obs/fd_write.h"
#include "obs/log.h"

namespace shopd::app {
namespace {

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

// The supervisor logs straight to stdout: spdlog's flusher thread must not
// exist in a process that forks.
void SupLog(obs::LogLevel level, std::string_view event, obs::Fields fields) {
  std::string line;
  obs::AppendJsonLogLine(line, std::chrono::system_clock::now(), level, event, fields);
  if (line.empty() || line.back() != '\n') line += '\n';
  obs::WriteAll(1, line);
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + " (SIG" + (abbrev ? abbrev : "?") + ")" +
           (WCOREDUMP(status) ? ", core dumped" : "");
  }
  return "status " + std::to_string(status);
}

struct Slot {
  pid_t pid = 0;
  int64_t started_ms = 0;
  int64_t restart_at_ms = 0;  // 0 = not waiting for a restart
  int64_t backoff_ms = 0;
};

}  // namespace

int RunSupervisor(const SupervisorOptions& options, const std::function<int()>& worker_main) {
  sigset_t handled, previous;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, &previous);
  const pid_t supervisor_pid = ::getpid();

  std::vector<Slot> slots(static_cast<size_t>(options.processes));
  auto spawn = [&](size_t i) {
    pid_t pid = ::fork();
    if (pid < 0) {
      SupLog(obs::LogLevel::kError, "fork failed", {{"slot", i}, {"error", std::strerror(errno)}});
      slots[i].restart_at_ms = NowMs() + 1000;
      return;
    }
    if (pid == 0) {
      sigprocmask(SIG_SETMASK, &previous, nullptr);
      // A worker must not outlive its supervisor (e.g. after its kill -9).
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != supervisor_pid) ::_exit(0);
      ::_exit(worker_main());
    }
    slots[i].pid = pid;
    slots[i].started_ms = NowMs();
    slots[i].restart_at_ms = 0;
    SupLog(obs::LogLevel::kInfo, "worker started", {{"pid", static_cast<int64_t>(pid)}, {"slot", i}});
  };

  SupLog(obs::LogLevel::kInfo, "supervisor started",
         {{"pid", static_cast<int64_t>(supervisor_pid)}, {"processes", options.processes}});
  for (size_t i = 0; i < slots.size(); ++i) spawn(i);

  bool stopping = false;
  int64_t kill_at_ms = 0;
  for (;;) {
    const bool any_alive = std::any_of(slots.begin(), slots.end(), [](const Slot& s) { return s.pid > 0; });
    if (stopping && !any_alive) break;

    int64_t now = NowMs();
    // Signals (SIGCHLD included) end the wait at once; the timeout is only for
    // what is scheduled: a restart after its backoff, the kill after the grace.
    int64_t wait_ms = stopping ? std::max<int64_t>(0, kill_at_ms - now) : 60'000;
    for (const auto& s : slots)
      if (s.restart_at_ms) wait_ms = std::min(wait_ms, std::max<int64_t>(0, s.restart_at_ms - now));
    timespec timeout{wait_ms / 1000, (wait_ms % 1000) * 1'000'000};
    siginfo_t info;
    int sig = ::sigtimedwait(&handled, &info, &timeout);
    now = NowMs();

    if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
      stopping = true;
      kill_at_ms = now + options.shutdown_grace_ms;
      SupLog(obs::LogLevel::kInfo, "supervisor stopping", {{"signal", sig}});
      for (auto& s : slots) {
        if (s.pid > 0) ::kill(s.pid, SIGTERM);
        s.restart_at_ms = 0;
      }
    }

    // Reap every child that has exited, whatever signal woke us.
    for (;;) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      for (size_t i = 0; i < slots.size(); ++i) {
        Slot& s = slots[i];
        if (s.pid != pid) continue;
        s.pid = 0;
        const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (stopping) {
          SupLog(clean ? obs::LogLevel::kInfo : obs::LogLevel::kWarn, "worker exited",
                 {{"pid", static_cast<int64_t>(pid)}, {"slot", i}, {"cause", DescribeExit(status)}});
          break;
        }
        // A worker that crashes right after starting is restarted with growing
        // delays (up to 5 s), so a broken deployment does not fork-bomb.
        const bool quick_crash = now - s.started_ms < 1000;
        s.backoff_ms = quick_crash ? std::min<int64_t>(std::max<int64_t>(s.backoff_ms * 2, 100), 5000) : 0;
        s.restart_at_ms = now + s.backoff_ms;
        if (s.restart_at_ms == 0) s.restart_at_ms = 1;
        SupLog(obs::LogLevel::kWarn, "worker exited",
               {{"pid", static_cast<int64_t>(pid)},
                {"slot", i},
                {"cause", DescribeExit(status)},
                {"restart_in_ms", s.backoff_ms}});
        break;
      }
    }

    if (!stopping) {
      for (size_t i = 0; i < slots.size(); ++i)
        if (slots[i].pid == 0 && slots[i].restart_at_ms && now >= slots[i].restart_at_ms) spawn(i);
    } else if (now >= kill_at_ms) {
      for (auto& s : slots)
        if (s.pid > 0) ::kill(s.pid, SIGKILL);
      kill_at_ms = now + 1000;
    }
  }
  SupLog(obs::LogLevel::kInfo, "supervisor stopped", {});
  return 0;
}

}  // namespace shopd::app
