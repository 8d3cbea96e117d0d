// KeyVaultCore: audit, access checks (names, grants, policy), metadata, the
// key lifecycle and grants (crypto and import/export are in
// keyvault_crypto_ops.cc, file keys in file_keys.cc). See keyvault_core.h
// for the contract and reasons.
#include "services/keyvault/keyvault_core.h"

#include <ctime>
#include <string>
#include <vector>

#include "common/logging.h"
#include "services/keyvault/keyvault_core_detail.h"

namespace cloister::keyvault_service {
namespace {

using keyvault::Operation;
using keyvault_ops::Bit;
using keyvault_ops::OpMask;
using keyvault_store::KeyRecord;

constexpr size_t kMaxGranteeLength = 128;

Error KeyNotFound() {
  // The same answer whether the key is absent or merely not the caller's,
  // so names of other users' keys cannot be probed.
  return NotFound("no such key (or no access to it)", keyvault_store::reason::kKeyNotFound);
}

void AddOps(OpMask mask, google::protobuf::RepeatedField<int>* out) {
  for (int op = 1; op <= keyvault::Operation_MAX; ++op)
    if (mask & (OpMask{1} << op)) out->Add(op);
}

int64_t WallClock() { return static_cast<int64_t>(std::time(nullptr)); }

using detail::CheckType;
using detail::OpsFrom;
using detail::OwnNewName;

}  // namespace

namespace detail {

Result<OpMask> OpsFrom(const google::protobuf::RepeatedField<int>& ops, keyvault::KeyType type) {
  OpMask mask = 0;
  for (int op : ops) {
    if (!keyvault::Operation_IsValid(op) || op == keyvault::OPERATION_UNSPECIFIED)
      return InvalidArgument("unknown operation " + std::to_string(op),
                             keyvault_ops::reason::kOperationUnknown);
    auto o = static_cast<Operation>(op);
    if ((keyvault_ops::SupportedOps(type) & Bit(o)) == 0)
      return InvalidArgument(std::string(keyvault_ops::OperationName(o)) + " is not supported by a " +
                                 std::string(keyvault_ops::KeyTypeName(type)) + " key",
                             keyvault_ops::reason::kOperationUnsupported);
    mask |= Bit(o);
  }
  return mask;
}

Status CheckType(keyvault::KeyType t) {
  if (t == keyvault::KEY_TYPE_UNSPECIFIED || !keyvault::KeyType_IsValid(t))
    return InvalidArgument("unknown key type", keyvault_ops::reason::kKeyTypeUnknown);
  return OkStatus();
}

// A name for creating a key: bare, in the caller's own namespace.
Result<std::string> OwnNewName(std::string_view text) {
  CLOISTER_ASSIGN_OR_RETURN(auto ref, keyvault_ops::ParseKeyRef(text));
  if (ref.qualified())
    return InvalidArgument(
        "keys are created in your own namespace only: give the name without 'owner/' (other "
        "users then call it <your username>/" + ref.name + ")",
        reason::kNameQualified);
  return ref.name;
}

}  // namespace detail

KeyVaultCore::KeyVaultCore(keyvault_store::KeyStore* store, services::AuditLog* audit,
                           std::function<int64_t()> clock)
    : store_(store), audit_(audit), clock_(clock ? std::move(clock) : WallClock) {}

Status KeyVaultCore::Record(const Caller& c, std::string_view op, const Status& outcome,
                            const Trace& t) {
  if (audit_ == nullptr) return OkStatus();
  services::AuditEntry e;
  e.principal = c.user_id().empty() ? "unknown" : c.user_id();
  e.method = "keyvault." + std::string(op);
  e.decision = outcome.ok() ? "allow" : "deny";
  e.reason = outcome.ok() ? "" : (outcome.error().reason().empty()
                                      ? std::string(CodeName(outcome.code()))
                                      : outcome.error().reason());
  e.request_id = c.request_id();
  // Resources are HMAC'd by the log; the version rides along with the key.
  if (!t.key.empty())
    e.resources.push_back(t.version ? t.key + "@v" + std::to_string(t.version) : t.key);
  if (!t.task_id.empty()) e.resources.push_back("task:" + t.task_id);
  if (Status st = audit_->Append(e); !st.ok()) {
    LOG_ERROR("keyvault audit append failed; refusing the result", {{"error", st.ToString()}});
    return Unavailable("audit log unavailable", reason::kAuditUnavailable);
  }
  return OkStatus();
}

Status KeyVaultCore::CheckCaller(const Caller& c) const {
  // Keys belong to users; anonymous and service principals own nothing.
  if (c.kind() != Caller::Kind::kUser)
    return Unauthenticated("key operations need an authenticated user", reason::kUnauthenticated);
  // The username is the caller's namespace; auth's usernames always fit.
  if (!keyvault_ops::ValidateOwnerName(c.username()).ok())
    return Unauthenticated("the caller's username cannot name a key namespace",
                           reason::kUnauthenticated);
  return OkStatus();
}

Result<KeyVaultCore::Resolved> KeyVaultCore::Resolve(const Caller& c,
                                                     const keyvault_ops::KeyRef& ref,
                                                     bool admin_view, int64_t now) {
  if (!ref.qualified() || ref.owner == c.username()) {
    // A bare name is only ever the caller's own key: nobody else's key, and
    // no grant, can stand in for it.
    CLOISTER_ASSIGN_OR_RETURN(auto k, store_->Get(c.user_id(), ref.name, now));
    if (!k) return KeyNotFound();
    return Resolved{.key = *std::move(k), .owner = true};
  }
  CLOISTER_ASSIGN_OR_RETURN(auto keys, store_->FindByOwnerUsername(ref.owner, ref.name, now));
  std::vector<Resolved> usable;
  for (auto& k : keys) {
    // The caller's own keys are named without an owner (usernames never
    // change, so this is only a stale row of another username).
    if (k.owner == c.user_id()) continue;
    CLOISTER_ASSIGN_OR_RETURN(OpMask granted, store_->GrantedOps(k, c.user_id(), now));
    if (granted != 0 || admin_view)
      usable.push_back(Resolved{.key = std::move(k), .owner = false, .granted = granted});
  }
  if (usable.empty()) return KeyNotFound();
  if (usable.size() > 1)
    return FailedPrecondition(
        "more than one key you may use is named " + usable.front().key.FullName() +
            " (the username was given to a new user after its holder was deleted); refusing "
            "to guess which owner you mean",
        reason::kNameAmbiguous);
  return std::move(usable.front());
}

Result<KeyRecord> KeyVaultCore::Authorize(const Caller& c, std::string_view name, Operation op,
                                          Trace& t) {
  CLOISTER_ASSIGN_OR_RETURN(auto ref, keyvault_ops::ParseKeyRef(name));
  t.key = std::string(name);
  const int64_t now = clock_();
  const bool admin_view = c.is_admin() && op == keyvault::OPERATION_DESCRIBE;
  CLOISTER_ASSIGN_OR_RETURN(Resolved r, Resolve(c, ref, admin_view, now));
  t.key = r.key.FullName();
  const KeyRecord* k = &r.key;
  if (!r.owner) {
    const OpMask granted = r.granted;
    if (op == keyvault::OPERATION_UNSPECIFIED)
      return PermissionDenied("only the key's owner may manage it", reason::kNotOwner);
    // Any live grant lets its holder see the metadata it needs (versions,
    // public key); every other operation must be granted explicitly.
    if (op != keyvault::OPERATION_DESCRIBE && (granted & Bit(op)) == 0)
      return PermissionDenied(std::string(keyvault_ops::OperationName(op)) +
                                  " is not granted on this key",
                              reason::kNotGranted);
  }
  if (op == keyvault::OPERATION_UNSPECIFIED || op == keyvault::OPERATION_DESCRIBE) return *k;
  if ((keyvault_ops::SupportedOps(k->type) & Bit(op)) == 0)
    return InvalidArgument(std::string(keyvault_ops::OperationName(op)) + " is not supported by a " +
                               std::string(keyvault_ops::KeyTypeName(k->type)) + " key",
                           keyvault_ops::reason::kOperationUnsupported);
  if (op == keyvault::OPERATION_EXPORT && !k->exportable)
    return PermissionDenied("key was not created exportable", reason::kNotExportable);
  if (op != keyvault::OPERATION_EXPORT && (k->allowed & Bit(op)) == 0)
    return PermissionDenied("the key's policy does not allow " +
                                std::string(keyvault_ops::OperationName(op)),
                            reason::kNotAllowed);
  if (k->state == keyvault::KEY_STATE_DISABLED)
    return FailedPrecondition("key is disabled", reason::kDisabled);
  if (k->state == keyvault::KEY_STATE_PENDING_DELETION)
    return FailedPrecondition("key is scheduled for deletion", reason::kPendingDeletion);
  return *k;
}

Status KeyVaultCore::CheckVersion(const KeyRecord& k, uint32_t version) const {
  if (version == 0 || version > k.latest_version)
    return NotFound("key has no version " + std::to_string(version),
                    keyvault_store::reason::kVersionNotFound);
  if (version < k.min_decryption_version)
    return FailedPrecondition("key version " + std::to_string(version) +
                                  " is retired (minimum decryption version " +
                                  std::to_string(k.min_decryption_version) + ")",
                              reason::kVersionRetired);
  return OkStatus();
}

Result<keyvault::KeyMetadata> KeyVaultCore::Metadata(const KeyRecord& k, bool detailed,
                                                     bool with_grants) {
  keyvault::KeyMetadata m;
  m.set_name(k.name);
  m.set_full_name(k.FullName());
  m.set_owner_username(k.owner_username);
  m.set_type(k.type);
  m.set_owner_user_id(k.owner);
  m.set_exportable(k.exportable);
  AddOps(k.allowed, m.mutable_allowed_operations());
  m.set_state(k.state);
  m.set_latest_version(k.latest_version);
  m.set_min_decryption_version(k.min_decryption_version);
  m.set_created_unix(k.created_unix);
  m.set_deletion_unix(k.deletion_unix);
  if (detailed) {
    CLOISTER_ASSIGN_OR_RETURN(auto versions, store_->Versions(k));
    for (const auto& v : versions) {
      auto* out = m.add_versions();
      out->set_version(v.version);
      out->set_created_unix(v.created_unix);
      out->set_retired(v.version < k.min_decryption_version);
      if (!v.public_spki.empty()) {
        out->set_public_key_spki(v.public_spki.data(), v.public_spki.size());
        auto pk = crypto::PublicKey::FromSpkiDer(v.public_spki);
        if (pk.ok()) out->set_public_key_pem(pk->Pem());
      }
    }
  }
  if (with_grants) {
    CLOISTER_ASSIGN_OR_RETURN(auto grants, store_->Grants(k));
    for (const auto& g : grants) {
      auto* out = m.add_grants();
      out->set_grant_id(g.grant_id);
      out->set_grantee_user_id(g.grantee);
      AddOps(g.ops, out->mutable_operations());
      out->set_expires_unix(g.expires_unix);
      out->set_created_unix(g.created_unix);
    }
  }
  return m;
}

// ---- lifecycle ----

Result<keyvault::CreateKeyResponse> KeyVaultCore::CreateKey(const Caller& c,
                                                            const keyvault::CreateKeyRequest& r) {
  return Audited<keyvault::CreateKeyResponse>(c, "CreateKey", [&](Trace& t)
                                                  -> Result<keyvault::CreateKeyResponse> {
    t.key = r.name();
    CLOISTER_ASSIGN_OR_RETURN(std::string name, OwnNewName(r.name()));
    t.key = keyvault_ops::FullKeyName(c.username(), name);
    CLOISTER_RETURN_IF_ERROR(CheckType(r.type()));
    CLOISTER_ASSIGN_OR_RETURN(OpMask allowed, OpsFrom(r.allowed_operations(), r.type()));
    if (allowed == 0) allowed = keyvault_ops::SupportedOps(r.type());
    const int64_t now = clock_();
    // Destroys the caller's key of this name if its deletion time passed.
    CLOISTER_RETURN_IF_ERROR(store_->Get(c.user_id(), name, now).status());
    CLOISTER_ASSIGN_OR_RETURN(auto material, keyvault_ops::KeyMaterial::Generate(r.type()));
    CLOISTER_ASSIGN_OR_RETURN(
        auto rec, store_->Create({.name = name, .type = r.type(), .owner = c.user_id(),
                                  .owner_username = c.username(), .exportable = r.exportable(),
                                  .allowed = allowed},
                                 material, now));
    t.version = 1;
    keyvault::CreateKeyResponse resp;
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(), Metadata(rec, true, true));
    return resp;
  });
}

