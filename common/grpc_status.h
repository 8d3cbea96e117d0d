// The one mapping between Cloister's Error and grpc::Status. Codes are
// numerically identical; the stable reason travels in error_details so a
// client can match on it, and the message is what the caller may see.
#pragma once

#include <grpcpp/support/status.h>

#include "common/result.h"

namespace cloister {

grpc::Status ToGrpcStatus(const Status& s);
Status FromGrpcStatus(const grpc::Status& s);

}  // namespace cloister
