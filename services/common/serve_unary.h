// ServeUnary: the body of every backend's unary gRPC handler, written once:
// admit the call through the grant verifier, run the core with the proven
// caller, map the result to a gRPC status (common/grpc_status.h).
//
//   return services::ServeUnary(*verifier_, ctx, req, resp, "/pkg.Svc/M",
//       [this](const Caller& c, const M##Request& r) { return core_->M(c, r); },
//       [this] { core_->CountRefusal(); });
#pragma once

#include <grpcpp/grpcpp.h>

#include <string_view>

#include "common/grpc_status.h"
#include "services/common/grant_verifier.h"

namespace cloister::services {

// `on_refusal` runs when the verifier refuses the call (a counter).
template <typename Req, typename Resp, typename Fn, typename OnRefusal>
grpc::Status ServeUnary(GrantVerifier& verifier, grpc::ServerContext* ctx, const Req* req,
                        Resp* resp, std::string_view full_method, Fn fn, OnRefusal on_refusal) {
  auto authz = verifier.Admit(*ctx, *req, full_method);
  if (!authz.ok()) {
    on_refusal();
    return ToGrpcStatus(authz.error());
  }
  Result<Resp> r = fn(authz->caller(), authz->request());
  if (!r.ok()) return ToGrpcStatus(r.error());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

template <typename Req, typename Resp, typename Fn>
grpc::Status ServeUnary(GrantVerifier& verifier, grpc::ServerContext* ctx, const Req* req,
                        Resp* resp, std::string_view full_method, Fn fn) {
  return ServeUnary(verifier, ctx, req, resp, full_method, std::move(fn), [] {});
}

}  // namespace cloister::services
