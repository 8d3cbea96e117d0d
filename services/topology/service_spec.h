// ServiceSpec: the one cluster topology table (services/topology/topology.def)
// as C++: every service's name, binary, product id, who may call it, default
// port, storage and health probe. `cloister cluster up/status/down/logs`,
// the manifest generation, ServiceRunner (inbound roles), the gateway (its
// backends) and the test fixtures all read it; none keeps its own list.
//
//   for (const ServiceSpec& s : Topology()) Start(s.binary(), ...);
//   const ServiceSpec* auth = FindService("auth");
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cloister::topology {

// How a service is probed for health by the CLI and the fixtures.
enum class Health {
  kPlatformSocket,  // the platform daemon answers on its Unix socket
  kListening,       // an internal enclave: its port file exists and it accepts TCP
  kGatewayHealth,   // the public gateway: an attested Health call says SERVING
};

struct ServiceSpec {
  std::string_view name;
  uint32_t product_id;
  std::string_view callers;  // space separated roles
  int default_port;
  std::string_view storage;  // database file name under the data dir, or ""
  Health health;

  std::string binary() const { return "cloister-" + std::string(name); }
  std::vector<std::string> caller_roles() const;
  bool CalledBy(std::string_view role) const;
  // The public entry point: no caller roles, listens for clients.
  bool is_public() const { return health == Health::kGatewayHealth; }
  bool is_platform() const { return health == Health::kPlatformSocket; }
  // An enclave behind the gateway (gets a --<name>-addr flag on the gateway).
  bool is_gateway_backend() const { return CalledBy("gateway"); }
};

// Every service in start order.
std::span<const ServiceSpec> Topology();
// nullptr if `name` is not a service.
const ServiceSpec* FindService(std::string_view name);
// "platform, auth, ..." for error messages.
std::string ServiceNames();

}  // namespace cloister::topology
