// cloister-platform: the node's emulated CPU (docs/design.md §2). Loads the
// device secret and attestation key, verifies the signed manifest, and
// serves measurement, quotes, sealing keys and the launch log on a Unix socket.
//
//   cloister-platform --state DIR --socket PATH --trust trust.toml [--security-level N] [--debug]
//                     [--allow-uid UID]... [--allow-gid GID]... [--socket-group GID]
//
// Privilege: enclaves make themselves non-dumpable before they first talk
// to the platform. Reading a non-dumpable process's /proc/<pid>/{exe,maps}
// needs CAP_SYS_PTRACE, and its /proc/<pid>/environ (then owned by root,
// mode 0400) also CAP_DAC_READ_SEARCH; root has both. So from security
// level 2 the daemon refuses to start without them; give them to a
// non-root daemon with
//   sudo setcap cap_sys_ptrace,cap_dac_read_search+ep cloister-platform
// (or as ambient capabilities from systemd). Level 1 (development, no
// attestation, enclaves do not harden) runs without them, with a warning.
//
// The measured-launch log lives for one daemon lifetime, like PCRs that
// reset at boot: a restart begins a new log with "platform.start". The
// monotonic counters (DIR/platform/counters) persist, like NV counters.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "attestation/platform/capabilities.h"
#include "attestation/platform/measurement.h"
#include "attestation/platform/platform_server.h"
#include "attestation/platform/platform_service.h"
#include "attestation/platform/platform_state.h"
#include "attestation/platform/sys/shutdown_signals.h"
#include "attestation/trust.h"
#include "common/fs.h"
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
  std::vector<uid_t> allow_uids;
  std::vector<gid_t> allow_gids;
  int64_t socket_group = -1;
};

// See the top of this file.
Status CheckCanMeasureHardened(int level) {
  auto ptrace = HasEffectiveCapability(kCapSysPtrace);
  auto dac = HasEffectiveCapability(kCapDacReadSearch);
  if (ptrace.ok() && *ptrace && dac.ok() && *dac) return OkStatus();
  auto self = SelfExePath();
  const std::string why =
      "cloister-platform lacks CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: it could not measure "
      "enclaves, which make themselves non-dumpable before they first contact the platform. "
      "Run it as root, or grant the capabilities: `sudo setcap "
      "cap_sys_ptrace,cap_dac_read_search+ep " +
      (self.ok() ? *self : std::string("cloister-platform")) + "`";
  if (level >= 2) return FailedPrecondition(why, "PLATFORM_NEEDS_CAP_SYS_PTRACE");
  LOG_WARN(why + " — security level 1 continues without it (enclaves do not harden at level 1, "
                 "so same-uid callers can still be measured)");
  return OkStatus();
}

Status RunDaemon(const Flags& flags) {
  // Before any thread starts, so all of them inherit the blocked mask.
  std::unique_ptr<PlatformServer> server;  // guarded by server_mu (the signal thread reads it)
  std::mutex server_mu;
  bool early_stop = false;  // guarded by server_mu
  CLOISTER_ASSIGN_OR_RETURN(auto signals, sys::ShutdownSignals::Install([&](int signo) {
    LOG_INFO("shutdown requested", {{"signal", signo}});
    std::lock_guard<std::mutex> lock(server_mu);
    if (server) server->Shutdown();
    else early_stop = true;
  }));

  CLOISTER_ASSIGN_OR_RETURN(TrustConfig trust, TrustConfig::Load(flags.trust_path));
  const int level = flags.security_level != 0 ? flags.security_level : trust.security_level;
  if (level < 1 || level > 5) return InvalidArgument("--security-level must be 1..5");
  CLOISTER_RETURN_IF_ERROR(CheckCanMeasureHardened(level));
  CLOISTER_ASSIGN_OR_RETURN(PlatformState state, LoadPlatformState(flags.state_dir));
  // A malformed counters file refuses start: serving counters from a file we
  // cannot read would let every service's rollback check pass against 0.
  CLOISTER_ASSIGN_OR_RETURN(std::unique_ptr<CounterTable> counters,
                            CounterTable::Open(PlatformPaths::For(flags.state_dir).counters));
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
                          PlatformService::Options{level, flags.debug}, self.measurement,
                          std::move(counters));
  PlatformServerOptions opts;
  opts.socket_path = flags.socket_path;
  opts.max_connections = flags.max_connections;
  opts.allow_uids = flags.allow_uids;
  opts.allow_gids = flags.allow_gids;
  if (flags.socket_group >= 0) opts.socket_group = static_cast<gid_t>(flags.socket_group);
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
  app.add_option("--allow-uid", flags.allow_uids,
                 "uid allowed to use the platform (repeatable; the daemon's own uid always is)");
  app.add_option("--allow-gid", flags.allow_gids,
                 "primary gid allowed to use the platform (repeatable)");
  app.add_option("--socket-group", flags.socket_group,
                 "group of the 0660 socket file (default: the daemon's gid)")
      ->check(CLI::Range(int64_t{0}, int64_t{0xfffffffe}));
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
