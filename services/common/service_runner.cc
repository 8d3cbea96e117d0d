// The common main() of Cloister services; see service_runner.h.
#include "services/common/service_runner.h"

#include <grpcpp/resource_quota.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include "attestation/sealing.h"
#include "common/crypto/hash.h"
#include "services/common/audit_attested.h"
#include "services/common/parse_error_interceptor.h"
#include "proto/method_table.h"
#include "services/topology/service_spec.h"
#include "common/fs.h"
#include "common/json_escape.h"
#include "common/logging.h"

namespace cloister::services {
namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
}  // namespace

ServiceRunner::ServiceRunner(std::string role)
    : role_(std::move(role)),
      app_("cloister-" + role_ + " — a Cloister service enclave") {
  // Every option's value is part of the enclave's configuration, defaults
  // included (enclave_config.h), so an omitted flag and its default hash
  // alike.
  app_.option_defaults()->always_capture_default();
  app_.add_flag("--print-config", print_config_,
                "print this enclave's configuration (text and config id, JSON) for the "
                "auditors to sign, and exit without starting");
  app_.add_option("--trust", trust_path_, "trust.toml (attestation root, manifest, auditors)")
      ->required();
  app_.add_option("--listen", listen_, "address to serve on (port 0: pick one)")
      ->capture_default_str();
  app_.add_option("--port-file", port_file_, "write the bound port here once serving");
  app_.add_option("--data-dir", data_dir_, "state directory of this service")->required();
  app_.add_option("--cluster-secret", cluster_secret_,
                  "level 1 only: the cluster secret file (32 bytes, mode 0600) that grants are "
                  "MACed with; created by `cloister cluster init`");
  app_.add_option("--log-level", log_level_, "trace|debug|info|warn|error")->capture_default_str();
  app_.add_option("--log-file", log_file_, "log to this file instead of stderr");
  app_.add_flag("--log-json", log_json_, "JSON log lines");
  app_.add_option("--audit-sync", audit_sync_,
                  "always: fsync each audit entry before answering (group commit); interval: "
                  "write each entry, fsync every 10 ms (survives kill -9, not power loss)")
      ->check(CLI::IsMember({"always", "interval"}))
      ->capture_default_str();
  const topology::ServiceSpec* spec = topology::FindService(role_);
  if (spec == nullptr) {
    // A programming error (a main() naming a role the topology lacks).
    std::cerr << "cloister-" << role_ << ": not a service of services/topology/topology.def ("
              << topology::ServiceNames() << ")" << std::endl;
    std::abort();
  }
  inbound_ = spec->caller_roles();
  public_port_ = spec->is_public();
  // One required --<peer>-addr per service whose internal methods this role
  // may call (the method table's callers rule): auth for every service (its
  // attested token keys verify each request's auth proof), keyvault for
  // storage, ... The gateway names its peers as backends instead.
  if (!public_port_) {
    for (const std::string& peer : rpc::MethodTable::Get().PeersOf(role_))
      app_.add_option("--" + peer + "-addr", peer_addrs_[peer],
                      "cloister-" + peer + " address (host:port)")
          ->required();
  }
}

std::optional<std::string> ServiceRunner::DbUrl(const std::string& flag_value) const {
  const topology::ServiceSpec* spec = topology::FindService(role_);
  if (spec == nullptr || spec->storage.empty()) {
    std::cerr << "cloister-" << role_ << ": the topology gives this service no storage" << std::endl;
    std::abort();
  }
  std::error_code ec;
  const std::string dir = std::filesystem::absolute(data_dir_, ec).string();
  Status made = ec ? InvalidArgument(ec.message()) : MakeDirs(dir, 0700);
  if (!made.ok()) {
    std::cerr << "cloister-" << role_ << ": cannot use data dir " << data_dir_ << ": "
              << made.ToString() << std::endl;
    return std::nullopt;
  }
  if (!flag_value.empty()) return flag_value;
  return "sqlite://" + dir + "/" + std::string(spec->storage);
}

std::shared_ptr<grpc::Channel> ServiceRunner::PeerChannel(const std::string& peer) {
  auto it = peer_addrs_.find(peer);
  if (it == peer_addrs_.end()) {
    // A programming error: the method table gives this role no call to `peer`.
    std::cerr << "cloister-" << role_ << ": no internal method of " << peer
              << " lists this service among its callers" << std::endl;
    std::abort();
  }
  return ChannelTo(it->second, peer);
}

