// Fork, confine, collect: the forked Lua sandbox; see forked_runner.h.
#include "functions/lua/forked_runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "common/sys/process.h"
#include "common/sys/unique_fd.h"
#include "functions/lua/framing.h"
#include "functions/lua/sys/lua_state.h"
#include "functions/lua/sys/seccomp_filter.h"

namespace cloister::functions::lua {
namespace {

constexpr int kResultFd = 3;
constexpr int kExitOk = 0;
constexpr int kExitSetupFailed = 90;
constexpr int kExitViolation = 91;
// Slack for the parent's deadline over the child's own wall-time check, so a
// child that notices first reports a precise TIME_LIMIT_EXCEEDED itself.
constexpr int64_t kParentGraceMs = 50;

#ifdef CLOISTER_SANITIZE
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// SIGSYS from a SCMP_ACT_TRAP rule: tell the parent which call, then die.
// Async-signal-safe: a stack buffer, write(2) and _exit(2) only.
void OnSigsys(int, siginfo_t* info, void*) {
  char frame[kViolationFrameSize];
  EncodeViolation(static_cast<uint32_t>(info->si_syscall), frame);
  ssize_t ignored = write(kResultFd, frame, sizeof(frame));
  (void)ignored;
  _exit(kExitViolation);
}

// Virtual memory the process maps now; the child's RLIMIT_AS is this plus
// its Lua budget, since it inherits every mapping of the host.
uint64_t CurrentVmBytes() {
  FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return 0;
  unsigned long long pages = 0;
  if (std::fscanf(f, "%llu", &pages) != 1) pages = 0;
  std::fclose(f);
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

void SetLimit(int resource, rlim_t value) {
  rlimit rl{value, value};
  setrlimit(resource, &rl);
}

// Runs in the child; never returns.
[[noreturn]] void ChildMain(int wfd, std::string_view source, Runtime& rt,
                            const SandboxOptions& opts, uint64_t as_limit) {
  if (wfd != kResultFd) {
    dup2(wfd, kResultFd);
    close(wfd);
  }
  // Every other fd of the host (sockets, files, other tenants' pipes) goes.
  syscall(SYS_close_range, kResultFd + 1, ~0U, 0);
  close(0);
  close(1);
  if (!kSanitizer) close(2);

  const uint64_t cpu_s = opts.limits.wall_time_ms / 1000 + 2;
  if (!kSanitizer && as_limit > 0) SetLimit(RLIMIT_AS, as_limit);  // ASan reserves TiBs
  SetLimit(RLIMIT_CPU, cpu_s);
  SetLimit(RLIMIT_NOFILE, kResultFd + 1);
  SetLimit(RLIMIT_FSIZE, 0);
  SetLimit(RLIMIT_NPROC, 0);
  SetLimit(RLIMIT_CORE, 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(kExitSetupFailed);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  struct sigaction sa {};
  sa.sa_sigaction = OnSigsys;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) _exit(kExitSetupFailed);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGSYS);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  // The watchdog's tick: a kernel timer signalling this (only) thread every
  // 1 ms, created now because the filter allows neither timer_create nor
  // clone (sys/lua_ticker.cc); delivery needs only rt_sigreturn.
  if (!sys::StartProcessTicker().ok()) _exit(kExitSetupFailed);

  if (!sys::InstallChildFilter({.output_fd = kResultFd, .sanitizer_runtime = kSanitizer}).ok())
    _exit(kExitSetupFailed);

  SandboxOptions inner = opts;
  inner.forked = false;
  RunReport report;
  Status st = sys::Execute(source, rt, inner, &report);
  std::string wire;
  if (st.ok()) {
    Outputs outs = std::move(rt).TakeOutputs();
    for (const auto& [name, bytes] : outs) wire += EncodeOutput(name, bytes);
  }
  wire += EncodeLog(report.log);
  wire += EncodeUsage(report.usage);
  wire += EncodeStatus(st);
  cloister::sys::WriteAll(kResultFd, wire).IgnoreError();  // the parent sees a short frame
  _exit(kExitOk);
}

}  // namespace

Status RunForked(std::string_view source, Runtime& rt, const SandboxOptions& opts,
                 RunReport* report) {
  const int64_t start = NowMs();
  const int64_t deadline =
      start + static_cast<int64_t>(opts.limits.wall_time_ms) + kParentGraceMs;
  const uint64_t as_limit = CurrentVmBytes() + 2 * opts.limits.memory_bytes + (256ull << 20);
  // Everything a well-behaved child can send, plus framing.
  const uint64_t max_wire = opts.limits.output_bytes + opts.limits.log_bytes +
                            static_cast<uint64_t>(opts.limits.max_outputs) * 2048 + (64 << 10);

  // Calibrate and install the tick handler here, once, so children inherit
  // them rather than redoing them per fork.
  sys::PrepareForFork();

  Result<cloister::sys::Pipe> pipe = cloister::sys::MakePipe();
  if (!pipe.ok()) return pipe.error().WithContext("sandbox pipe");
  cloister::sys::UniqueFd rfd = std::move(pipe->read);
  cloister::sys::UniqueFd wfd = std::move(pipe->write);

  Result<cloister::sys::Process> forked = cloister::sys::Process::Fork(
      [&] { ChildMain(wfd.get(), source, rt, opts, as_limit); });
  if (!forked.ok()) return forked.error().WithContext("sandbox fork");
  cloister::sys::Process child = std::move(*forked);
  wfd.Reset();

  std::string wire;
  enum class Stop { kEof, kTimeout, kTooMuch, kError } stop = Stop::kEof;
  char buf[64 << 10];
  for (;;) {
    const int64_t left = deadline - NowMs();
    if (left <= 0) {
      stop = Stop::kTimeout;
      break;
    }
    pollfd p{rfd.get(), POLLIN, 0};
    int pr = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) {
      stop = Stop::kError;
      break;
    }
    if (pr == 0) continue;
    ssize_t n = read(rfd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child exited or closed its end
    if (wire.size() + static_cast<size_t>(n) > max_wire) {
      stop = Stop::kTooMuch;
      break;
    }
    wire.append(buf, static_cast<size_t>(n));
  }
  // Reap; a child that closed the pipe but keeps running is killed at the
  // deadline too.
  Result<cloister::sys::ExitStatus> exit = Internal("not waited");
  if (stop != Stop::kEof) {
    child.Signal(SIGKILL);
    exit = child.WaitForever();
  } else {
    exit = child.Wait(std::chrono::milliseconds(std::max<int64_t>(0, deadline - NowMs())));
    if (!exit.ok() && exit.code() == Code::kDeadlineExceeded) {
      child.Signal(SIGKILL);
      stop = Stop::kTimeout;
      exit = child.WaitForever();
    }
  }
  if (!exit.ok()) return exit.error().WithContext("sandbox waitpid");
  report->usage.wall_ms = static_cast<double>(NowMs() - start);

  Result<ChildMessages> msgs = DecodeChildMessages(wire, max_wire);
  if (msgs.ok()) {
    report->log = msgs->log.substr(0, opts.limits.log_bytes + 64);
    if (msgs->usage) {
      report->usage.instructions = msgs->usage->instructions;
      report->usage.peak_memory_bytes = msgs->usage->peak_memory_bytes;
    }
  }
  const LuaLimits& lim = opts.limits;
  if (msgs.ok() && msgs->violation) {
    const uint32_t nr = *msgs->violation;
    return PermissionDenied("forbidden system call " + sys::SyscallName(nr) + " (" +
                                std::to_string(nr) + ")",
                            "SANDBOX_VIOLATION");
  }
  if (stop == Stop::kTimeout)
    return DeadlineExceeded("time limit exceeded (" + std::to_string(lim.wall_time_ms) +
                                " ms; sandbox process killed)",
                            "TIME_LIMIT_EXCEEDED");
  if (stop == Stop::kTooMuch)
    return ResourceExhausted("output limit exceeded (" + std::to_string(lim.output_bytes) +
                                 " bytes; sandbox process killed)",
                             "OUTPUT_LIMIT_EXCEEDED");
  if (stop == Stop::kError) return Internal("sandbox pipe failed", "SANDBOX_CRASHED");
  if (!exit->exited) {
    const int sig = exit->signal;
    if (sig == SIGSYS)
      return PermissionDenied("forbidden system call (sandbox process killed by seccomp)",
                              "SANDBOX_VIOLATION");
    if (sig == SIGXCPU)
      return DeadlineExceeded("time limit exceeded (CPU rlimit)", "TIME_LIMIT_EXCEEDED");
    return Internal("sandbox process crashed (" + cloister::sys::SignalName(sig) + ")",
                    "SANDBOX_CRASHED");
  }
  const int code = exit->code;
  if (code == kExitSetupFailed)
    return Internal("sandbox process could not confine itself", "SANDBOX_SETUP_FAILED");
  if (code != kExitOk)
    return Internal("sandbox process exited with status " + std::to_string(code),
                    "SANDBOX_CRASHED");
  if (!msgs.ok()) return msgs.error();
  if (!msgs->status) return DataLoss("sandbox child sent no status", "SANDBOX_PROTOCOL_ERROR");
  if (!msgs->status->ok()) return *msgs->status;

  // Re-check what the child claims against the limits; Runtime::Write checks
  // slot names and its own limits again.
  uint64_t total = 0;
  std::set<std::string> names;
  for (const auto& [name, bytes] : msgs->outputs) {
    total += bytes.size();
    names.insert(name);
  }
  if (total > lim.output_bytes || names.size() > static_cast<size_t>(lim.max_outputs))
    return ResourceExhausted("output limit exceeded", "OUTPUT_LIMIT_EXCEEDED");
  for (const auto& [name, bytes] : msgs->outputs) CLOISTER_RETURN_IF_ERROR(rt.Write(name, bytes));
  return OkStatus();
}

}  // namespace cloister::functions::lua
