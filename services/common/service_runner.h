// ServiceRunner: the common main() of every Cloister service binary:
// flags (--trust, --listen, --port-file, --data-dir, --cluster-secret,
// --log-*), logging,
// Enclave::Start, a gRPC server with RA-TLS credentials for the inbound
// roles, resource bounds (message size from the method table, a memory
// quota, threads, streams per connection), and graceful shutdown
// (SIGTERM/SIGINT drain in-flight calls for up to 10 s).
//
//   int main(int argc, char** argv) {
//     ServiceRunner runner("auth");   // who may call it: services/topology/topology.def
//     if (int rc = runner.ParseFlags(argc, argv); rc >= 0) return rc;
//     auto enclave = runner.StartEnclave();   // exits with a clear error on failure
//     AuthService svc(...);
//     return runner.Serve({&svc});
//   }
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attestation/enclave.h"
#include "services/common/audit_log.h"
#include "services/common/auth_follower.h"

namespace cloister::services {

// gRPC's message limit: what channels receive (a Call's outputs, a
// download's chunks) and any server sends. A server receives at most the
// largest max_request_bytes of its methods (proto/method_table.h).
inline constexpr int kMaxMessageBytes = 64 << 20;
// Memory gRPC may hold for what the connections of one server read, all
// together (grpc::ResourceQuota); past it streams are reset with
// RESOURCE_EXHAUSTED. The public port's bound is the gateway's ceiling
// under a flood (measured: docs/operations.md, "Resource bounds"); it fits
// three 64 MiB Calls, or the 64 relayed streams' chunks, at once.
inline constexpr size_t kPublicMemoryQuotaBytes = size_t{256} << 20;
inline constexpr size_t kServiceMemoryQuotaBytes = size_t{512} << 20;
// A backend's serving threads (sync server: one per call in progress).
// Its callers are the gateway (64 workers, 64 streams) and a few enclaves.
inline constexpr int kServiceMaxThreads = 512;
// Calls one client connection may have open on the public port at once.
inline constexpr int kMaxStreamsPerPublicConnection = 32;

class ServiceRunner {
 public:
  // `role`: this binary's manifest name, a service of the topology table
  // (services/topology/topology.def), which says who may call it and
  // whether its port is the public one.
  explicit ServiceRunner(std::string role);

  // Extra flags a service adds before ParseFlags.
  CLI::App& app() { return app_; }
  // Returns -1 to continue, or an exit code (e.g. 0 after --help).
  int ParseFlags(int argc, char** argv);

  // Sets (or replaces) a configuration value the flags do not carry, e.g.
  // the digest of the policy the gateway actually loaded. Before StartEnclave.
  Status SetConfigValue(std::string_view key, std::string_view value);
  // Starts logging and the enclave; nullptr after printing the reason.
  // With --print-config it prints the configuration instead and exits.
  // The configuration is every option of app() (defaults included) except
  // the operational ones (logging, port file, one-shot bootstrap actions),
  // plus SetConfigValue's, plus attestation::BaseConfig.
  attestation::Enclave* StartEnclave();
  // Opens the audit trail under <data-dir>/audit/ (<role>.log.NNNNNN
  // segments, keyed MAC chain, checkpoints signed with the enclave's
  // attested key; see services/common/audit_log.h).
  AuditLog* OpenAudit();

  // Builds and runs the server until SIGTERM/SIGINT; returns the exit code.
  // `generic` (the gateway's forwarder) serves every method the typed
  // services do not. A public port (the gateway's) presents its RA-TLS
  // certificate without asking clients for one: clients are not enclaves.
  int Serve(const std::vector<grpc::Service*>& services,
            grpc::CallbackGenericService* generic = nullptr);
  // Runs on SIGTERM/SIGINT before the server drains: exec stops its task
  // workers here, so none claims a task while the process is going away.
  void OnStopping(std::function<void()> fn) { on_stopping_ = std::move(fn); }

  // The verifier of auth proofs for this service's GrantVerifier, kept
  // current from cloister-auth (--auth-addr, which every enclave service
  // but auth and the gateway takes: see PeerChannel) by an AuthFollower
  // started here.
  // After StartEnclave.
  const IdentityVerifier* FollowAuth();

  const std::string& data_dir() const { return data_dir_; }
  // The database URL to open: `flag_value` (--db) if given, else
  // "sqlite://<absolute data dir>/<the topology's storage file>" (e.g.
  // auth.db), creating the data dir (0700) either way: the audit trail and
  // the accept-restore file live there. nullopt after printing the reason;
  // aborts if the topology gives this role no storage (a programming error).
  std::optional<std::string> DbUrl(const std::string& flag_value) const;
  const std::string& role() const { return role_; }
  attestation::Enclave* enclave() { return enclave_.get(); }
  AuditLog* audit() { return audit_.get(); }
  // Channel to the peer service `peer` at its --<peer>-addr (RA-TLS,
  // expecting that role). Only peers the method table lets this role call
  // have the flag (MethodTable::PeersOf); any other name aborts.
  std::shared_ptr<grpc::Channel> PeerChannel(const std::string& peer);
  // Channel to another service (RA-TLS, expecting `peer_role`).
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address,
                                           const std::string& peer_role);

 private:
  Result<attestation::EnclaveConfig> FlagConfig() const;

  std::string role_;
  std::vector<std::string> inbound_;
  bool print_config_ = false;
  std::map<std::string, std::string> overrides_;
  CLI::App app_;
  std::string trust_path_, listen_ = "127.0.0.1:0", port_file_, data_dir_, cluster_secret_;
  std::string log_level_ = "info", log_file_;
  bool log_json_ = false;
  std::string audit_sync_ = "always";
  bool public_port_ = false;
  std::map<std::string, std::string> peer_addrs_;  // --<peer>-addr values
  std::unique_ptr<attestation::Enclave> enclave_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<IdentityVerifier> identity_;
  std::unique_ptr<AuthFollower> follower_;  // after identity_: stops first
  std::function<void()> on_stopping_;
};

}  // namespace cloister::services
