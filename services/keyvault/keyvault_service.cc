// cloister-keyvault request handling; see keyvault_service.h.
#include "services/keyvault/keyvault_service.h"

#include <ctime>

#include "common/crypto/random.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "services/common/serve_unary.h"

namespace cloister::keyvault_service {
namespace {

using keyvault::Operation;
using keyvault_ops::Bit;
using keyvault_ops::OpMask;
using keyvault_store::KeyRecord;

constexpr std::string_view kBackend = "/cloister.keyvault.KeyVault/";
constexpr size_t kMaxGranteeLength = 128;

Error KeyNotFound() {
  // The same answer whether the key is absent or merely not the caller's,
  // so names of other users' keys cannot be probed.
  return NotFound("no such key (or no access to it)", keyvault_store::reason::kKeyNotFound);
}

Status CheckSize(size_t n, size_t limit, std::string_view what) {
  if (n > limit)
    return InvalidArgument(std::string(what) + " is " + std::to_string(n) + " bytes; the limit is " +
                               std::to_string(limit),
                           reason::kPayloadTooLarge);
  return OkStatus();
}

// Per-item error inside a batch response.
void SetItemError(keyvault::ItemError* out, const Error& e) {
  out->set_code(static_cast<int>(e.code()));
  out->set_reason(e.reason());
  out->set_message(e.message());
}

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

void AddOps(OpMask mask, google::protobuf::RepeatedField<int>* out) {
  for (int op = 1; op <= keyvault::Operation_MAX; ++op)
    if (mask & (OpMask{1} << op)) out->Add(op);
}

Status CheckType(keyvault::KeyType t) {
  if (t == keyvault::KEY_TYPE_UNSPECIFIED || !keyvault::KeyType_IsValid(t))
    return InvalidArgument("unknown key type", keyvault_ops::reason::kKeyTypeUnknown);
  return OkStatus();
}

int64_t WallClock() { return static_cast<int64_t>(std::time(nullptr)); }

// Whether a ciphertext's header names key `k`: its full name, or (for a key
// made before namespaces) the bare name its older ciphertexts carry.
bool HeaderNamesKey(std::string_view header, const KeyRecord& k) {
  return header == k.FullName() || (k.legacy_name && header == k.name);
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

}  // namespace

KeyVaultCore::KeyVaultCore(keyvault_store::KeyStore* store, services::AuditLog* audit,
                           std::function<int64_t()> clock)
    : store_(store), audit_(audit), clock_(clock ? std::move(clock) : WallClock) {}

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

// ---- symmetric ----

Result<keyvault::EncryptResponse> KeyVaultCore::Encrypt(const Caller& c,
                                                        const keyvault::EncryptRequest& r) {
  return Audited<keyvault::EncryptResponse>(c, "Encrypt", [&](Trace& t)
                                                -> Result<keyvault::EncryptResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.plaintext().size(), kMaxPayload, "plaintext"));
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.aad().size(), kMaxAad, "aad"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_ENCRYPT, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
    keyvault::EncryptResponse resp;
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_ciphertext(),
                              keyvault_ops::EncryptWith(gcm, k.FullName(), k.latest_version,
                                                        AsBytes(r.plaintext()), AsBytes(r.aad())));
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<Bytes> KeyVaultCore::DecryptOne(const KeyRecord& k, std::string_view ciphertext,
                                       ByteView aad, uint32_t* version) {
  CLOISTER_ASSIGN_OR_RETURN(auto ct, keyvault_ops::ParseCiphertext(ciphertext));
  if (!HeaderNamesKey(ct.name, k))
    return InvalidArgument("ciphertext was made with another key", reason::kKeyMismatch);
  *version = ct.version;
  CLOISTER_RETURN_IF_ERROR(CheckVersion(k, ct.version));
  CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, ct.version));
  CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
  return keyvault_ops::DecryptWith(gcm, ct, aad);
}

Result<keyvault::DecryptResponse> KeyVaultCore::Decrypt(const Caller& c,
                                                        const keyvault::DecryptRequest& r) {
  return Audited<keyvault::DecryptResponse>(c, "Decrypt", [&](Trace& t)
                                                -> Result<keyvault::DecryptResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.aad().size(), kMaxAad, "aad"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_DECRYPT, t));
    CLOISTER_ASSIGN_OR_RETURN(Bytes pt, DecryptOne(k, r.ciphertext(), AsBytes(r.aad()), &t.version));
    keyvault::DecryptResponse resp;
    resp.set_plaintext(pt.data(), pt.size());
    Cleanse(pt);
    resp.set_key_version(t.version);
    return resp;
  });
}

