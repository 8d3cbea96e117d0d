// Internal to `cloister cluster`: what cluster_command.cc (init, manifest
// and the subcommand wiring) and cluster_lifecycle.cc (up, status, down,
// logs) share: the flags, where the service binaries are, their argv.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command_registry.h"
#include "cli/session.h"
#include "services/topology/service_spec.h"

namespace cloister::cli {

struct ClusterFlags {
  int security_level = 2;
  bool force = false;
  bool refresh_manifest = false;
  int gateway_port = topology::FindService("gateway")->default_port;
  std::string policy;
  std::string service;  // logs
  size_t lines = 50;
};

// The rule for finding the service binaries (docs/operations.md): they live
// next to the `cloister` binary — build/bin in a build tree, PREFIX/bin
// after `cmake --install`. Nothing else is looked up on disk: the default
// gateway policy is built in.
std::string BinDir();
std::string BinaryPath(const topology::ServiceSpec& s);
// Binaries of the topology that are not next to `cloister`.
std::vector<std::string> MissingBinaries();
[[noreturn]] void FailMissingBinaries(std::string_view cmd, const std::vector<std::string>& missing);

// A service's command line, from its topology entry: the common flags of
// every enclave, its storage, and for the gateway one --<name>-addr per
// backend it forwards to.
std::vector<std::string> ArgvFor(const topology::ServiceSpec& s, const ClusterConfig& c,
                                 const ClusterPaths& p);

// `cluster up`, `cluster status`, `cluster down`, `cluster logs`.
void RunClusterUp(const Globals& g);
void RunClusterStatus(const Globals& g);
void RunClusterDown(const Globals& g);
void RunClusterLogs(const ClusterFlags& f, const Globals& g);

}  // namespace cloister::cli
