// cloister-exec's one-shot calls (docs/exec.md; the task workers are
// task_worker.h): the gateway forwards the caller's CallRequest with a
// grant; the built-in function runs here through the runtime interface,
// and outputs go back only if the function succeeded.
#pragma once

#include "proto/exec.grpc.pb.h"
#include "services/common/grant_verifier.h"

namespace cloister::exec {

using services::Authorized;
using services::GrantVerifier;

// The logic layer: takes only Authorized<> requests.
class ExecCore {
 public:
  Result<api::CallResponse> Call(const Authorized<api::CallRequest>& req) const;
  Result<api::ListFunctionsResponse> ListFunctions(
      const Authorized<api::ListFunctionsRequest>& req) const;
};

class ExecService final : public api::Exec::Service {
 public:
  ExecService(GrantVerifier* verifier, int security_level)
      : verifier_(verifier), security_level_(security_level) {}

  grpc::Status Call(grpc::ServerContext* ctx, const api::CallRequest* req,
                    api::CallResponse* resp) override;
  grpc::Status ListFunctions(grpc::ServerContext* ctx, const api::ListFunctionsRequest* req,
                             api::ListFunctionsResponse* resp) override;
  grpc::Status Health(grpc::ServerContext* ctx, const api::HealthRequest* req,
                      api::HealthResponse* resp) override;

 private:
  GrantVerifier* verifier_;
  ExecCore core_;
  int security_level_;
};

}  // namespace cloister::exec
