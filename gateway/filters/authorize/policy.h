// The gateway's role × API policy, loaded from a readable TOML file:
//
//   [methods]                      # public method → roles allowed
//   Login = ["anonymous"]
//   CreateUser = ["admin"]
//   Call = ["user", "admin"]
//   [predicates]                   # extra resource checks per method
//   ChangePassword = "self_or_admin"
//   [rate_limit]
//   per_principal_rps = 200        # token bucket per authenticated principal
//   per_principal_burst = 400
//   anonymous_per_ip_rps = 20      # per client address for anonymous calls
//   anonymous_per_ip_burst = 40
//
// A method missing from [methods] is denied (default deny). A typo (unknown
// method, role, predicate or key) stops the gateway at start with an error
// naming file and key. Without a file the gateway uses Default(): each
// public method's roles and predicate as its proto declares them
// ((cloister.options.rule), proto/method_table.h).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace cloister::gateway {

enum class Predicate { kNone, kSelfOrAdmin };

struct RateLimitPolicy {
  bool operator==(const RateLimitPolicy&) const = default;
  double per_principal_rps = 200;
  double per_principal_burst = 400;
  double anonymous_per_ip_rps = 20;
  double anonymous_per_ip_burst = 40;
};

struct Policy {
  std::map<std::string, std::set<std::string>> allowed;  // method → {"anonymous","user","admin"}
  std::map<std::string, Predicate> predicates;
  RateLimitPolicy rate_limit;

  // `known_methods`: the public API's methods (a policy entry for anything
  // else is a typo).
  static Result<Policy> Load(const std::string& path, const std::vector<std::string>& known_methods);
  static Result<Policy> Parse(std::string_view text, const std::string& source,
                              const std::vector<std::string>& known_methods);

  // The built-in policy, from the method table, with the default rate limits.
  static Policy Default();
  // `p` as a commented TOML file that Parse() reads back to the same policy
  // (what `cloister cluster init` writes as policy.toml for operators to edit).
  static std::string ToToml(const Policy& p);

  bool operator==(const Policy& o) const;
};

}  // namespace cloister::gateway
