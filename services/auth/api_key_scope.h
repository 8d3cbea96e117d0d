// API-key scopes (api::ApiKeyScope): checked against the method table at
// CreateApiKey, and stored in auth's database as one canonical text —
// "" (unrestricted) or a sorted list such as "read-only,Call" — so a
// stored scope reads the same as the CLI's --scope.
//
//   CLOISTER_ASSIGN_OR_RETURN(api::ApiKeyScope s, CanonicalScope(req.scope()));
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "proto/cloister.pb.h"

namespace cloister::auth {

inline constexpr std::string_view kReadOnlyScopeName = "read-only";
inline constexpr int kMaxScopeMethods = 64;
inline constexpr const char* kScopeInvalid = "API_KEY_SCOPE_INVALID";

// Sorted, without duplicates, every method a public method of the table.
// InvalidArgument [API_KEY_SCOPE_INVALID] naming the offending entry.
Result<api::ApiKeyScope> CanonicalScope(const api::ApiKeyScope& scope);

std::string ScopeToText(const api::ApiKeyScope& scope);
// The inverse of ScopeToText; DataLoss on text it could not have written.
// Names are not checked against the table: a method removed since the key
// was made simply matches nothing.
Result<api::ApiKeyScope> ScopeFromText(std::string_view text);

}  // namespace cloister::auth
