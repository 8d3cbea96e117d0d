// cloister-exec: the execution enclave binary. Accepts calls only from the
// attested gateway (with a grant); runs built-in functions. Its task
// workers (docs/exec.md) pull approved multi-party tasks from
// cloister-tasks and run them over inputs from cloister-storage and
// cloister-keyvault.
#include <cstdlib>

#include "common/logging.h"
#include "services/common/service_runner.h"
#include "services/exec/exec_service.h"
#include "services/exec/task_io.h"
#include "services/exec/task_worker.h"

namespace {

// Less than the CLI's 10 s between SIGTERM and SIGKILL, after the drain.
constexpr std::chrono::seconds kWorkerGrace{5};
constexpr uint64_t kMinInputBytes = 1024;
constexpr uint64_t kMaxInputBytes = uint64_t{64} << 30;

}  // namespace

int main(int argc, char** argv) {
  cloister::services::ServiceRunner runner("exec");
  int task_workers = 2;
  uint64_t max_input_bytes = uint64_t{1} << 30;
  runner.app()
      .add_option("--task-workers", task_workers,
                  "threads pulling tasks from cloister-tasks (0: none; at most 64)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  runner.app()
      .add_option("--task-max-input-bytes", max_input_bytes,
                  "the most input ciphertext one task may read, all inputs together")
      ->check(CLI::Range(kMinInputBytes, kMaxInputBytes))
      ->capture_default_str();
  if (int rc = runner.ParseFlags(argc, argv); rc >= 0) return rc;
  auto* enclave = runner.StartEnclave();
  if (enclave == nullptr) return 2;
  auto* audit = runner.OpenAudit();
  if (audit == nullptr) return 2;
  cloister::services::GrantVerifier verifier(enclave, audit, runner.FollowAuth());
  cloister::exec::ExecService service(&verifier, enclave->security_level());

  std::unique_ptr<cloister::exec::TaskIo> io;
  std::unique_ptr<cloister::exec::WorkerPool> pool;
  if (const int n = cloister::exec::ClampWorkers(task_workers); n > 0) {
    if (n != task_workers)
      LOG_WARN("--task-workers clamped", {{"requested", task_workers}, {"workers", n}});
    io = cloister::exec::MakeGrpcTaskIo({runner.PeerChannel("tasks"), runner.PeerChannel("storage"),
                                         runner.PeerChannel("keyvault")},
                                        enclave);
    cloister::exec::WorkerPoolOptions opts;
    opts.workers = n;
    // Level >= 3: every Lua task in a forked child under seccomp.
    opts.runner.forked_lua = enclave->security_level() >= 3;
    opts.runner.max_input_bytes = max_input_bytes;
    pool = std::make_unique<cloister::exec::WorkerPool>(io.get(), std::move(opts));
    pool->Start();
  } else {
    LOG_INFO("task workers disabled (--task-workers 0)");
  }
  // On SIGTERM the workers stop before the server drains, so none claims a
  // task while the process is going away.
  bool workers_stopped = true;
  runner.OnStopping([&] {
    if (pool) workers_stopped = pool->Stop(kWorkerGrace);
  });
  const int rc = runner.Serve({&service});
  if (!workers_stopped) {
    // A function is still running and cannot be interrupted from here:
    // end the process; its task's lease expires and it is retried.
    std::_Exit(rc);
  }
  return rc;
}
