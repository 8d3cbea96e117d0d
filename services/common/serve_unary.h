// ServeUnary: the body of every backend's unary gRPC handler, written once:
// admit the call through the grant verifier, run the core with the proven
// caller, map the result to a gRPC status (common/grpc_status.h). Most
// handlers are one line of CLOISTER_SERVE_UNARY; the Health RPCs one call
// of HealthReply.
//
//   return services::ServeUnary(*verifier_, ctx, req, resp, "/pkg.Svc/M",
//       [this](const Caller& c, const M##Request& r) { return core_->M(c, r); },
//       [this] { core_->CountRefusal(); });
//   CLOISTER_SERVE_UNARY(TasksService, tasks::Tasks, tasks, CreateTask)
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <string>
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

// "/<package.Service>/<method>", the path the grant and the method table name.
inline std::string FullMethod(std::string_view service_full_name, std::string_view method) {
  std::string path;
  path.reserve(service_full_name.size() + method.size() + 2);
  path.append("/").append(service_full_name).append("/").append(method);
  return path;
}

// The reply of a backend's internal Health RPC: SERVING, the enclave's
// security level and the core's counters (`Resp` has those three fields).
template <typename Resp>
Resp HealthReply(int security_level, const std::map<std::string, uint64_t>& counters) {
  Resp resp;
  resp.set_status("SERVING");
  resp.set_security_level(security_level);
  for (const auto& [name, value] : counters) (*resp.mutable_counters())[name] = value;
  return resp;
}

}  // namespace cloister::services

// Defines `Class::M`, the handler of the unary RPC M of package `Pkg`
// (generated service class `Grpc`, e.g. tasks::Tasks): ServeUnary over
// core_->M(caller, request), counting refusals with core_->CountRefusal().
// `Class` has the members verifier_ (GrantVerifier*) and core_.
#define CLOISTER_SERVE_UNARY(Class, Grpc, Pkg, M)                                           \
  grpc::Status Class::M(grpc::ServerContext* ctx, const Pkg::M##Request* req,               \
                        Pkg::M##Response* resp) {                                           \
    static const std::string kPath = ::cloister::services::FullMethod(Grpc::service_full_name(), #M); \
    return ::cloister::services::ServeUnary(                                                \
        *verifier_, ctx, req, resp, kPath,                                                  \
        [this](const auto& c, const Pkg::M##Request& r) { return core_->M(c, r); },         \
        [this] { core_->CountRefusal(); });                                                 \
  }