Result<keyvault::GenerateDataKeyResponse> KeyVaultCore::GenerateDataKey(
    const Caller& c, const keyvault::GenerateDataKeyRequest& r) {
  return Audited<keyvault::GenerateDataKeyResponse>(
      c, "GenerateDataKey", [&](Trace& t) -> Result<keyvault::GenerateDataKeyResponse> {
        CLOISTER_RETURN_IF_ERROR(CheckSize(r.aad().size(), kMaxAad, "aad"));
        CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_ENCRYPT, t));
        t.version = k.latest_version;
        CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
        CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
        SecretBytes dk = SecretBytes::Random(keyvault_ops::kSymmetricKeySize);
        keyvault::GenerateDataKeyResponse resp;
        CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_ciphertext(),
                                  keyvault_ops::EncryptWith(gcm, k.FullName(), k.latest_version, dk.view(),
                                                            AsBytes(r.aad())));
        if (!r.wrapped_only()) resp.set_plaintext(dk.data(), dk.size());
        resp.set_key_version(k.latest_version);
        return resp;
      });
}

Result<keyvault::RewrapResponse> KeyVaultCore::Rewrap(const Caller& c,
                                                      const keyvault::RewrapRequest& r) {
  return Audited<keyvault::RewrapResponse>(c, "Rewrap", [&](Trace& t)
                                               -> Result<keyvault::RewrapResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.aad().size(), kMaxAad, "aad"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_REWRAP, t));
    uint32_t from = 0;
    CLOISTER_ASSIGN_OR_RETURN(Bytes pt, DecryptOne(k, r.ciphertext(), AsBytes(r.aad()), &from));
    SecretBytes plain = SecretBytes::Adopt(std::move(pt));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
    keyvault::RewrapResponse resp;
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_ciphertext(),
                              keyvault_ops::EncryptWith(gcm, k.FullName(), k.latest_version, plain.view(),
                                                        AsBytes(r.aad())));
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::BatchEncryptResponse> KeyVaultCore::BatchEncrypt(
    const Caller& c, const keyvault::BatchEncryptRequest& r) {
  return Audited<keyvault::BatchEncryptResponse>(c, "BatchEncrypt", [&](Trace& t)
                                                     -> Result<keyvault::BatchEncryptResponse> {
    if (static_cast<size_t>(r.items_size()) > kMaxBatchItems)
      return InvalidArgument("at most 100000 items per batch", reason::kBatchTooLarge);
    size_t total = 0;
    for (const auto& it : r.items()) total += it.plaintext().size() + it.aad().size();
    if (total > kMaxBatchBytes)
      return InvalidArgument("batch holds more than 32 MiB", reason::kBatchTooLarge);
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_ENCRYPT, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
    // One CSPRNG call for every nonce of the batch: per-item calls dominate
    // the cost of small messages.
    Bytes nonces(static_cast<size_t>(r.items_size()) * crypto::kAesGcmNonceSize);
    crypto::FillRandom(nonces);
    keyvault_ops::Encryptor enc(&gcm, k.FullName(), k.latest_version);
    keyvault::BatchEncryptResponse resp;
    resp.mutable_results()->Reserve(r.items_size());
    for (int i = 0; i < r.items_size(); ++i) {
      const auto& item = r.items(i);
      auto* out = resp.add_results();
      if (item.plaintext().size() > kMaxPayload || item.aad().size() > kMaxAad) {
        SetItemError(out->mutable_error(),
                     InvalidArgument("item exceeds the size limit", reason::kPayloadTooLarge));
        continue;
      }
      auto ct = enc.Encrypt(ByteView(nonces).subspan(i * crypto::kAesGcmNonceSize,
                                                      crypto::kAesGcmNonceSize),
                            AsBytes(item.plaintext()), AsBytes(item.aad()));
      if (ct.ok()) {
        *out->mutable_ciphertext() = *std::move(ct);
      } else {
        SetItemError(out->mutable_error(), ct.error());
      }
    }
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::BatchDecryptResponse> KeyVaultCore::BatchDecrypt(
    const Caller& c, const keyvault::BatchDecryptRequest& r) {
  return Audited<keyvault::BatchDecryptResponse>(c, "BatchDecrypt", [&](Trace& t)
                                                     -> Result<keyvault::BatchDecryptResponse> {
    if (static_cast<size_t>(r.items_size()) > kMaxBatchItems)
      return InvalidArgument("at most 100000 items per batch", reason::kBatchTooLarge);
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_DECRYPT, t));
    // Versions differ per item; keep one keyed context per version.
    std::map<uint32_t, crypto::AesGcm> contexts;
    keyvault::BatchDecryptResponse resp;
    resp.mutable_results()->Reserve(r.items_size());
    for (const auto& item : r.items()) {
      auto* out = resp.add_results();
      auto one = [&]() -> Result<Bytes> {
        CLOISTER_RETURN_IF_ERROR(CheckSize(item.aad().size(), kMaxAad, "aad"));
        CLOISTER_ASSIGN_OR_RETURN(auto ct, keyvault_ops::ParseCiphertext(item.ciphertext()));
        if (!HeaderNamesKey(ct.name, k))
          return InvalidArgument("ciphertext was made with another key", reason::kKeyMismatch);
        CLOISTER_RETURN_IF_ERROR(CheckVersion(k, ct.version));
        auto it = contexts.find(ct.version);
        if (it == contexts.end()) {
          CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, ct.version));
          CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
          it = contexts.emplace(ct.version, std::move(gcm)).first;
        }
        t.version = std::max(t.version, ct.version);
        return keyvault_ops::DecryptWith(it->second, ct, AsBytes(item.aad()));
      };
      auto pt = one();
      if (pt.ok()) {
        out->set_plaintext(pt->data(), pt->size());
        Cleanse(*pt);
      } else {
        SetItemError(out->mutable_error(), pt.error());
      }
    }
    return resp;
  });
}

