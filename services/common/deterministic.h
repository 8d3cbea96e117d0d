// Deterministic protobuf encoding (sorted map keys), so the gateway and the
// receiving service compute the same body digest for a request.
#pragma once

#include <google/protobuf/message.h>

#include <string>

namespace cloister::services {

std::string DeterministicSerialize(const google::protobuf::Message& m);

}  // namespace cloister::services
