// cloister-storage: stores users' encrypted files (Cloister file format
// ciphertext, never decrypted here) behind the gateway. Accepts calls only
// from the attested gateway (with a grant), cloister-tasks (StatFileForTask)
// and cloister-exec (a task's inputs and outputs, under a task grant);
// deletes file keys through cloister-keyvault (--keyvault-addr, added by
// the ServiceRunner).
// Extra flags:
//   --db URL            catalog URL (default sqlite:///<data-dir>/storage.db)
//   --quota-bytes N     per user: stored + reserved ciphertext bytes (default 10 GiB)
//   --quota-files N     per user: stored files + open uploads (default 10000)
//   --upload-ttl-s N    an upload not completed by then is collected (default 86400)
#include <ctime>
#include <iostream>

#include "common/logging.h"
#include "services/common/grant_verifier.h"
#include "services/common/periodic_worker.h"
#include "services/common/service_runner.h"
#include "services/common/task_grant.h"
#include "services/storage/keyvault_link.h"
#include "services/storage/storage_service.h"

namespace {

constexpr auto kCollectEvery = std::chrono::minutes(1);

void CollectOnce(cloister::storage_service::StorageCore& core) {
  auto n = core.CollectExpired(static_cast<int64_t>(std::time(nullptr)));
  if (!n.ok())
    LOG_WARN("storage: collecting expired uploads failed", {{"error", n.error().ToString()}});
  else if (*n > 0)
    LOG_INFO("storage: collected expired uploads", {{"count", *n}});
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cloister;
  services::ServiceRunner runner("storage");
  std::string db_url;
  storage_service::StorageOptions options;
  runner.app().add_option("--db", db_url, "catalog URL (default sqlite:///<data-dir>/storage.db)");
  runner.app()
      .add_option("--quota-bytes", options.quota_bytes,
                  "per user: bytes of stored files plus open uploads' declared sizes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  runner.app()
      .add_option("--quota-files", options.quota_files, "per user: stored files plus open uploads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  runner.app()
      .add_option("--upload-ttl-s", options.upload_ttl_s,
                  "seconds after which an upload not completed is collected")
      ->check(CLI::Range(int64_t{1}, int64_t{365} * 86400))
      ->capture_default_str();
  if (int rc = runner.ParseFlags(argc, argv); rc >= 0) return rc;
  auto* enclave = runner.StartEnclave();
  if (enclave == nullptr) return 2;
  auto* audit = runner.OpenAudit();
  if (audit == nullptr) return 2;
  if (auto url = runner.DbUrl(db_url)) db_url = *std::move(url);
  else return 2;

  auto shredder = storage_service::MakeKeyVaultShredder(runner.PeerChannel("keyvault"), enclave);
  auto core = storage_service::StorageCore::Open(runner.data_dir(), db_url, std::move(shredder),
                                                 audit, options);
  if (!core.ok()) {
    std::cerr << "cloister-storage: cannot open the file store: " << core.error().ToString()
              << std::endl;
    return 2;
  }
  // Before serving: what a crash left half done (parts without a session,
  // blobs without a row) and what expired while we were down.
  if (auto orphans = (*core)->CollectOrphans(); !orphans.ok()) {
    std::cerr << "cloister-storage: cannot sweep the data dir: " << orphans.error().ToString()
              << std::endl;
    return 2;
  } else {
    LOG_INFO("storage: swept the data dir", {{"parts_removed", orphans->parts_removed},
                                             {"blobs_removed", orphans->blobs_removed},
                                             {"blobs_restored", orphans->blobs_restored}});
  }
  CollectOnce(**core);

  // Expired uploads every minute; stops (and joins) before the core goes.
  services::PeriodicWorker collector(kCollectEvery, [&] { CollectOnce(**core); });

  services::GrantVerifier verifier(enclave, audit, runner.FollowAuth());
  // Task grants (cloister-tasks' signature over what a claimed task may
  // read and write) for the execution enclave's ReadFileForTask and
  // StoreTaskOutput.
  services::TaskGrantVerifier task_grants(enclave);
  storage_service::StorageService service(&verifier, &task_grants, core->get(),
                                          enclave->security_level());
  int rc = runner.Serve({&service});
  collector.Stop();
  return rc;
}