// ---- signatures and MACs ----

Result<keyvault::SignResponse> KeyVaultCore::Sign(const Caller& c, const keyvault::SignRequest& r) {
  return Audited<keyvault::SignResponse>(c, "Sign", [&](Trace& t) -> Result<keyvault::SignResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.input().size(), kMaxPayload, "input"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_SIGN, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(Bytes sig, m->Sign(AsBytes(r.input()), r.prehashed(), r.algorithm()));
    keyvault::SignResponse resp;
    resp.set_signature(sig.data(), sig.size());
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::VerifyResponse> KeyVaultCore::Verify(const Caller& c,
                                                      const keyvault::VerifyRequest& r) {
  return Audited<keyvault::VerifyResponse>(c, "Verify", [&](Trace& t)
                                               -> Result<keyvault::VerifyResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.input().size(), kMaxPayload, "input"));
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.signature().size(), 4096, "signature"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_VERIFY, t));
    uint32_t v = r.key_version() == 0 ? k.latest_version : r.key_version();
    t.version = v;
    CLOISTER_RETURN_IF_ERROR(CheckVersion(k, v));
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, v));
    CLOISTER_ASSIGN_OR_RETURN(bool ok, m->Verify(AsBytes(r.input()), r.prehashed(), r.algorithm(),
                                                 AsBytes(r.signature())));
    keyvault::VerifyResponse resp;
    resp.set_valid(ok);
    return resp;
  });
}

Result<keyvault::BatchSignResponse> KeyVaultCore::BatchSign(const Caller& c,
                                                            const keyvault::BatchSignRequest& r) {
  return Audited<keyvault::BatchSignResponse>(c, "BatchSign", [&](Trace& t)
                                                  -> Result<keyvault::BatchSignResponse> {
    if (static_cast<size_t>(r.inputs_size()) > kMaxBatchItems)
      return InvalidArgument("at most 100000 items per batch", reason::kBatchTooLarge);
    size_t total = 0;
    for (const auto& in : r.inputs()) total += in.size();
    if (total > kMaxBatchBytes)
      return InvalidArgument("batch holds more than 32 MiB", reason::kBatchTooLarge);
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_SIGN, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    keyvault::BatchSignResponse resp;
    resp.mutable_results()->Reserve(r.inputs_size());
    for (const auto& in : r.inputs()) {
      auto* out = resp.add_results();
      auto sig = m->Sign(AsBytes(in), r.prehashed(), r.algorithm());
      if (sig.ok()) {
        out->set_signature(sig->data(), sig->size());
      } else {
        SetItemError(out->mutable_error(), sig.error());
      }
    }
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::HmacResponse> KeyVaultCore::Hmac(const Caller& c, const keyvault::HmacRequest& r) {
  return Audited<keyvault::HmacResponse>(c, "Hmac", [&](Trace& t) -> Result<keyvault::HmacResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.input().size(), kMaxPayload, "input"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_HMAC, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(Bytes mac, m->Hmac(AsBytes(r.input())));
    keyvault::HmacResponse resp;
    resp.set_mac(mac.data(), mac.size());
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::VerifyHmacResponse> KeyVaultCore::VerifyHmac(
    const Caller& c, const keyvault::VerifyHmacRequest& r) {
  return Audited<keyvault::VerifyHmacResponse>(c, "VerifyHmac", [&](Trace& t)
                                                   -> Result<keyvault::VerifyHmacResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.input().size(), kMaxPayload, "input"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_VERIFY_HMAC, t));
    uint32_t v = r.key_version() == 0 ? k.latest_version : r.key_version();
    t.version = v;
    CLOISTER_RETURN_IF_ERROR(CheckVersion(k, v));
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, v));
    CLOISTER_ASSIGN_OR_RETURN(bool ok, m->VerifyHmac(AsBytes(r.input()), AsBytes(r.mac())));
    keyvault::VerifyHmacResponse resp;
    resp.set_valid(ok);
    return resp;
  });
}