const IdentityVerifier* ServiceRunner::FollowAuth() {
  if (identity_) return identity_.get();
  identity_ = std::make_unique<IdentityVerifier>();
  follower_ = std::make_unique<AuthFollower>(
      identity_.get(), RemoteAuthSource(enclave_.get(), PeerChannel("auth")),
      AuthFollowerOptions{});
  follower_->PollOnce();  // usually loads the keys before the first request
  follower_->Start();
  return identity_.get();
}

int ServiceRunner::ParseFlags(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e);
  }
  return -1;
}

Status ServiceRunner::SetConfigValue(std::string_view key, std::string_view value) {
  CLOISTER_RETURN_IF_ERROR(attestation::EnclaveConfig().Set(key, value));
  overrides_.insert_or_assign(std::string(key), std::string(value));
  return OkStatus();
}

// Flags that change how a service reports or what it does once at start,
// never whom it trusts or what it stores, serves or enforces. Everything
// else is configuration: a flag added later is in the config by default.
static bool IsOperationalFlag(std::string_view name) {
  static constexpr std::string_view kOperational[] = {
      "help", "print-config", "log-level", "log-file", "log-json", "port-file",
      // Applied only while no admin exists; the password is a secret.
      "bootstrap-admin-password-file", "rotate-signing-key",
      // The operator's one-time consent to a restored database: audited by
      // the service's log, never a standing setting (row_integrity.h).
      "accept-restore-file",
      // Its content is in the base config (trust.*); the path is not.
      "trust"};
  for (auto k : kOperational)
    if (k == name) return true;
  return false;
}

