// Rewrites gRPC's empty INTERNAL for unparsable requests; see
// parse_error_interceptor.h.
#include "services/common/parse_error_interceptor.h"

#include <string>

namespace cloister::services {
namespace {

using grpc::experimental::InterceptionHookPoints;

class ParseErrorInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ParseErrorInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method() ? info->method() : "?") {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status st = methods->GetSendStatus();
      // Our own INTERNAL errors always carry a message; an empty one is
      // gRPC's deserialization failure.
      if (st.error_code() == grpc::StatusCode::INTERNAL && st.error_message().empty())
        methods->ModifySendStatus(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            "request to " + method_ + " is not a valid protobuf message of its type",
            "REQUEST_MALFORMED"));
    }
    methods->Proceed();
  }

 private:
  std::string method_;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // gRPC takes ownership of the returned interceptor (its API contract).
    return new ParseErrorInterceptor(info);  // NOLINT(cppcoreguidelines-owning-memory)
  }
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeParseErrorInterceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> v;
  v.push_back(std::make_unique<Factory>());
  return v;
}

}  // namespace cloister::services