Result<keyvault::ListKeysResponse> KeyVaultCore::ListKeys(const Caller& c,
                                                          const keyvault::ListKeysRequest& r) {
  return Audited<keyvault::ListKeysResponse>(c, "ListKeys", [&](Trace&)
                                                 -> Result<keyvault::ListKeysResponse> {
    CLOISTER_ASSIGN_OR_RETURN(
        auto keys, store_->List(c.user_id(), !r.owned_only(), c.is_admin(), clock_()));
    keyvault::ListKeysResponse resp;
    for (const auto& k : keys) {
      CLOISTER_ASSIGN_OR_RETURN(*resp.add_keys(), Metadata(k, false, false));
    }
    return resp;
  });
}

Result<keyvault::DescribeKeyResponse> KeyVaultCore::DescribeKey(
    const Caller& c, const keyvault::DescribeKeyRequest& r) {
  return Audited<keyvault::DescribeKeyResponse>(c, "DescribeKey", [&](Trace& t)
                                                    -> Result<keyvault::DescribeKeyResponse> {
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_DESCRIBE, t));
    keyvault::DescribeKeyResponse resp;
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(), Metadata(k, true, k.owner == c.user_id()));
    return resp;
  });
}

Result<keyvault::RotateKeyResponse> KeyVaultCore::RotateKey(const Caller& c,
                                                            const keyvault::RotateKeyRequest& r) {
  return Audited<keyvault::RotateKeyResponse>(c, "RotateKey", [&](Trace& t)
                                                  -> Result<keyvault::RotateKeyResponse> {
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_UNSPECIFIED, t));
    if (k.state == keyvault::KEY_STATE_PENDING_DELETION)
      return FailedPrecondition("key is scheduled for deletion", reason::kPendingDeletion);
    if (r.min_decryption_version() > k.latest_version + 1ull)
      return InvalidArgument("min_decryption_version is above the new latest version",
                             reason::kVersionInvalid);
    CLOISTER_ASSIGN_OR_RETURN(auto material, keyvault_ops::KeyMaterial::Generate(k.type));
    CLOISTER_ASSIGN_OR_RETURN(auto rec,
                              store_->AddVersion(k, material, r.min_decryption_version(), clock_()));
    t.version = rec.latest_version;
    keyvault::RotateKeyResponse resp;
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(), Metadata(rec, true, true));
    return resp;
  });
}