Result<attestation::EnclaveConfig> ServiceRunner::FlagConfig() const {
  attestation::EnclaveConfig c;
  for (const CLI::Option* opt : app_.get_options()) {
    if (opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames().front();
    if (IsOperationalFlag(name)) continue;
    std::string value;
    if (opt->get_type_size() == 0) {
      value = opt->count() > 0 ? "true" : "false";
    } else if (opt->count() > 0) {
      for (size_t i = 0; i < opt->results().size(); ++i)
        value += (i ? "," : "") + opt->results()[i];
    } else {
      value = opt->get_default_str();
    }
    CLOISTER_RETURN_IF_ERROR(c.Set(name, value));
  }
  for (const auto& [k, v] : overrides_) CLOISTER_RETURN_IF_ERROR(c.Set(k, v));
  return c;
}

attestation::Enclave* ServiceRunner::StartEnclave() {
  auto flag_config = FlagConfig();
  if (!flag_config.ok()) {
    std::cerr << "cloister-" << role_ << ": " << flag_config.error().ToString() << std::endl;
    return nullptr;
  }
  if (print_config_) {
    // What `cloister cluster manifest` asks each binary for, so that the
    // auditors sign exactly the text this code computes.
    auto trust = attestation::TrustConfig::Load(trust_path_);
    if (!trust.ok()) {
      std::cerr << "cloister-" << role_ << ": " << trust.error().ToString() << std::endl;
      std::exit(2);
    }
    attestation::EnclaveConfig c = *flag_config;
    c.Merge(attestation::BaseConfig(*trust, role_));
    std::cout << "{\"role\":\"" << JsonEscaped(role_) << "\",\"config_id\":\""
              << HexEncode(c.Id()) << "\",\"text\":\"" << JsonEscaped(c.Text()) << "\"}"
              << std::endl;
    std::exit(0);
  }
  InitLogging("cloister-" + role_, {log_level_, log_file_, log_json_});
  if (auto st = MakeDirs(data_dir_, 0700); !st.ok()) {
    std::cerr << "cloister-" << role_ << ": " << st.ToString() << std::endl;
    return nullptr;
  }
  attestation::EnclaveOptions eo;
  eo.role = role_;
  eo.trust_path = trust_path_;
  eo.cluster_secret_path = cluster_secret_;
  eo.config = *std::move(flag_config);
  auto enclave = attestation::Enclave::Start(eo);
  if (!enclave.ok()) {
    LOG_ERROR("enclave start refused", {{"error", enclave.error().ToString()}});
    std::cerr << "cloister-" << role_ << ": enclave start refused: " << enclave.error().ToString()
              << std::endl;
    return nullptr;
  }
  enclave_ = *std::move(enclave);
  // Level 1 has no transport protection at all: never off loopback.
  if (enclave_->security_level() < 2 && listen_.rfind("127.", 0) != 0 &&
      listen_.rfind("localhost:", 0) != 0 && listen_.rfind("[::1]", 0) != 0) {
    std::cerr << "cloister-" << role_ << ": security level 1 serves on loopback only, not "
              << listen_ << std::endl;
    return nullptr;
  }
  // Level 1 keeps the gateway non-bypassable on the machine only through the
  // cluster secret: without it no grant could be checked (or made).
  if (enclave_->security_level() < 2 && enclave_->cluster_secret() == nullptr) {
    std::cerr << "cloister-" << role_ << ": security level 1 needs --cluster-secret FILE "
              << "(created by `cloister cluster init`)" << std::endl;
    return nullptr;
  }
  return enclave_.get();
}

AuditLog* ServiceRunner::OpenAudit() {
  // The HMAC key for audited identifiers is sealed to this binary, so
  // nobody outside the enclave can test guesses against the log.
  std::string dir = data_dir_ + "/audit";
  if (auto st = MakeDirs(dir, 0700); !st.ok()) {
    LOG_ERROR("cannot create audit dir", {{"error", st.ToString()}});
    return nullptr;
  }
  std::string key_path = dir + "/" + role_ + ".key.sealed";
  SecretBytes key;
  if (FileExists(key_path)) {
    auto blob = ReadFile(key_path, 1 << 16);
    if (!blob.ok()) return nullptr;
    auto opened = attestation::Unseal(enclave_->platform(), AsBytes(*blob), AsBytes(role_));
    if (!opened.ok()) {
      LOG_ERROR("cannot unseal audit key", {{"error", opened.error().ToString()}});
      return nullptr;
    }
    key = SecretBytes::Adopt(*std::move(opened));
  } else {
    key = SecretBytes::Random(32);
    auto sealed = attestation::Seal(enclave_->platform(), attestation::SEAL_POLICY_MRSIGNER, key.view(),
                                    AsBytes(role_));
    if (!sealed.ok() || !WriteFileAtomic(key_path, *sealed, 0600).ok()) {
      LOG_ERROR("cannot seal audit key", {{"error", sealed.ok() ? "write failed" : sealed.error().ToString()}});
      return nullptr;
    }
  }
  auto sync = AuditSyncPolicy::Parse(audit_sync_);
  if (!sync.ok()) return nullptr;
  // The chain key is derived (not the resource key itself), so a MAC of the
  // chain never doubles as a resource identifier's HMAC.
  auto chain_key = crypto::HkdfSha256(key.view(), AsBytes("cloister-audit-chain"),
                                      AsBytes("v1\n" + role_), 32);
  if (!chain_key.ok()) return nullptr;
  AuditLogOptions options;
  options.sync = *sync;
  options.chain_key = *std::move(chain_key);
  // Checkpoints are signed with the key of this enclave's RA-TLS
  // certificate, whose quote any verifier can check against trust.toml.
  // Level 1 has no attested key: a key derived from the cluster secret
  // stands in, which anyone who can read that secret could forge with.
  if (enclave_->ratls() != nullptr) {
    options.signer = MakeAttestedAuditSigner(*enclave_->ratls());
  } else if (enclave_->cluster_secret() != nullptr) {
    options.signer = MakeSecretAuditSigner(enclave_->cluster_secret()->view(), role_);
    LOG_WARN("SECURITY LEVEL 1: audit checkpoints are keyed with the cluster secret, not an "
             "attested key",
             {{"role", role_}});
  }
  if (options.signer == nullptr) {
    LOG_ERROR("no key to sign audit checkpoints with", {{"role", role_}});
    return nullptr;
  }
  // This run's certificate is judged by the manifest in force now; keep it
  // for verifiers after the manifest is re-signed (a rebuild, new settings).
  if (auto st = ArchiveManifest(enclave_->trust(), dir); !st.ok())
    LOG_WARN("cannot keep a copy of the manifest beside the audit log",
             {{"error", st.ToString()}});
  auto log = AuditLog::Open(dir + "/" + role_ + ".log", role_, std::move(key), std::move(options));
  if (!log.ok()) {
    LOG_ERROR("cannot open audit log", {{"error", log.error().ToString()}});
    std::cerr << "cloister-" << role_ << ": cannot open the audit log: " << log.error().ToString()
              << std::endl;
    return nullptr;
  }
  const AuditOpenStats& stats = (*log)->open_stats();
  LOG_INFO("audit log open", {{"segment", stats.segment},
                              {"tail_bytes_read", stats.tail_bytes_read},
                              {"migrated_plain_log", stats.migrated_plain_log}});
  audit_ = *std::move(log);
  if (enclave_->ratls() != nullptr) {
    // Refused TLS handshakes never reach a handler; record them here.
    AuditLog* audit = audit_.get();
    std::string role = role_;
    enclave_->ratls()->SetObserver([audit, role](const attestation::VerifyEvent& ev) {
      if (ev.accepted) return;
      AuditEntry e;
      e.principal = "unattested-peer";
      e.method = "tls-handshake/" + ev.side;
      e.decision = "deny";
      e.reason = ev.reason;
      (void)audit->Append(e);
    });
  }
  return audit_.get();
}

std::shared_ptr<grpc::Channel> ServiceRunner::ChannelTo(const std::string& address,
                                                        const std::string& peer_role) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  return grpc::CreateCustomChannel(address, enclave_->ChannelCredentials({peer_role}), args);
}

