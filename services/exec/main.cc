// cloister-exec: the execution enclave binary. Accepts calls only from the
// attested gateway (with a grant); runs built-in functions.
#include "services/common/service_runner.h"
#include "services/exec/exec_service.h"

int main(int argc, char** argv) {
  cloister::services::ServiceRunner runner("exec");
  if (int rc = runner.ParseFlags(argc, argv); rc >= 0) return rc;
  auto* enclave = runner.StartEnclave();
  if (enclave == nullptr) return 2;
  auto* audit = runner.OpenAudit();
  if (audit == nullptr) return 2;
  cloister::services::GrantVerifier verifier(enclave, audit, runner.FollowAuth());
  cloister::exec::ExecService service(&verifier, enclave->security_level());
  return runner.Serve({&service});
}
