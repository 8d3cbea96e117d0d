// The topology table compiled from topology.def; see service_spec.h.
#include "services/topology/service_spec.h"

#include <array>

namespace cloister::topology {
namespace {

constexpr std::array kServices = {
#define CLOISTER_SERVICE(name, product, callers, port, storage, health) \
  ServiceSpec{#name, product, callers, port, storage, Health::health},
#include "services/topology/topology.def"
#undef CLOISTER_SERVICE
};

}  // namespace

std::vector<std::string> ServiceSpec::caller_roles() const {
  std::vector<std::string> out;
  std::string_view rest = callers;
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    std::string_view word = rest.substr(0, sp);
    if (word == "*") {
      for (const auto& s : Topology())
        if (!s.is_platform()) out.emplace_back(s.name);
    } else if (!word.empty()) {
      out.emplace_back(word);
    }
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  return out;
}

bool ServiceSpec::CalledBy(std::string_view role) const {
  for (const auto& r : caller_roles())
    if (r == role) return true;
  return false;
}

std::span<const ServiceSpec> Topology() { return kServices; }

const ServiceSpec* FindService(std::string_view name) {
  for (const auto& s : kServices)
    if (s.name == name) return &s;
  return nullptr;
}

std::string ServiceNames() {
  std::string out;
  for (const auto& s : kServices) out += (out.empty() ? "" : ", ") + std::string(s.name);
  return out;
}

}  // namespace cloister::topology