int ServiceRunner::Serve(const std::vector<grpc::Service*>& services,
                         grpc::CallbackGenericService* generic) {
  grpc::ServerBuilder builder;
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (public_port_)
    creds = enclave_->ratls() ? enclave_->ratls()->PublicServerCredentials()
                              : grpc::InsecureServerCredentials();
  else
    creds = enclave_->ServerCredentials(inbound_);
  builder.AddListeningPort(listen_, creds, &port);
  // Resource bounds (issue 11; docs/operations.md, "Resource bounds").
  // gRPC 1.51 checks its receive limit only once a message has arrived
  // whole, whatever its declared length (measured: a 200 MiB request to a
  // 64 MiB limit cost the gateway 219 MiB), so the limit bounds nothing in
  // memory. A backend takes the largest max_request_bytes of the methods it
  // serves. The public port takes up to its memory quota, so that a request
  // over its method's cap gets the gateway's own REQUEST_TOO_LARGE (a
  // stable reason, the method's cap named) instead of gRPC's text.
  const rpc::MethodTable& table = rpc::MethodTable::Get();
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      public_port_ ? kPublicMemoryQuotaBytes : table.LargestRequestServedBy(role_)));
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  // What does bound the bytes in flight: a memory quota for everything the
  // server's connections read. Past it gRPC resets streams (the client sees
  // RESOURCE_EXHAUSTED) instead of buffering more.
  grpc::ResourceQuota quota("cloister-" + role_);
  quota.Resize(public_port_ ? kPublicMemoryQuotaBytes : kServiceMemoryQuotaBytes);
  // Backends serve synchronously, a thread per call in progress; a call
  // beyond the bound is refused with RESOURCE_EXHAUSTED. (The gateway's
  // callback server has no such threads: its worker pool bounds it.)
  if (!public_port_) quota.SetMaxThreads(kServiceMaxThreads);
  builder.SetResourceQuota(quota);
  // One client connection's calls at once; a gRPC client queues the rest.
  // Backends keep gRPC's default: all of the gateway's calls to a backend
  // share its one channel.
  if (public_port_)
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerPublicConnection);
  // And no window growth from bandwidth probing on the public port: a call
  // the gateway has not started to read may have sent only the initial
  // 64 KiB window (with probing, measured, each unread stream took several
  // MiB). Reads lose nothing: a pending read opens the window to the whole
  // message it waits for.
  if (public_port_) builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  for (auto* s : services) builder.RegisterService(s);
  if (generic != nullptr) builder.RegisterCallbackGenericService(generic);
  builder.experimental().SetInterceptorCreators(MakeParseErrorInterceptors());
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    LOG_ERROR("cannot listen", {{"address", listen_}});
    std::cerr << "cloister-" << role_ << ": cannot listen on " << listen_ << std::endl;
    return 1;
  }
  if (!port_file_.empty()) {
    if (auto st = WriteFileAtomic(port_file_, std::to_string(port), 0644); !st.ok()) {
      LOG_ERROR("cannot write port file", {{"error", st.ToString()}});
      return 1;
    }
  }
  LOG_INFO("serving", {{"role", role_}, {"port", port}, {"level", enclave_->security_level()}});
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  LOG_INFO("draining", {{"role", role_}});
  if (on_stopping_) on_stopping_();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  LOG_INFO("stopped", {{"role", role_}});
  return 0;
}

}  // namespace cloister::services
