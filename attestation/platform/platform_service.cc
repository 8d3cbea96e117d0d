// Quote signing, sealing-key derivation and the launch log of the emulated
// platform; see platform_service.h.
#include "attestation/platform/platform_service.h"

#include <chrono>

#include "attestation/launch_log.h"
#include "attestation/platform/protocol.h"

namespace cloister::attestation {
namespace {

constexpr std::string_view kSealSalt = "cloister-seal-v1";

void PutU32(Bytes& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error BadRequest(const std::string& msg) { return InvalidArgument(msg, kPlatformBadRequest); }

PlatformResponse ErrorResponse(const Error& e) {
  PlatformResponse r;
  *r.mutable_error() = ErrorToProto(e);
  return r;
}

}  // namespace

Result<SecretBytes> DeriveSealingKey(ByteView device_secret, SealPolicy policy, ByteView identity,
                                     uint32_t svn, ByteView key_id) {
  Bytes info;
  info.reserve(4 + identity.size() + 4 + key_id.size());
  PutU32(info, static_cast<uint32_t>(policy));
  info.insert(info.end(), identity.begin(), identity.end());
  PutU32(info, svn);
  info.insert(info.end(), key_id.begin(), key_id.end());
  return crypto::HkdfSha256(device_secret, AsBytes(kSealSalt), info, kSealingKeySize);
}

PlatformService::PlatformService(PlatformState state, Manifest manifest, Options options,
                                 const crypto::Digest& self, std::unique_ptr<CounterTable> counters)
    : state_(std::move(state)),
      manifest_(std::move(manifest)),
      options_(options),
      attestation_cert_der_(state_.attestation_cert.Der()),
      root_der_(state_.root_cert.Der()),
      counters_(counters ? std::move(counters) : CounterTable::InMemory()) {
  self_ = Identify(::getpid(), ::getuid(), ProcessMeasurement{self, 0});
  // Cannot fail: the first event is well formed.
  auto start = MakeEvent(0, self, "platform.start", ByteView(self), "cloister-platform started");
  if (start.ok()) *node_log_.add_events() = *std::move(start);
}

CallerIdentity PlatformService::Identify(pid_t pid, uid_t uid, const ProcessMeasurement& m) const {
  CallerIdentity id;
  id.pid = pid;
  id.uid = uid;
  id.measurement = m.measurement;
  id.debug = options_.debug_mode || m.tracer_pid != 0;
  if (const ManifestEntry* e = manifest_.FindByMeasurement(ByteView(m.measurement))) {
    id.in_manifest = true;
    id.name = e->name();
    id.signer = manifest_.signer();
    id.product_id = e->product_id();
    id.svn = e->svn();
  }
  return id;
}

Result<Quote> PlatformService::MakeQuote(const CallerIdentity& caller, SessionLaunchLog& session,
                                         ByteView report_data, ByteView nonce) {
  if (report_data.size() != kReportDataSize)
    return BadRequest("report_data must be exactly 64 bytes, got " +
                      std::to_string(report_data.size()));
  if (nonce.size() > kMaxNonceSize)
    return BadRequest("nonce must be at most 64 bytes, got " + std::to_string(nonce.size()));
  QuoteBody body;
  body.set_version(kQuoteVersion);
  body.set_platform_id(state_.platform_id.data(), state_.platform_id.size());
  body.set_measurement(caller.measurement.data(), caller.measurement.size());
  body.set_signer(std::string(AsChars(caller.signer)));
  body.set_product_id(caller.product_id);
  body.set_svn(caller.svn);
  body.set_security_level(static_cast<uint32_t>(options_.security_level));
  body.set_debug(caller.debug);
  body.set_report_data(std::string(AsChars(report_data)));
  body.set_nonce(std::string(AsChars(nonce)));
  body.set_timestamp_unix_ms(NowUnixMs());
  // The first quote ends the session's start: its log is fixed from now on.
  session.sealed = true;
  CLOISTER_ASSIGN_OR_RETURN(crypto::Digest launch, Replay(ReadLog(session)));
  body.set_launch_digest(launch.data(), launch.size());
  body.set_enclave_name(caller.name);
  body.set_pid(static_cast<uint32_t>(caller.pid));
  body.set_code_digest(caller.code_digest.data(), caller.code_digest.size());
  body.set_config_id(session.config_id);

  Quote quote;
  if (!body.SerializeToString(quote.mutable_body())) return Internal("cannot serialize quote body");
  CLOISTER_ASSIGN_OR_RETURN(Bytes sig, state_.attestation_key.Sign(AsBytes(quote.body())));
  quote.set_signature(std::string(AsChars(sig)));
  quote.add_cert_chain_der(std::string(AsChars(attestation_cert_der_)));
  return quote;
}

Result<SecretBytes> PlatformService::SealingKey(const CallerIdentity& caller, SealPolicy policy,
                                                ByteView key_id, uint32_t svn) const {
  if (key_id.size() < kMinKeyIdSize || key_id.size() > kMaxKeyIdSize)
    return BadRequest("key_id must be 16..64 bytes, got " + std::to_string(key_id.size()));
  Bytes identity;
  switch (policy) {
    case SEAL_POLICY_MRENCLAVE:
      // The caller's own svn: the measurement already pins the version.
      identity.assign(caller.measurement.begin(), caller.measurement.end());
      svn = caller.svn;
      break;
    case SEAL_POLICY_MRSIGNER:
      if (!caller.in_manifest || caller.signer.size() != crypto::kSha256Size)
        return PermissionDenied("MRSIGNER sealing keys are only for binaries in the signed manifest",
                                kPlatformUnknownEnclave);
      // Downgrade protection: an enclave may derive keys of its own and
      // older versions (to open old data), never of a newer one.
      if (svn > caller.svn)
        return PermissionDenied("requested svn " + std::to_string(svn) + " is above the caller's svn " +
                                    std::to_string(caller.svn),
                                kSealSvnTooHigh);
      identity = caller.signer;
      PutU32(identity, caller.product_id);
      break;
    default:
      return BadRequest("unknown seal policy " + std::to_string(static_cast<int>(policy)));
  }
  return DeriveSealingKey(state_.device_secret.view(), policy, identity, svn, key_id);
}

Result<LaunchEvent> PlatformService::MakeEvent(uint64_t index, const crypto::Digest& extender,
                                               std::string_view type, ByteView data_digest,
                                               std::string_view description) {
  if (type.size() > kMaxLaunchEventTypeSize || description.size() > kMaxLaunchEventDescriptionSize)
    return InvalidArgument("launch event type must be at most " +
                               std::to_string(kMaxLaunchEventTypeSize) + " bytes and description " +
                               std::to_string(kMaxLaunchEventDescriptionSize),
                           kLaunchEventTooLarge);
  LaunchEvent ev;
  ev.set_index(index);
  ev.set_type(std::string(type));
  ev.set_data_digest(std::string(AsChars(data_digest)));
  ev.set_extender(extender.data(), extender.size());
  ev.set_description(std::string(description));
  if (ev.ByteSizeLong() > kMaxLaunchEventBytes)
    return InvalidArgument("launch event larger than " + std::to_string(kMaxLaunchEventBytes) + " bytes",
                           kLaunchEventTooLarge);
  Status ok = CheckLaunchEvent(ev, index);
  if (!ok.ok()) return BadRequest(ok.error().message());
  return ev;
}

Result<LaunchLog> PlatformService::Extend(const CallerIdentity& caller, SessionLaunchLog& session,
                                          std::string_view type, ByteView data_digest,
                                          std::string_view description) {
  if (!caller.in_manifest)
    return PermissionDenied("only binaries in the signed manifest may extend the launch log",
                            kPlatformUnknownEnclave);
  if (session.sealed)
    return FailedPrecondition("this session's launch log is sealed: events are recorded only at "
                              "an enclave's start, before its first quote",
                              kLaunchLogSealed);
  if (session.events.size() >= kMaxSessionLaunchEvents)
    return ResourceExhausted("this session already recorded " +
                                 std::to_string(kMaxSessionLaunchEvents) + " launch events",
                             kLaunchLogFull);
  const uint64_t index = static_cast<uint64_t>(node_log_.events_size()) + session.events.size();
  CLOISTER_ASSIGN_OR_RETURN(LaunchEvent ev,
                            MakeEvent(index, caller.measurement, type, data_digest, description));
  session.events.push_back(std::move(ev));
  return ReadLog(session);
}

LaunchLog PlatformService::ReadLog(const SessionLaunchLog& session) const {
  LaunchLog log = node_log_;
  for (const auto& ev : session.events) *log.add_events() = ev;
  return log;
}

IdentityResponse PlatformService::Identity(const CallerIdentity& caller) const {
  IdentityResponse r;
  r.set_measurement(caller.measurement.data(), caller.measurement.size());
  r.set_signer(std::string(AsChars(caller.signer)));
  r.set_product_id(caller.product_id);
  r.set_svn(caller.svn);
  r.set_enclave_name(caller.name);
  r.set_security_level(static_cast<uint32_t>(options_.security_level));
  r.set_attestation_root_der(std::string(AsChars(root_der_)));
  return r;
}

Status PlatformService::SetConfig(const CallerIdentity& caller, SessionLaunchLog& session,
                                  ByteView config_id) const {
  if (!caller.in_manifest)
    return PermissionDenied("only binaries in the signed manifest may declare a configuration",
                            kPlatformUnknownEnclave);
  if (config_id.size() != crypto::kSha256Size)
    return BadRequest("config_id must be exactly 32 bytes, got " + std::to_string(config_id.size()));
  // Like SGX's CONFIGID, fixed before the enclave first proves who it is:
  // a quote's config id is the one the enclave started with.
  if (session.sealed || !session.config_id.empty())
    return FailedPrecondition("this session's configuration is fixed: it is declared once, "
                              "before the first quote",
                              kPlatformConfigFixed);
  session.config_id = ToString(config_id);
  return OkStatus();
}

namespace {

// Counters belong to the MRSIGNER identity, and only manifest binaries have one.
Result<CounterOwner> CounterOwnerOf(const CallerIdentity& caller) {
  if (!caller.in_manifest || caller.signer.size() != crypto::kSha256Size)
    return PermissionDenied("monotonic counters are only for binaries in the signed manifest",
                            kPlatformUnknownEnclave);
  CounterOwner owner;
  std::copy(caller.signer.begin(), caller.signer.end(), owner.signer.begin());
  owner.product_id = caller.product_id;
  return owner;
}

}  // namespace

Result<uint64_t> PlatformService::ReadCounter(const CallerIdentity& caller,
                                              std::string_view name) const {
  CLOISTER_ASSIGN_OR_RETURN(CounterOwner owner, CounterOwnerOf(caller));
  return counters_->Read(owner, name);
}

Result<uint64_t> PlatformService::AdvanceCounter(const CallerIdentity& caller,
                                                 std::string_view name, uint64_t to) {
  CLOISTER_ASSIGN_OR_RETURN(CounterOwner owner, CounterOwnerOf(caller));
  return counters_->Advance(owner, name, to);
}

PlatformResponse PlatformService::Handle(const CallerIdentity& caller, SessionLaunchLog& session,
                                         const PlatformRequest& request) {
  PlatformResponse resp;
  switch (request.kind_case()) {
    case PlatformRequest::kQuote: {
      auto q = MakeQuote(caller, session, AsBytes(request.quote().report_data()),
                         AsBytes(request.quote().nonce()));
      if (!q.ok()) return ErrorResponse(q.error());
      *resp.mutable_quote() = *std::move(q);
      return resp;
    }
    case PlatformRequest::kSealingKey: {
      const auto& r = request.sealing_key();
      auto key = SealingKey(caller, r.policy(), AsBytes(r.key_id()), r.svn());
      if (!key.ok()) return ErrorResponse(key.error());
      // The caller (server) cleanses this field after sending it.
      resp.mutable_sealing_key()->set_key(std::string(AsChars(key->view())));
      return resp;
    }
    case PlatformRequest::kExtend: {
      const auto& r = request.extend();
      auto log = Extend(caller, session, r.type(), AsBytes(r.data_digest()), r.description());
      if (!log.ok()) return ErrorResponse(log.error());
      *resp.mutable_log() = *std::move(log);
      return resp;
    }
    case PlatformRequest::kSetConfig: {
      if (auto st = SetConfig(caller, session, AsBytes(request.set_config().config_id())); !st.ok())
        return ErrorResponse(st.error());
      *resp.mutable_identity() = Identity(caller);
      resp.mutable_identity()->set_config_id(session.config_id);
      return resp;
    }
    case PlatformRequest::kCounter: {
      const auto& r = request.counter();
      auto v = r.advance() ? AdvanceCounter(caller, r.name(), r.to()) : ReadCounter(caller, r.name());
      if (!v.ok()) return ErrorResponse(v.error());
      resp.mutable_counter()->set_value(*v);
      return resp;
    }
    case PlatformRequest::kReadLog:
      *resp.mutable_log() = ReadLog(session);
      return resp;
    case PlatformRequest::kIdentity:
      *resp.mutable_identity() = Identity(caller);
      return resp;
    case PlatformRequest::KIND_NOT_SET:
      break;
  }
  return ErrorResponse(BadRequest("request carries no known operation"));
}

}  // namespace cloister::attestation
