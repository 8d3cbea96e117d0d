// `cloister platform init|status`: creates a node's emulated-enclave state
// (attestation root CA, device secret, attestation key + certificate; see
// attestation/platform/platform_state.h) and shows what a node has.
//
//   cloister platform init --dir ~/.cloister            # refuses to overwrite
//   cloister --json platform status --dir ~/.cloister --socket /run/cloister/platform.sock
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "attestation/platform/platform_client.h"
#include "attestation/platform/platform_state.h"
#include "cli/command_registry.h"
#include "common/crypto/hash.h"

namespace cloister::cli {
namespace {

using attestation::InitPlatform;
using attestation::PlatformInitOptions;

struct PlatformFlags {
  std::string dir;
  bool force = false;
  std::string node_name;
  std::string socket;
};

[[noreturn]] void Fail(std::string_view cmd, const std::string& msg) {
  std::cerr << "cloister platform " << cmd << ": " << msg << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

void RunInit(const PlatformFlags& f, const Globals& g) {
  PlatformInitOptions opts;
  opts.force = f.force;
  opts.node_name = f.node_name;
  auto made = InitPlatform(f.dir, opts);
  if (!made.ok()) Fail("init", made.error().ToString());
  if (g.json) {
    nlohmann::json j;
    j["dir"] = f.dir;
    j["created"] = made->created;
    j["platform_id"] = made->platform_id_hex;
    j["root_fingerprint_sha256"] = made->root_fingerprint_hex;
    j["root_certificate"] = made->paths.root_cert;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "Initialized emulated enclave platform in " << f.dir << "\n";
  for (const auto& file : made->created) std::cout << "  wrote " << file << "\n";
  std::cout << "platform id (SHA-256 of attestation key): " << made->platform_id_hex << "\n"
            << "attestation root fingerprint (SHA-256):   " << made->root_fingerprint_hex << "\n"
            << "Dev setup: the root CA key stays in " << made->paths.root_key
            << ".\nIn production keep the root offline and provision only "
            << made->paths.platform_dir << "/ to the node.\n";
  if (f.force)
    std::cout << "WARNING: --force replaced the device secret; data sealed before is lost.\n";
}

void RunStatus(const PlatformFlags& f, const Globals& g) {
  nlohmann::json j;
  j["dir"] = f.dir;
  auto state = attestation::LoadPlatformState(f.dir);
  bool healthy = state.ok();
  if (state.ok()) {
    j["state"] = "ok";
    j["platform_id"] = HexEncode(ByteView(state->platform_id));
    j["attestation_cert_cn"] = state->attestation_cert.SubjectCommonName();
    j["attestation_cert_not_after"] = state->attestation_cert.not_after();
    j["root_fingerprint_sha256"] = HexEncode(ByteView(crypto::Sha256(state->root_cert.Der())));
  } else {
    j["state"] = state.error().ToString();
  }
  if (!f.socket.empty()) {
    j["socket"] = f.socket;
    auto client = attestation::PlatformClient::Connect(f.socket);
    if (client.ok()) {
      const auto& id = client->cached_identity();
      j["daemon"] = "serving";
      j["security_level"] = id.security_level();
      // The CLI's own measurement: handy to check a manifest entry for it.
      j["caller_measurement"] = HexEncode(AsBytes(id.measurement()));
      j["caller_enclave_name"] = id.enclave_name();
      auto log = client->ReadLog();
      if (log.ok()) j["launch_events"] = log->events_size();
    } else {
      healthy = false;
      j["daemon"] = client.error().ToString();
    }
  }
  if (g.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& [k, v] : j.items())
      std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
  }
  if (!healthy) throw CLI::RuntimeError(kExitFailure);
}

CommandRegistrar reg("platform", [](CLI::App& app, Globals& g) {
  auto* platform = app.add_subcommand("platform", "the node's emulated enclave platform");
  platform->require_subcommand(1);
  auto flags = std::make_shared<PlatformFlags>();

  auto* init = platform->add_subcommand(
      "init", "create the attestation root CA, device secret and attestation key");
  init->add_option("--dir", flags->dir, "platform directory (default: --home)");
  init->add_flag("--force", flags->force, "overwrite existing state (destroys sealed data)");
  init->add_option("--node-name", flags->node_name, "attestation certificate CN (default: hostname)");
  init->callback([flags, &g] {
    if (flags->dir.empty()) flags->dir = g.home;
    RunInit(*flags, g);
  });

  auto* status = platform->add_subcommand("status", "check the platform state and daemon");
  status->add_option("--dir", flags->dir, "platform directory (default: --home)");
  status->add_option("--socket", flags->socket, "also query a running cloister-platform");
  status->callback([flags, &g] {
    if (flags->dir.empty()) flags->dir = g.home;
    RunStatus(*flags, g);
  });
});

}  // namespace
}  // namespace cloister::cli
