// The method table's lookups and consistency rules; see method_table.h.
#include "proto/method_table.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace cloister::rpc {

std::string MethodTable::Check(const std::vector<MethodEntry>& methods) {
  std::set<std::string> paths, public_names;
  static const std::set<std::string> kRoles = {"anonymous", "user", "admin"};
  for (const auto& m : methods) {
    if (!paths.insert(m.full_method).second) return "duplicate method " + m.full_method;
    if (m.backend.empty()) return m.full_method + ": no backend";
    for (const auto& r : m.declared_roles)
      if (!kRoles.count(r)) return m.full_method + ": unknown role '" + r + "'";
    if (m.internal && m.backend == kGatewayBackend)
      return m.full_method + ": an internal method of the gateway can never be called";
    if (m.max_request_bytes == 0 || m.max_request_bytes > kMaxRequestBytesCeiling)
      return m.full_method + ": max_request_bytes must be 1.." +
             std::to_string(kMaxRequestBytesCeiling) + ", not " +
             std::to_string(m.max_request_bytes);
    if (m.is_public() && !public_names.insert(m.name).second)
      return "two public methods are named '" + m.name +
             "' (the policy and the audit trail key on the short name)";
  }
  return "";
}

MethodTable::MethodTable(const std::vector<MethodEntry>* methods) : methods_(methods) {
  for (const auto& m : *methods_) {
    by_path_.emplace(m.full_method, &m);
    if (m.is_public()) public_by_name_.emplace(m.name, &m);
  }
}

const MethodTable& MethodTable::Get() {
  static const MethodTable table = [] {
    const auto& methods = GeneratedMethods();
    if (std::string err = Check(methods); !err.empty()) {
      std::fprintf(stderr, "cloister: inconsistent method table: %s\n", err.c_str());
      std::abort();
    }
    return MethodTable(&methods);
  }();
  return table;
}

const MethodEntry* MethodTable::Find(std::string_view full_method) const {
  auto it = by_path_.find(full_method);
  return it == by_path_.end() ? nullptr : it->second;
}

const MethodEntry* MethodTable::FindPublic(std::string_view name) const {
  auto it = public_by_name_.find(name);
  return it == public_by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> MethodTable::PublicNames() const {
  std::vector<std::string> out;
  for (const auto& m : *methods_)
    if (m.is_public()) out.push_back(m.name);
  return out;
}

std::vector<const MethodEntry*> MethodTable::ServedBy(std::string_view backend) const {
  std::vector<const MethodEntry*> out;
  for (const auto& m : *methods_)
    if (m.backend == backend) out.push_back(&m);
  return out;
}

size_t MethodTable::LargestRequestServedBy(std::string_view backend) const {
  size_t most = 0;
  for (const auto& m : *methods_)
    if (m.backend == backend) most = std::max(most, m.max_request_bytes);
  return most;
}

std::vector<std::string> MethodTable::PeersOf(std::string_view role) const {
  std::set<std::string> peers;
  for (const auto& m : *methods_) {
    if (!m.internal || m.backend == role) continue;
    for (const auto& c : m.callers)
      if (c == "*" || c == role) peers.insert(m.backend);
  }
  return {peers.begin(), peers.end()};
}

}  // namespace cloister::rpc
