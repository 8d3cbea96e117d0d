// Client side of the platform socket protocol; see platform_client.h.
#include "attestation/platform/platform_client.h"

#include <mutex>

#include "attestation/platform/protocol.h"
#include "attestation/platform/sys/unix_socket.h"

namespace cloister::attestation {
namespace {

// Signing a quote takes well under a second; this only stops a wedged
// daemon from hanging the enclave forever.
constexpr int kReplyTimeoutMs = 30000;

Error Broken(const std::string& why) {
  return Unavailable("platform session lost: " + why, kPlatformUnavailable);
}

}  // namespace

struct PlatformClient::Impl {
  std::mutex mu;
  sys::UniqueFd fd;       // guarded by mu
  bool broken = false;    // guarded by mu
  IdentityResponse identity;  // set once in Connect

  // One framed round trip. Any transport or framing error poisons the
  // session: the next request could otherwise read a stale reply.
  Result<PlatformResponse> RoundTrip(ByteView payload) {
    std::lock_guard<std::mutex> lock(mu);
    if (broken || !fd.valid()) return Broken("connection previously failed");
    if (Status s = WriteFrame(fd.get(), payload); !s.ok()) {
      if (s.error().reason() == kFrameTooLarge) return s.error();  // nothing was sent
      broken = true;
      // The daemon may have refused this connection (not an allowed
      // account, too many connections) and closed before reading: its
      // reason is still queued for us, and is what the caller needs.
      if (auto early = ReadFrame(fd.get(), 100, 100); early.ok()) {
        PlatformResponse resp;
        if (resp.ParseFromArray(early->data(), static_cast<int>(early->size())) && resp.has_error())
          return ErrorFromProto(resp.error());
      }
      return Broken(s.error().message());
    }
    auto frame = ReadFrame(fd.get(), kReplyTimeoutMs, kReplyTimeoutMs);
    if (!frame.ok()) {
      broken = true;
      return Broken(frame.error().message());
    }
    PlatformResponse resp;
    const bool parsed = resp.ParseFromArray(frame->data(), static_cast<int>(frame->size()));
    Cleanse(*frame);  // may hold a sealing key
    if (!parsed) {
      broken = true;
      return Broken("malformed response from platform");
    }
    return resp;
  }
};

PlatformClient::PlatformClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PlatformClient::PlatformClient(PlatformClient&&) noexcept = default;
PlatformClient& PlatformClient::operator=(PlatformClient&&) noexcept = default;
PlatformClient::~PlatformClient() = default;

Result<PlatformClient> PlatformClient::Connect(const std::string& socket_path) {
  auto impl = std::make_unique<Impl>();
  CLOISTER_ASSIGN_OR_RETURN(impl->fd, sys::ConnectUnix(socket_path));
  PlatformClient client(std::move(impl));
  CLOISTER_ASSIGN_OR_RETURN(client.impl_->identity, client.Identity());
  return client;
}

const IdentityResponse& PlatformClient::cached_identity() const { return impl_->identity; }

Result<PlatformResponse> PlatformClient::Call(const PlatformRequest& request,
                                              PlatformResponse::KindCase expected) {
  std::string payload;
  if (!request.SerializeToString(&payload)) return Internal("cannot serialize platform request");
  CLOISTER_ASSIGN_OR_RETURN(PlatformResponse resp, impl_->RoundTrip(AsBytes(payload)));
  if (resp.has_error()) return ErrorFromProto(resp.error());
  if (resp.kind_case() != expected)
    return Internal("platform answered with the wrong response type", kMessageMalformed);
  return resp;
}

Result<PlatformResponse> PlatformClient::CallRawForTesting(ByteView frame_payload) {
  return impl_->RoundTrip(frame_payload);
}

Result<Quote> PlatformClient::GetQuote(ByteView report_data, ByteView nonce) {
  PlatformRequest req;
  req.mutable_quote()->set_report_data(std::string(AsChars(report_data)));
  req.mutable_quote()->set_nonce(std::string(AsChars(nonce)));
  CLOISTER_ASSIGN_OR_RETURN(PlatformResponse resp, Call(req, PlatformResponse::kQuote));
  return std::move(*resp.mutable_quote());
}

Result<SecretBytes> PlatformClient::GetSealingKey(SealPolicy policy, ByteView key_id, uint32_t svn) {
  PlatformRequest req;
  req.mutable_sealing_key()->set_policy(policy);
  req.mutable_sealing_key()->set_key_id(std::string(AsChars(key_id)));
  req.mutable_sealing_key()->set_svn(svn);
  CLOISTER_ASSIGN_OR_RETURN(PlatformResponse resp, Call(req, PlatformResponse::kSealingKey));
  std::string& key = *resp.mutable_sealing_key()->mutable_key();
  SecretBytes out(AsBytes(key));
  Cleanse(key);
  if (out.size() != kSealingKeySize)
    return Internal("platform returned a sealing key of the wrong size", kMessageMalformed);
  return out;
}

Result<LaunchLog> PlatformClient::Extend(std::string_view type, ByteView digest,
                                         std::string_view description) {
  PlatformRequest req;
  req.mutable_extend()->set_type(std::string(type));
  req.mutable_extend()->set_data_digest(std::string(AsChars(digest)));
  req.mutable_extend()->set_description(std::string(description));
  CLOISTER_ASSIGN_OR_RETURN(PlatformResponse resp, Call(req, PlatformResponse::kLog));
  return std::move(*resp.mutable_log());
}

Result<IdentityResponse> PlatformClient::SetConfig(ByteView config_id) {
  PlatformRequest req;
  req.mutable_set_config()->set_config_id(std::string(AsChars(config_id)));
  CLOISTER_ASSIGN_OR_RETURN(PlatformResponse resp, Call(req, PlatformResponse::kIdentity));
  return std::move(*resp.mutable_identity());
}

Result<LaunchLog> PlatformClient::ReadLog() {
  PlatformRequest req;
  req.mutable_read_log();
  CLOISTER_ASSIGN_OR_RETURN(PlatformResponse resp, Call(req, PlatformResponse::kLog));
  return std::move(*resp.mutable_log());
}

Result<uint64_t> PlatformClient::ReadCounter(std::string_view name) {
  PlatformRequest req;
  req.mutable_counter()->set_name(std::string(name));
  CLOISTER_ASSIGN_OR_RETURN(PlatformResponse resp, Call(req, PlatformResponse::kCounter));
  return resp.counter().value();
}

Result<uint64_t> PlatformClient::AdvanceCounter(std::string_view name, uint64_t to) {
  PlatformRequest req;
  req.mutable_counter()->set_name(std::string(name));
  req.mutable_counter()->set_advance(true);
  req.mutable_counter()->set_to(to);
  CLOISTER_ASSIGN_OR_RETURN(PlatformResponse resp, Call(req, PlatformResponse::kCounter));
  // The platform never moves a counter down; a reply below `to` is a broken daemon.
  if (resp.counter().value() < to)
    return Internal("platform answered a counter advance with a lower value", kMessageMalformed);
  return resp.counter().value();
}

Result<IdentityResponse> PlatformClient::Identity() {
  PlatformRequest req;
  req.mutable_identity();
  CLOISTER_ASSIGN_OR_RETURN(PlatformResponse resp, Call(req, PlatformResponse::kIdentity));
  return std::move(*resp.mutable_identity());
}

}  // namespace cloister::attestation
