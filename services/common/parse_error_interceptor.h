// A server interceptor that turns gRPC's own reply to a request that does
// not parse (INTERNAL with an empty message, produced before any handler
// runs) into a clear InvalidArgument [REQUEST_MALFORMED] naming the method,
// so garbage bytes on any method get an error a person can act on.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <vector>

namespace cloister::services {

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeParseErrorInterceptors();

}  // namespace cloister::services
