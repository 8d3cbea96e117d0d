// cloister-tasks: the function registry, the multi-party task lifecycle and
// the work queue of execution workers (docs/tasks.md). Accepts public calls
// only from the attested gateway (with a grant) and queue calls only from
// cloister-exec; checks assigned files with cloister-storage
// (--storage-addr, added by the ServiceRunner).
// Extra flags:
//   --db URL             store URL (default sqlite:///<data-dir>/tasks.db)
//   --lease-ms N         a worker's lease, renewed by heartbeats (default 30000)
//   --max-attempts N     claims per task before a lost lease fails it (default 3)
//   --backoff-ms N       before the first retry, doubled per attempt (default 1000)
#include <iostream>

#include "common/logging.h"
#include "services/common/grant_verifier.h"
#include "services/common/periodic_worker.h"
#include "services/common/service_runner.h"
#include "services/common/task_grant.h"
#include "services/tasks/storage_link.h"
#include "services/tasks/tasks_service.h"

namespace {

// Lost leases are noticed within a second even when no worker polls.
constexpr auto kExpireEvery = std::chrono::seconds(1);

}  // namespace

int main(int argc, char** argv) {
  using namespace cloister;
  services::ServiceRunner runner("tasks");
  std::string db_url;
  tasks_service::TasksOptions options;
  runner.app().add_option("--db", db_url, "store URL (default sqlite:///<data-dir>/tasks.db)");
  runner.app()
      .add_option("--lease-ms", options.lease_ms, "a claimed task's lease; heartbeats renew it")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}))
      ->capture_default_str();
  runner.app()
      .add_option("--max-attempts", options.max_attempts,
                  "claims per task before an expired lease fails it")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  runner.app()
      .add_option("--backoff-ms", options.backoff_ms,
                  "wait before the first retry of a task whose lease expired; doubles per attempt")
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}))
      ->capture_default_str();
  if (int rc = runner.ParseFlags(argc, argv); rc >= 0) return rc;
  auto* enclave = runner.StartEnclave();
  if (enclave == nullptr) return 2;
  auto* audit = runner.OpenAudit();
  if (audit == nullptr) return 2;
  if (auto url = runner.DbUrl(db_url)) db_url = *std::move(url);
  else return 2;

  options.sign_task_grant = [enclave](internal::TaskGrant g) {
    return services::SignTaskGrant(*enclave, std::move(g));
  };
  auto files = tasks_service::MakeStorageFileLookup(runner.PeerChannel("storage"), enclave);
  auto core = tasks_service::TasksCore::Open(db_url, std::move(files), audit, options);
  if (!core.ok()) {
    std::cerr << "cloister-tasks: cannot open the task store: " << core.error().ToString()
              << std::endl;
    return 2;
  }

  // Expired leases every second; stops (and joins) before the core goes.
  services::PeriodicWorker expirer(kExpireEvery, [&] {
    if (auto n = (*core)->ExpireLeases(); !n.ok())
      LOG_WARN("tasks: expiring leases failed", {{"error", n.error().ToString()}});
  });

  services::GrantVerifier verifier(enclave, audit, runner.FollowAuth());
  tasks_service::TasksService service(&verifier, core->get(), enclave->security_level());
  int rc = runner.Serve({&service});
  expirer.Stop();
  return rc;
}
