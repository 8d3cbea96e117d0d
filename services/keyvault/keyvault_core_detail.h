// Helpers KeyVaultCore's two source files share (keyvault_core.cc: lifecycle,
// grants, access checks; keyvault_crypto_ops.cc: crypto, import/export).
// Not for use outside services/keyvault.
#pragma once

#include <string>
#include <string_view>

#include "services/keyvault/keyvault_core.h"

namespace cloister::keyvault_service {
namespace detail {

// The operations a request lists, each one a `type` key supports.
Result<keyvault_ops::OpMask> OpsFrom(const google::protobuf::RepeatedField<int>& ops,
                                     keyvault::KeyType type);

// INVALID_ARGUMENT [KEY_TYPE_UNKNOWN] unless `t` is a known key type.
Status CheckType(keyvault::KeyType t);

// A name for creating a key: bare, in the caller's own namespace.
Result<std::string> OwnNewName(std::string_view text);

}  // namespace detail

// Defined here, not in keyvault_core.cc, because both source files' calls
// instantiate it (one per operation's lambda).
template <typename Resp, typename Fn>
Result<Resp> KeyVaultCore::Audited(const Caller& c, std::string_view op, Fn fn) {
  Trace t;
  Result<Resp> r = [&]() -> Result<Resp> {
    CLOISTER_RETURN_IF_ERROR(CheckCaller(c));
    // The verified proof tells the vault this user's username: keys made
    // before namespaces get it now, so grantees can name them owner/name.
    CLOISTER_RETURN_IF_ERROR(store_->AdoptOwnerUsername(c.user_id(), c.username()));
    return fn(t);
  }();
  CLOISTER_RETURN_IF_ERROR(Record(c, op, r.status(), t));
  return r;
}

}  // namespace cloister::keyvault_service
