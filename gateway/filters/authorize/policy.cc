// Loads and validates the gateway policy TOML; see policy.h.
#include "gateway/filters/authorize/policy.h"

#include <algorithm>

#include "common/config.h"
#include "common/fs.h"
#include "proto/method_table.h"

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

Policy Policy::Default() {
  Policy p;
  for (const auto& m : rpc::MethodTable::Get().all()) {
    if (!m.is_public()) continue;
    const auto& roles = m.default_roles();
    p.allowed[m.name] = std::set<std::string>(roles.begin(), roles.end());
    // The table's predicates are checked by the policy tests to be ones
    // Parse knows; an unknown one here would be a proto typo.
    if (m.predicate == "self_or_admin") p.predicates[m.name] = Predicate::kSelfOrAdmin;
  }
  return p;
}

std::string Policy::ToToml(const Policy& p) {
  auto list = [](const std::set<std::string>& roles) {
    std::string out = "[";
    for (const auto& r : roles) out += (out.size() > 1 ? ", " : "") + ("\"" + r + "\"");
    return out + "]";
  };
  std::string t =
      "# Cloister gateway policy: which roles may call each public method.\n"
      "# \"anonymous\" means no token is needed. Methods not listed are denied.\n"
      "# A typo here stops the gateway at start with an error naming the key.\n"
      "# Written by `cloister cluster init` from the built-in default (each RPC's\n"
      "# (cloister.options.rule) in proto/*.proto); edit, then restart the gateway.\n\n"
      "[methods]\n";
  for (const auto& name : rpc::MethodTable::Get().PublicNames()) {
    auto it = p.allowed.find(name);
    if (it == p.allowed.end()) continue;
    t += name + " = " + list(it->second) + "\n";
  }
  for (const auto& [name, roles] : p.allowed)
    if (rpc::MethodTable::Get().FindPublic(name) == nullptr) t += name + " = " + list(roles) + "\n";
  t += "\n[predicates]\n";
  for (const auto& [name, pred] : p.predicates)
    if (pred == Predicate::kSelfOrAdmin) t += name + " = \"self_or_admin\"\n";
  const auto& rl = p.rate_limit;
  auto num = [](double v) {
    std::string s = std::to_string(v);
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.push_back('0');
    return s;
  };
  t += "\n[rate_limit]\n";
  t += "per_principal_rps      = " + num(rl.per_principal_rps) + "\n";
  t += "per_principal_burst    = " + num(rl.per_principal_burst) + "\n";
  t += "anonymous_per_ip_rps   = " + num(rl.anonymous_per_ip_rps) + "\n";
  t += "anonymous_per_ip_burst = " + num(rl.anonymous_per_ip_burst) + "\n";
  return t;
}

bool Policy::operator==(const Policy& o) const {
  return allowed == o.allowed && predicates == o.predicates && rate_limit == o.rate_limit;
}

}  // namespace cloister::gateway