// ---- import / export ----

Result<keyvault::GetWrappingKeyResponse> KeyVaultCore::GetWrappingKey(
    const Caller& c, const keyvault::GetWrappingKeyRequest&) {
  return Audited<keyvault::GetWrappingKeyResponse>(
      c, "GetWrappingKey", [&](Trace&) -> Result<keyvault::GetWrappingKeyResponse> {
        CLOISTER_ASSIGN_OR_RETURN(auto wk, store_->WrappingKey());
        keyvault::GetWrappingKeyResponse resp;
        Bytes spki = wk.public_key().SpkiDer();
        resp.set_public_key_spki(spki.data(), spki.size());
        resp.set_public_key_pem(wk.public_key().Pem());
        return resp;
      });
}

Result<keyvault::ImportKeyResponse> KeyVaultCore::ImportKey(const Caller& c,
                                                            const keyvault::ImportKeyRequest& r) {
  return Audited<keyvault::ImportKeyResponse>(c, "ImportKey", [&](Trace& t)
                                                  -> Result<keyvault::ImportKeyResponse> {
    t.key = r.name();
    CLOISTER_ASSIGN_OR_RETURN(std::string name, OwnNewName(r.name()));
    t.key = keyvault_ops::FullKeyName(c.username(), name);
    CLOISTER_RETURN_IF_ERROR(CheckType(r.type()));
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.wrapped_key().size(), 64u << 10, "wrapped key"));
    CLOISTER_ASSIGN_OR_RETURN(auto wk, store_->WrappingKey());
    CLOISTER_ASSIGN_OR_RETURN(SecretBytes raw,
                              keyvault_ops::UnwrapImport(wk, AsBytes(r.wrapped_key()), r.name()));
    CLOISTER_ASSIGN_OR_RETURN(auto material, keyvault_ops::KeyMaterial::FromBytes(r.type(), raw.view()));
    const int64_t now = clock_();
    CLOISTER_ASSIGN_OR_RETURN(auto existing, store_->Get(c.user_id(), name, now));
    KeyRecord rec;
    if (existing) {
      // Bring-your-own-key rotation: a new version of the caller's own key.
      CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, name, keyvault::OPERATION_UNSPECIFIED, t));
      if (k.type != r.type())
        return InvalidArgument("key exists with another type", reason::kImportTypeMismatch);
      if (k.state == keyvault::KEY_STATE_PENDING_DELETION)
        return FailedPrecondition("key is scheduled for deletion", reason::kPendingDeletion);
      CLOISTER_ASSIGN_OR_RETURN(rec, store_->AddVersion(k, material, 0, now));
    } else {
      CLOISTER_ASSIGN_OR_RETURN(OpMask allowed, OpsFrom(r.allowed_operations(), r.type()));
      if (allowed == 0) allowed = keyvault_ops::SupportedOps(r.type());
      CLOISTER_ASSIGN_OR_RETURN(rec, store_->Create({.name = name, .type = r.type(),
                                                     .owner = c.user_id(),
                                                     .owner_username = c.username(),
                                                     .exportable = r.exportable(),
                                                     .allowed = allowed},
                                                    material, now));
    }
    t.version = rec.latest_version;
    keyvault::ImportKeyResponse resp;
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(), Metadata(rec, true, true));
    return resp;
  });
}

Result<keyvault::ExportKeyResponse> KeyVaultCore::ExportKey(const Caller& c,
                                                            const keyvault::ExportKeyRequest& r) {
  return Audited<keyvault::ExportKeyResponse>(c, "ExportKey", [&](Trace& t)
                                                  -> Result<keyvault::ExportKeyResponse> {
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_EXPORT, t));
    uint32_t v = r.key_version() == 0 ? k.latest_version : r.key_version();
    t.version = v;
    CLOISTER_RETURN_IF_ERROR(CheckVersion(k, v));
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, v));
    SecretBytes form = m->ExportForm();
    keyvault::ExportKeyResponse resp;
    resp.set_key_material(form.data(), form.size());
    resp.set_key_version(v);
    resp.set_type(k.type);
    return resp;
  });
}

