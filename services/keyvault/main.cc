// cloister-keyvault: the HSM-like key service behind the gateway. Accepts
// calls only from the attested gateway (with a grant), cloister-storage
// (DestroyFileKey) and cloister-exec (file keys of a task's inputs and
// outputs, under a task grant); keys are generated
// and used in this enclave and sealed at rest with its MRSIGNER sealing key
// at its svn (a later signed release opens it, an earlier one never).
// Extra flag:
//   --db URL   storage URL (default sqlite:///<data-dir>/keyvault.db)
#include <iostream>

#include "services/common/service_runner.h"
#include "services/keyvault/keyvault_service.h"

int main(int argc, char** argv) {
  using namespace cloister;
  services::ServiceRunner runner("keyvault");
  std::string db_url;
  runner.app().add_option("--db", db_url, "storage URL (default sqlite:///<data-dir>/keyvault.db)");
  std::string accept_restore_file;
  runner.app().add_option("--accept-restore-file", accept_restore_file,
                          "if this file exists, accept a database older than the platform "
                          "counter once, then delete the file (cloister cluster accept-restore)");
  if (int rc = runner.ParseFlags(argc, argv); rc >= 0) return rc;
  auto* enclave = runner.StartEnclave();
  if (enclave == nullptr) return 2;
  auto* audit = runner.OpenAudit();
  if (audit == nullptr) return 2;
  if (auto url = runner.DbUrl(db_url)) db_url = *std::move(url);
  else return 2;
  // Key rows and grants are MACed under a sealed key and the database's
  // version is kept in a platform counter (services/common/row_integrity.h).
  attestation::PlatformSealer integrity_sealer(&enclave->platform());
  const std::string& cluster_id = enclave->trust().manifest.body().cluster_id();
  services::RowIntegrity::Config integrity{&integrity_sealer, &enclave->platform(),
                                           services::IntegrityCounterName("keyvault", cluster_id),
                                           services::AcceptRestoreRequested(accept_restore_file)};
  auto store = keyvault_store::KeyStore::Open(
      db_url, std::make_unique<keyvault_store::PlatformSealer>(&enclave->platform()), &integrity);
  if (!store.ok()) {
    std::cerr << "cloister-keyvault: cannot open the key store: " << store.error().ToString()
              << std::endl;
    return 2;
  }
  services::AcceptRestoreDone(accept_restore_file, integrity);
  services::GrantVerifier verifier(enclave, audit, runner.FollowAuth());
  // Task grants (cloister-tasks' signature over what a claimed task may
  // read and write) for the execution enclave's file-key calls.
  services::TaskGrantVerifier task_grants(enclave);
  keyvault_service::KeyVaultCore core(store->get(), audit);
  keyvault_service::KeyVaultService service(&verifier, &task_grants, &core,
                                            enclave->security_level());
  return runner.Serve({&service});
}
