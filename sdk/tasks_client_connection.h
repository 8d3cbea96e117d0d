// The tasks client's internals shared by its .cc files (tasks_client.cc,
// tasks_client_results.cc): the connection every call goes through and the
// stub adapter of its calls. Not part of the SDK's API.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>

#include "common/grpc_status.h"
#include "sdk/gateway_channel.h"
#include "sdk/tasks_client.h"

namespace cloister::sdk {
namespace tasks_internal {

class Connection {
 public:
  Connection(Client* client, ClientOptions options, std::shared_ptr<grpc::Channel> channel)
      : client(client),
        options(std::move(options)),
        channel(std::move(channel)),
        stub(tasks::Tasks::NewStub(this->channel)) {}

  static Result<std::shared_ptr<Connection>> Open(Client* client, ClientOptions options) {
    if (client == nullptr) return InvalidArgument("no client");
    CLOISTER_ASSIGN_OR_RETURN(auto channel, OpenGatewayChannel(options));
    return std::make_shared<Connection>(client, std::move(options), std::move(channel));
  }

  // One unary call with the deadline and the Client's credential (a token
  // close to expiry is refreshed through the Client first, once).
  template <typename Req, typename Resp, typename Fn>
  Result<Resp> Invoke(const Req& req, Fn fn,
                      std::optional<std::chrono::milliseconds> timeout = {}) {
    auto session = client->session();
    if (!session) return Unauthenticated("not logged in", kNotLoggedIn);
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (session->api_key.empty() && !session->refresh_token.empty() &&
        session->expires_unix - now < options.refresh_margin.count()) {
      CLOISTER_RETURN_IF_ERROR(client->WhoAmI());
      session = client->session();
      if (!session) return Unauthenticated("session ended", kNotLoggedIn);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout.value_or(options.call_timeout));
    if (!session->api_key.empty())
      ctx.AddMetadata("authorization", "ApiKey " + session->api_key);
    else
      ctx.AddMetadata("authorization", "Bearer " + session->token);
    Resp resp;
    CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(fn(stub.get(), &ctx, req, &resp)));
    return resp;
  }

  Client* client;
  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<tasks::Tasks::Stub> stub;
};

}  // namespace tasks_internal

// A Connection::Invoke call: `M` is the Tasks method.
#define CLOISTER_TASKS_STUB(M)                                                  \
  [](tasks::Tasks::Stub* stub_, grpc::ClientContext* stub_ctx, const auto& stub_req, \
     auto* stub_resp) { return stub_->M(stub_ctx, stub_req, stub_resp); }

}  // namespace cloister::sdk
