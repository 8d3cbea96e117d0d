// RequestContext: what the gateway's filters see and fill in for one public
// request, from arrival to forwarding.
#pragma once

#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <vector>

#include "proto/cloister.pb.h"
#include "services/common/caller.h"

namespace cloister::gateway {

struct RequestContext {
  std::string method;          // public method name, e.g. "Call"
  std::string peer;            // client address (for per-IP limits and audit)
  std::string authorization;   // the "authorization" metadata value, if any
  const google::protobuf::Message* body = nullptr;  // the public request
  std::string request_id;

  // Filled by filters: who is calling (the one caller type,
  // services/common/caller.h) and the auth proof that establishes it.
  services::Caller principal = services::Caller::Anonymous();
  std::string auth_proof;
  std::vector<std::string> resources;  // identifiers the request touches (audited as HMACs)
};

}  // namespace cloister::gateway
