// Loads and validates the gateway policy TOML; see policy.h.
#include "gateway/filters/authorize/policy.h"

#include <algorithm>

#include "common/config.h"
#include "common/fs.h"

namespace cloister::gateway {

Result<Policy> Policy::Load(const std::string& path, const std::vector<std::string>& known) {
  CLOISTER_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  return Parse(text, path, known);
}

Result<Policy> Policy::Parse(std::string_view text, const std::string& source,
                             const std::vector<std::string>& known) {
  CLOISTER_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Parse(text, source));
  CLOISTER_RETURN_IF_ERROR(cfg.CheckKnownKeys(
      {"methods.*", "predicates.*", "rate_limit.per_principal_rps",
       "rate_limit.per_principal_burst", "rate_limit.anonymous_per_ip_rps",
       "rate_limit.anonymous_per_ip_burst"}));
  auto bad = [&](const std::string& key, const std::string& why) {
    return InvalidArgument(source + ": key '" + key + "': " + why, "POLICY_INVALID");
  };
  Policy p;
  for (const auto& m : cfg.TableKeys("methods")) {
    if (std::find(known.begin(), known.end(), m) == known.end())
      return bad("methods." + m, "no such public method");
    CLOISTER_ASSIGN_OR_RETURN(auto roles, cfg.GetStringList("methods." + m));
    for (const auto& r : roles)
      if (r != "anonymous" && r != "user" && r != "admin")
        return bad("methods." + m, "unknown role '" + r + "' (anonymous, user, admin)");
    p.allowed[m] = std::set<std::string>(roles.begin(), roles.end());
  }
  for (const auto& m : cfg.TableKeys("predicates")) {
    if (!p.allowed.count(m)) return bad("predicates." + m, "method has no [methods] entry");
    CLOISTER_ASSIGN_OR_RETURN(std::string v, cfg.GetString("predicates." + m, ""));
    if (v == "self_or_admin") p.predicates[m] = Predicate::kSelfOrAdmin;
    else return bad("predicates." + m, "unknown predicate '" + v + "' (self_or_admin)");
  }
  auto& rl = p.rate_limit;
  CLOISTER_ASSIGN_OR_RETURN(rl.per_principal_rps,
                            cfg.GetDouble("rate_limit.per_principal_rps", rl.per_principal_rps, 0.1, 1e7));
  CLOISTER_ASSIGN_OR_RETURN(rl.per_principal_burst,
                            cfg.GetDouble("rate_limit.per_principal_burst", rl.per_principal_burst, 1, 1e7));
  CLOISTER_ASSIGN_OR_RETURN(rl.anonymous_per_ip_rps,
                            cfg.GetDouble("rate_limit.anonymous_per_ip_rps", rl.anonymous_per_ip_rps, 0.1, 1e7));
  CLOISTER_ASSIGN_OR_RETURN(rl.anonymous_per_ip_burst,
                            cfg.GetDouble("rate_limit.anonymous_per_ip_burst", rl.anonymous_per_ip_burst, 1, 1e7));
  return p;
}

}  // namespace cloister::gateway