Result<keyvault::SetMinDecryptionVersionResponse> KeyVaultCore::SetMinDecryptionVersion(
    const Caller& c, const keyvault::SetMinDecryptionVersionRequest& r) {
  return Audited<keyvault::SetMinDecryptionVersionResponse>(
      c, "SetMinDecryptionVersion",
      [&](Trace& t) -> Result<keyvault::SetMinDecryptionVersionResponse> {
        CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_UNSPECIFIED, t));
        if (r.min_decryption_version() < 1 || r.min_decryption_version() > k.latest_version)
          return InvalidArgument("min_decryption_version must be in 1.." +
                                     std::to_string(k.latest_version),
                                 reason::kVersionInvalid);
        CLOISTER_ASSIGN_OR_RETURN(auto rec,
                                  store_->SetMinDecryptionVersion(k, r.min_decryption_version()));
        keyvault::SetMinDecryptionVersionResponse resp;
        CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(), Metadata(rec, true, true));
        return resp;
      });
}

Result<keyvault::SetKeyEnabledResponse> KeyVaultCore::SetKeyEnabled(
    const Caller& c, const keyvault::SetKeyEnabledRequest& r) {
  return Audited<keyvault::SetKeyEnabledResponse>(
      c, r.enabled() ? "EnableKey" : "DisableKey",
      [&](Trace& t) -> Result<keyvault::SetKeyEnabledResponse> {
        CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_UNSPECIFIED, t));
        if (k.state == keyvault::KEY_STATE_PENDING_DELETION)
          return FailedPrecondition("cancel the scheduled deletion first",
                                    reason::kPendingDeletion);
        CLOISTER_ASSIGN_OR_RETURN(
            auto rec, store_->SetState(k, r.enabled() ? keyvault::KEY_STATE_ENABLED
                                                      : keyvault::KEY_STATE_DISABLED,
                                       0));
        keyvault::SetKeyEnabledResponse resp;
        CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(), Metadata(rec, false, false));
        return resp;
      });
}

