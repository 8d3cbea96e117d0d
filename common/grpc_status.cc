// Error <-> grpc::Status; see grpc_status.h.
#include "common/grpc_status.h"

namespace cloister {

grpc::Status ToGrpcStatus(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  const Error& e = s.error();
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(e.code())), e.message(),
                      e.reason());
}

Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return OkStatus();
  int code = static_cast<int>(s.error_code());
  if (code < 0 || code > 16) code = static_cast<int>(Code::kUnknown);
  std::string reason = s.error_details();
  if (reason.size() > 64) reason.clear();  // not one of ours
  return Error(static_cast<Code>(code), s.error_message(), reason);
}

}  // namespace cloister
