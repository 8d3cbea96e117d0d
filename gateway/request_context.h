// RequestContext: what the gateway's filters see and fill in for one public
// request, from arrival to forwarding.
#pragma once

#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <vector>

#include "proto/cloister.pb.h"

namespace cloister::gateway {

// Who is calling, as established by the authenticate filter.
struct Principal {
  bool anonymous = true;
  std::string user_id;
  std::string username;
  std::vector<api::Role> roles;
  std::string token_id;  // empty for API keys and anonymous calls
  std::string via;       // "token" | "api-key" | "anonymous"

  bool HasRole(api::Role r) const {
    for (auto x : roles)
      if (x == r) return true;
    return false;
  }
};

struct RequestContext {
  std::string method;          // public method name, e.g. "Call"
  std::string peer;            // client address (for per-IP limits and audit)
  std::string authorization;   // the "authorization" metadata value, if any
  const google::protobuf::Message* body = nullptr;  // the public request
  std::string request_id;

  // Filled by filters.
  Principal principal;
  std::vector<std::string> resources;  // identifiers the request touches (audited as HMACs)
};

}  // namespace cloister::gateway