Result<keyvault::ScheduleKeyDeletionResponse> KeyVaultCore::ScheduleKeyDeletion(
    const Caller& c, const keyvault::ScheduleKeyDeletionRequest& r) {
  return Audited<keyvault::ScheduleKeyDeletionResponse>(
      c, "ScheduleKeyDeletion", [&](Trace& t) -> Result<keyvault::ScheduleKeyDeletionResponse> {
        CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_UNSPECIFIED, t));
        int64_t wait = r.waiting_period_s() == 0 ? kDefaultDeletionWaitS : r.waiting_period_s();
        if (wait < 1 || wait > kMaxDeletionWaitS)
          return InvalidArgument("waiting period must be 1 s .. 30 days", reason::kWaitingPeriod);
        CLOISTER_ASSIGN_OR_RETURN(
            auto rec, store_->SetState(k, keyvault::KEY_STATE_PENDING_DELETION, clock_() + wait));
        keyvault::ScheduleKeyDeletionResponse resp;
        CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(), Metadata(rec, false, false));
        return resp;
      });
}

Result<keyvault::CancelKeyDeletionResponse> KeyVaultCore::CancelKeyDeletion(
    const Caller& c, const keyvault::CancelKeyDeletionRequest& r) {
  return Audited<keyvault::CancelKeyDeletionResponse>(
      c, "CancelKeyDeletion", [&](Trace& t) -> Result<keyvault::CancelKeyDeletionResponse> {
        CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_UNSPECIFIED, t));
        if (k.state != keyvault::KEY_STATE_PENDING_DELETION)
          return FailedPrecondition("key is not scheduled for deletion", reason::kNotPendingDeletion);
        // Back as DISABLED (as AWS KMS does): re-enabling is a separate, deliberate act.
        CLOISTER_ASSIGN_OR_RETURN(auto rec, store_->SetState(k, keyvault::KEY_STATE_DISABLED, 0));
        keyvault::CancelKeyDeletionResponse resp;
        CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(), Metadata(rec, false, false));
        return resp;
      });
}

