// cloister-tasks' function registry: registering built-in and Lua function
// versions (immutable, identified by their canonical hash), listing,
// showing and disabling them, and resolving the version a task pins; see
// tasks_core.h.
#include "services/tasks/tasks_core.h"

#include "common/crypto/random.h"
#include "functions/builtin/registry.h"
#include "functions/lua/lua_function.h"
#include "services/tasks/canonical.h"
#include "services/tasks/request_checks.h"
#include "services/tasks/spec_rules.h"

namespace cloister::tasks_service {
namespace {

Error FunctionNotFound() {
  // Absent and not usable by the caller are one answer: private functions
  // cannot be probed.
  return NotFound("no such function version (or not usable by you)", reason::kFunctionNotFound);
}

}  // namespace

bool TasksCore::CanUse(const FunctionRow& f, std::string_view user) const {
  return f.is_public || f.owner == user || f.allowed.count(std::string(user)) > 0;
}

tasks::FunctionVersion TasksCore::VersionToProto(const FunctionRow& f, std::string_view viewer,
                                                 bool with_source) const {
  tasks::FunctionVersion p;
  p.set_function_id(f.function_id);
  p.set_hash(f.hash);
  p.set_version(static_cast<uint32_t>(f.version));
  p.set_owner_user_id(f.owner);
  p.set_kind(f.kind);
  *p.mutable_spec() = f.spec;
  p.set_description(f.description);
  p.set_public_(f.is_public);
  // Who else may use a private function is its owner's business.
  if (f.owner == viewer)
    for (const auto& u : f.allowed) p.add_allowed_users(u);
  p.set_disabled(f.disabled);
  p.set_created_unix_ms(f.created_ms);
  p.set_source_size(static_cast<uint64_t>(f.source_size));
  p.set_builtin_name(f.builtin_name);
  if (with_source) p.set_source(f.source);
  return p;
}

Result<FunctionRow> TasksCore::ResolveVersion(const Caller& c, std::string_view hash,
                                              std::string_view function_id) {
  std::optional<FunctionRow> found;
  if (!function_id.empty()) {
    CLOISTER_ASSIGN_OR_RETURN(found, store_->GetVersion(function_id, hash));
    if (!found || !CanUse(*found, c.user_id())) return FunctionNotFound();
  } else {
    CLOISTER_ASSIGN_OR_RETURN(auto rows, store_->VersionsByHash(hash));
    std::erase_if(rows, [&](const FunctionRow& f) { return !CanUse(f, c.user_id()); });
    if (rows.empty()) return FunctionNotFound();
    if (rows.size() > 1)
      return InvalidArgument(std::to_string(rows.size()) +
                                 " functions you may use have this hash; name one by function_id",
                             reason::kFunctionAmbiguous);
    found = std::move(rows.front());
  }
  if (found->disabled)
    return FailedPrecondition("function version " + found->hash + " was disabled by its owner",
                              reason::kFunctionDisabled);
  return *std::move(found);
}

Result<tasks::RegisterTaskFunctionResponse> TasksCore::RegisterTaskFunction(
    const Caller& c, const tasks::RegisterTaskFunctionRequest& r) {
  return Call<tasks::RegisterTaskFunctionResponse>(c, "RegisterTaskFunction", true, [&](Trace& tr)
      -> Result<tasks::RegisterTaskFunctionResponse> {
    FunctionRow row;
    row.owner = c.user_id();
    row.kind = r.kind();
    switch (r.kind()) {
      case tasks::FUNCTION_KIND_BUILTIN: {
        if (!r.lua_source().empty())
          return InvalidArgument("lua_source: a built-in has no source", reason::kSourceInvalid);
        if (r.has_spec())
          return InvalidArgument("spec: a built-in's spec comes from the registry",
                                 reason::kSpecInvalid);
        const functions::Function* fn =
            r.builtin_name().size() <= kMaxNameBytes
                ? functions::builtin::Builtins().Find(r.builtin_name())
                : nullptr;
        if (fn == nullptr)
          return InvalidArgument("builtin_name: no built-in function '" +
                                     r.builtin_name().substr(0, kMaxNameBytes) + "'",
                                 reason::kBuiltinUnknown);
        row.builtin_name = fn->spec().name;
        row.source = row.builtin_name;  // what the hash covers for a built-in
        row.spec = SpecToProto(fn->spec());
        row.description = r.description().empty() ? fn->spec().description : r.description();
        break;
      }
      case tasks::FUNCTION_KIND_LUA: {
        if (!r.builtin_name().empty())
          return InvalidArgument("builtin_name: only for built-ins", reason::kSourceInvalid);
        if (r.lua_source().empty())
          return InvalidArgument("lua_source: a Lua function needs its source",
                                 reason::kSourceInvalid);
        if (r.lua_source().size() > kMaxSourceBytes)
          return InvalidArgument("lua_source is " + std::to_string(r.lua_source().size()) +
                                     " bytes; at most " + std::to_string(kMaxSourceBytes),
                                 reason::kSourceTooLarge);
        if (!r.has_spec())
          return InvalidArgument("spec: a Lua function needs its spec", reason::kSpecInvalid);
        CLOISTER_ASSIGN_OR_RETURN(row.spec, NormalizeLuaSpec(r.spec()));
        // Compiling (not running) refuses a source that could never run.
        CLOISTER_RETURN_IF_ERROR(
            functions::lua::LuaFunction::Create(SpecFromProto(row.spec), r.lua_source()).status());
        row.source = r.lua_source();
        row.description = r.description();
        break;
      }
      default:
        return InvalidArgument("kind must be BUILTIN or LUA", reason::kKindInvalid);
    }
    CLOISTER_RETURN_IF_ERROR(CheckText("description", row.description, kMaxDescriptionBytes));
    row.is_public = r.public_();
    if (r.allowed_users_size() > static_cast<int>(kMaxAllowedUsers))
      return InvalidArgument("allowed_users: at most " + std::to_string(kMaxAllowedUsers),
                             reason::kUserIdInvalid);
    if (!row.is_public)
      for (int i = 0; i < r.allowed_users_size(); ++i) {
        CLOISTER_RETURN_IF_ERROR(
            CheckUserId("allowed_users[" + std::to_string(i) + "]", r.allowed_users(i)));
        row.allowed.insert(r.allowed_users(i));
      }
    row.hash = FunctionHash(row.kind, row.source, row.spec);
    row.source_size = static_cast<int64_t>(row.source.size());
    row.created_ms = Now();
    const bool new_function = r.function_id().empty();
    if (new_function) {
      row.function_id = crypto::RandomId();
    } else {
      CLOISTER_RETURN_IF_ERROR(CheckFunctionId(r.function_id()));
      CLOISTER_ASSIGN_OR_RETURN(auto versions, store_->Versions(r.function_id()));
      bool usable = false;
      for (const auto& v : versions) usable = usable || CanUse(v, c.user_id());
      if (!usable) return FunctionNotFound();
      if (versions.front().owner != c.user_id())
        return PermissionDenied("only the function's owner may add a version to it",
                                reason::kNotFunctionOwner);
      row.function_id = r.function_id();
    }
    tr.resource = row.function_id;
    CLOISTER_ASSIGN_OR_RETURN(TaskStore::Registered reg, store_->RegisterVersion(std::move(row), new_function));
    tasks::RegisterTaskFunctionResponse resp;
    *resp.mutable_function() = VersionToProto(reg.row, c.user_id(), false);
    resp.set_created(reg.created);
    return resp;
  });
}

Result<tasks::ListTaskFunctionsResponse> TasksCore::ListTaskFunctions(
    const Caller& c, const tasks::ListTaskFunctionsRequest& r) {
  return Call<tasks::ListTaskFunctionsResponse>(c, "ListTaskFunctions", false, [&](Trace&)
      -> Result<tasks::ListTaskFunctionsResponse> {
    CLOISTER_ASSIGN_OR_RETURN(int64_t before, DecodePageToken(r.page_token()));
    const uint32_t page = PageSize(r.page_size());
    CLOISTER_ASSIGN_OR_RETURN(auto rows, store_->ListUsable(c.user_id(), r.mine_only(),
                                                            r.include_disabled(), before, page + 1));
    tasks::ListTaskFunctionsResponse resp;
    const bool more = rows.size() > page;
    if (more) rows.resize(page);
    for (const auto& f : rows) *resp.add_functions() = VersionToProto(f, c.user_id(), false);
    if (more) resp.set_next_page_token(EncodePageToken(rows.back().function_seq));
    return resp;
  });
}

Result<tasks::GetTaskFunctionResponse> TasksCore::GetTaskFunction(
    const Caller& c, const tasks::GetTaskFunctionRequest& r) {
  return Call<tasks::GetTaskFunctionResponse>(c, "GetTaskFunction", false, [&](Trace& tr)
      -> Result<tasks::GetTaskFunctionResponse> {
    if (r.function_id().empty() && r.hash().empty())
      return InvalidArgument("function_id or hash is required", reason::kFunctionIdInvalid);
    if (!r.function_id().empty()) CLOISTER_RETURN_IF_ERROR(CheckFunctionId(r.function_id()));
    if (!r.hash().empty()) CLOISTER_RETURN_IF_ERROR(CheckFunctionHash("hash", r.hash()));
    std::string function_id = r.function_id();
    if (function_id.empty()) {
      CLOISTER_ASSIGN_OR_RETURN(auto rows, store_->VersionsByHash(r.hash()));
      std::erase_if(rows, [&](const FunctionRow& f) { return !CanUse(f, c.user_id()); });
      if (rows.empty()) return FunctionNotFound();
      if (rows.size() > 1)
        return InvalidArgument(std::to_string(rows.size()) +
                                   " functions you may use have this hash; name one by function_id",
                               reason::kFunctionAmbiguous);
      function_id = rows.front().function_id;
    }
    tr.resource = function_id;
    CLOISTER_ASSIGN_OR_RETURN(auto versions, store_->Versions(function_id));
    std::erase_if(versions, [&](const FunctionRow& f) { return !CanUse(f, c.user_id()); });
    if (versions.empty()) return FunctionNotFound();
    const FunctionRow* chosen = &versions.back();
    if (!r.hash().empty()) {
      chosen = nullptr;
      for (const auto& v : versions)
        if (v.hash == r.hash()) chosen = &v;
      if (chosen == nullptr) return FunctionNotFound();
    }
    FunctionRow shown = *chosen;
    if (r.include_source()) {
      CLOISTER_ASSIGN_OR_RETURN(auto full, store_->GetVersion(shown.function_id, shown.hash, true));
      if (!full) return FunctionNotFound();
      shown.source = full->source;
    }
    tasks::GetTaskFunctionResponse resp;
    *resp.mutable_function() = VersionToProto(shown, c.user_id(), r.include_source());
    for (const auto& v : versions) *resp.add_versions() = VersionToProto(v, c.user_id(), false);
    return resp;
  });
}

Result<tasks::DisableTaskFunctionResponse> TasksCore::DisableTaskFunction(
    const Caller& c, const tasks::DisableTaskFunctionRequest& r) {
  return Call<tasks::DisableTaskFunctionResponse>(c, "DisableTaskFunction", true, [&](Trace& tr)
      -> Result<tasks::DisableTaskFunctionResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckFunctionId(r.function_id()));
    tr.resource = r.function_id();
    if (!r.hash().empty()) CLOISTER_RETURN_IF_ERROR(CheckFunctionHash("hash", r.hash()));
    CLOISTER_ASSIGN_OR_RETURN(auto versions, store_->Versions(r.function_id()));
    bool usable = false, has_hash = r.hash().empty();
    for (const auto& v : versions) {
      usable = usable || CanUse(v, c.user_id());
      has_hash = has_hash || v.hash == r.hash();
    }
    if (!usable) return FunctionNotFound();
    if (versions.front().owner != c.user_id())
      return PermissionDenied("only the function's owner may disable it", reason::kNotFunctionOwner);
    if (!has_hash) return FunctionNotFound();
    CLOISTER_ASSIGN_OR_RETURN(int64_t n, store_->Disable(r.function_id(), r.hash()));
    tasks::DisableTaskFunctionResponse resp;
    resp.set_disabled(static_cast<uint32_t>(n));
    return resp;
  });
}

}  // namespace cloister::tasks_service