// ---- gRPC ----

namespace {

template <typename Req, typename Resp, typename Fn>
grpc::Status Serve(services::GrantVerifier* verifier, grpc::ServerContext* ctx, const Req* req,
                   Resp* resp, std::string_view method, Fn fn) {
  return services::ServeUnary(*verifier, ctx, req, resp,
                              std::string(kBackend) + std::string(method), std::move(fn));
}

}  // namespace

#define CLOISTER_KV_SERVE(M)                                                                   \
  grpc::Status KeyVaultService::M(grpc::ServerContext* ctx, const keyvault::M##Request* req,  \
                                  keyvault::M##Response* resp) {                              \
    return Serve(verifier_, ctx, req, resp, #M,                                               \
                 [this](const Caller& c, const keyvault::M##Request& r) {                     \
                   return core_->M(c, r);                                                     \
                 });                                                                          \
  }
CLOISTER_KV_SERVE(CreateKey)
CLOISTER_KV_SERVE(ListKeys)
CLOISTER_KV_SERVE(DescribeKey)
CLOISTER_KV_SERVE(RotateKey)
CLOISTER_KV_SERVE(SetMinDecryptionVersion)
CLOISTER_KV_SERVE(SetKeyEnabled)
CLOISTER_KV_SERVE(ScheduleKeyDeletion)
CLOISTER_KV_SERVE(CancelKeyDeletion)
CLOISTER_KV_SERVE(CreateGrant)
CLOISTER_KV_SERVE(RevokeGrant)
CLOISTER_KV_SERVE(Encrypt)
CLOISTER_KV_SERVE(Decrypt)
CLOISTER_KV_SERVE(GenerateDataKey)
CLOISTER_KV_SERVE(Rewrap)
CLOISTER_KV_SERVE(BatchEncrypt)
CLOISTER_KV_SERVE(BatchDecrypt)
CLOISTER_KV_SERVE(Sign)
CLOISTER_KV_SERVE(Verify)
CLOISTER_KV_SERVE(BatchSign)
CLOISTER_KV_SERVE(Hmac)
CLOISTER_KV_SERVE(VerifyHmac)
CLOISTER_KV_SERVE(GetWrappingKey)
CLOISTER_KV_SERVE(ImportKey)
CLOISTER_KV_SERVE(ExportKey)
CLOISTER_KV_SERVE(RegisterFileKey)
CLOISTER_KV_SERVE(GetFileKey)
CLOISTER_KV_SERVE(DeleteFileKey)
// Internal: the verifier admits only the attested storage enclave (the
// method table's callers rule); the core checks the caller again.
CLOISTER_KV_SERVE(DestroyFileKey)
#undef CLOISTER_KV_SERVE

// Internal: the verifier admits only the attested exec enclave; the core
// checks the caller again and verifies the task grant.
grpc::Status KeyVaultService::GetFileKeyForTask(grpc::ServerContext* ctx,
                                                const keyvault::GetFileKeyForTaskRequest* req,
                                                keyvault::GetFileKeyResponse* resp) {
  return Serve(verifier_, ctx, req, resp, "GetFileKeyForTask",
               [this](const Caller& c, const keyvault::GetFileKeyForTaskRequest& r) {
                 return core_->GetFileKeyForTask(c, r, *task_grants_);
               });
}

grpc::Status KeyVaultService::RegisterFileKeyForTask(
    grpc::ServerContext* ctx, const keyvault::RegisterFileKeyForTaskRequest* req,
    keyvault::RegisterFileKeyResponse* resp) {
  return Serve(verifier_, ctx, req, resp, "RegisterFileKeyForTask",
               [this](const Caller& c, const keyvault::RegisterFileKeyForTaskRequest& r) {
                 return core_->RegisterFileKeyForTask(c, r, *task_grants_);
               });
}

grpc::Status KeyVaultService::Health(grpc::ServerContext* ctx,
                                     const keyvault::KeyVaultHealthRequest* req,
                                     keyvault::KeyVaultHealthResponse* resp) {
  auto authz = verifier_->Admit(*ctx, *req, std::string(kBackend) + "Health");
  if (!authz.ok()) return ToGrpcStatus(authz.error());
  resp->set_status("SERVING");
  resp->set_security_level(security_level_);
  return grpc::Status::OK;
}

}  // namespace cloister::keyvault_service
