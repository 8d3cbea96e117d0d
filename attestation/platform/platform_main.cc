// cloister-platform: the node's emulated CPU (DESIGN.md §2). Loads the
// device secret and attestation key, verifies the signed manifest, and
// serves measurement, quotes, sealing keys and the launch log on a Unix socket.
//
//   cloister-platform --state DIR --socket PATH --trust trust.toml [--security-level N] [--debug]
//
// The measured-launch log lives for one daemon lifetime, like PCRs that
// reset at boot: a restart begins a new log with "platform.start".
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "attestation/platform/measurement.h"
#include "attestation/platform/platform_server.h"
#include "attestation/platform/platform_service.h"
#include "attestation/platform/platform_state.h"
#include "attestation/platform/sys/shutdown_signals.h"
#include "attestation/trust.h"
#include "common/hardening.h"
#include "common/logging.h"

namespace cloister::attestation {
namespace {

struct Flags {
  std::string state_dir;
  std::string socket_path;
  std::string trust_path;
  int security_level = 0;  // 0: the trust file's level
  bool debug = false;
  std::string log_level = "info";
  bool log_json = false;
  size_t max_connections = 256;
};

Status RunDaemon(const Flags& flags) {
  // Before any thread starts, so all of them inherit the blocked mask.
  std::unique_ptr<PlatformServer> server;
  std::mutex server_mu;
  bool early_stop = false;
  CLOISTER_ASSIGN_OR_RETURN(auto signals, sys::ShutdownSignals::Install([&](int signo) {
    LOG_INFO("shutdown requested", {{"signal", signo}});
    std::lock_guard<std::mutex> lock(server_mu);
    if (server) server->Shutdown();
    else early_stop = true;
  }));

  CLOISTER_ASSIGN_OR_RETURN(TrustConfig trust, TrustConfig::Load(flags.trust_path));
  const int level = flags.security_level != 0 ? flags.security_level : trust.security_level;
  if (level < 1 || level > 5) return InvalidArgument("--security-level must be 1..5");
  CLOISTER_ASSIGN_OR_RETURN(PlatformState state, LoadPlatformState(flags.state_dir));
  if (!ConstantTimeEqual(state.root_cert.Der(), trust.attestation_root.Der()))
    LOG_WARN("platform root differs from the trust file's attestation root; "
             "verifiers using this trust file will refuse this node's quotes",
             {{"trust", flags.trust_path}});

  Measurer measurer;
  CLOISTER_ASSIGN_OR_RETURN(ProcessMeasurement self, measurer.Measure(::getpid()));
  if (trust.manifest.FindByMeasurement(ByteView(self.measurement)) == nullptr)
    LOG_WARN("cloister-platform itself is not in the manifest; level-3 verifiers will refuse "
             "this node's launch log",
             {{"measurement", HexEncode(ByteView(self.measurement))}});

  // The daemon holds the device secret: no core dumps, no ptrace by peers.
  if (!flags.debug) CLOISTER_RETURN_IF_ERROR(ApplyAntiDebug());

  PlatformService service(std::move(state), trust.manifest,
                          PlatformService::Options{level, flags.debug}, self.measurement);
  PlatformServerOptions opts;
  opts.socket_path = flags.socket_path;
  opts.max_connections = flags.max_connections;
  {
    std::lock_guard<std::mutex> lock(server_mu);
    CLOISTER_ASSIGN_OR_RETURN(server, PlatformServer::Create(opts, service, measurer));
    if (early_stop) server->Shutdown();
  }
  LOG_INFO("cloister-platform started",
           {{"security_level", level}, {"debug", flags.debug ? "true" : "false"},
            {"manifest", HexEncode(ByteView(trust.manifest.digest())).substr(0, 16)},
            {"self", HexEncode(ByteView(self.measurement)).substr(0, 16)}});
  Status s = server->Run();
  std::lock_guard<std::mutex> lock(server_mu);
  server.reset();
  return s;
}

}  // namespace
}  // namespace cloister::attestation

int main(int argc, char** argv) {
  cloister::attestation::Flags flags;
  CLI::App app{"cloister-platform — the node's emulated enclave platform"};
  app.add_option("--state", flags.state_dir, "directory made by `cloister platform init`")->required();
  app.add_option("--socket", flags.socket_path, "Unix socket to serve")->required();
  app.add_option("--trust", flags.trust_path, "trust.toml (root, auditors, manifest)")->required();
  app.add_option("--security-level", flags.security_level, "node security level 1..5 "
                 "(default: the trust file's)")->check(CLI::Range(0, 5));
  app.add_flag("--debug", flags.debug, "debug platform: every quote is marked debug, no anti-debug");
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_flag("--log-json", flags.log_json, "JSON log lines");
  app.add_option("--max-connections", flags.max_connections, "bound on open connections")
      ->check(CLI::Range(1, 65536))->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  cloister::LogOptions log_opts;
  log_opts.level = flags.log_level;
  log_opts.json = flags.log_json;
  cloister::InitLogging("cloister-platform", log_opts);
  cloister::Status s = cloister::attestation::RunDaemon(flags);
  if (!s.ok()) {
    LOG_ERROR("cloister-platform failed", {{"error", s.error().ToString()}});
    std::cerr << "cloister-platform: " << s.error().ToString() << "\n";
    return 1;
  }
  return 0;
}