Result<keyvault::CreateGrantResponse> KeyVaultCore::CreateGrant(
    const Caller& c, const keyvault::CreateGrantRequest& r) {
  return Audited<keyvault::CreateGrantResponse>(c, "CreateGrant", [&](Trace& t)
                                                    -> Result<keyvault::CreateGrantResponse> {
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_UNSPECIFIED, t));
    if (r.grantee_user_id().empty() || r.grantee_user_id().size() > kMaxGranteeLength ||
        r.grantee_user_id() == c.user_id())
      return InvalidArgument("grantee must be another user's id", reason::kGrantInvalid);
    CLOISTER_ASSIGN_OR_RETURN(OpMask ops, OpsFrom(r.operations(), k.type));
    if (ops == 0) return InvalidArgument("a grant needs at least one operation", reason::kGrantInvalid);
    const int64_t now = clock_();
    if (r.expires_unix() != 0 && r.expires_unix() <= now)
      return InvalidArgument("grant expiry is in the past", reason::kGrantInvalid);
    keyvault_store::GrantRecord g;
    g.key_uid = k.uid;
    g.grantee = r.grantee_user_id();
    g.ops = ops;
    g.expires_unix = r.expires_unix();
    g.created_unix = now;
    CLOISTER_ASSIGN_OR_RETURN(g, store_->AddGrant(std::move(g)));
    keyvault::CreateGrantResponse resp;
    auto* out = resp.mutable_grant();
    out->set_grant_id(g.grant_id);
    out->set_grantee_user_id(g.grantee);
    AddOps(g.ops, out->mutable_operations());
    out->set_expires_unix(g.expires_unix);
    out->set_created_unix(g.created_unix);
    return resp;
  });
}

Result<keyvault::RevokeGrantResponse> KeyVaultCore::RevokeGrant(
    const Caller& c, const keyvault::RevokeGrantRequest& r) {
  return Audited<keyvault::RevokeGrantResponse>(c, "RevokeGrant", [&](Trace& t)
                                                    -> Result<keyvault::RevokeGrantResponse> {
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_UNSPECIFIED, t));
    CLOISTER_ASSIGN_OR_RETURN(bool revoked, store_->RevokeGrant(k, r.grant_id()));
    if (!revoked) return NotFound("no such grant on this key", reason::kGrantNotFound);
    keyvault::RevokeGrantResponse resp;
    resp.set_revoked(true);
    return resp;
  });
}

}  // namespace cloister::keyvault_service
