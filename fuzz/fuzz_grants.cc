// Fuzzes the two grants a backend checks before it acts, exactly as they
// reach it: the access grant in "cloister-grant-bin" metadata (the real
// GrantVerifier of services/common/grant_verifier.h, fed through a gRPC
// ServerContext) and the task grant an execution enclave presents (the real
// TaskGrantVerifier of services/common/task_grant.h). Both need enclaves
// that hold a cluster secret, so this process starts real level-1 enclaves
// (Enclave::Start) against a stand-in platform socket that answers the
// identity handshake with this process's fake platform (no daemon).
// Input: selector byte s, method byte, payload:
//   s&3 == 0: the payload is the metadata value (a SignedGrant);
//   s&3 == 1: the payload is AccessGrant bytes that this harness MACs under
//             the cluster secret as a gateway would, so mutation reaches the
//             checks behind the MAC (audience, method, body digest, lifetime,
//             replay, the auth proof, roles, scope); with s&4 the digest and
//             times are first fixed up to this request and now, with s&8 the
//             request id made unique;
//   s&3 == 2: the payload is a SignedTaskGrant as presented;
//   s&3 == 3: the payload is TaskGrant bytes, signed with SignTaskGrant by
//             cloister-tasks (s&64: by another cluster's tasks): the verifier
//             must accept exactly what the rules allow and return the grant.
// s&16 sends no grant and s&32 sends it twice. An admitted call must name
// the proven caller: the auth proof's user, the calling service, or
// anonymous on a method open to anonymous callers; otherwise this traps.
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/test/server_context_test_spouse.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>

#include "attestation/enclave.h"
#include "attestation/testing/fake_platform.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "fuzz/fuzz_seed.h"
#include "fuzz/stand_in_platform.h"
#include "services/common/grant_mac.h"
#include "services/common/grant_verifier.h"
#include "services/common/task_grant.h"

using namespace cloister;
using namespace cloister::services;

namespace {

std::unique_ptr<attestation::Enclave> StartEnclave(const std::string& role,
                                                   const std::string& trust,
                                                   const std::string& secret) {
  auto e = attestation::Enclave::Start({.role = role,
                                        .trust_path = trust,
                                        .cluster_secret_path = secret,
                                        .skip_self_check_for_testing = true});
  if (!e.ok() || (*e)->cluster_secret() == nullptr) {
    fprintf(stderr, "fuzz_grants: enclave %s: %s\n", role.c_str(),
            e.ok() ? "no cluster secret" : e.error().ToString().c_str());
    std::abort();
  }
  return *std::move(e);
}

struct Cluster {
  fuzz::ScratchDir dir;
  attestation::testing::FakePlatform platform{{"storage", "tasks", "exec"}};
  std::unique_ptr<attestation::Enclave> storage, tasks, rogue_tasks;
  crypto::PrivateKey token_key = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  IdentityVerifier identity;
  std::unique_ptr<GrantVerifier> grants;
  std::unique_ptr<TaskGrantVerifier> task_grants;
  std::vector<const rpc::MethodEntry*> methods;  // what storage serves
  std::atomic<uint64_t> counter{0};

  Cluster() {
    const std::string d = dir.path();
    auto m = attestation::SignManifest(platform.manifest_body(),
                                       std::span(platform.auditor_keys()).first(2));
    std::string keys;
    for (size_t i = 0; i < platform.auditor_keys().size(); ++i) {
      const std::string name = "auditor-" + std::to_string(i) + ".pub";
      if (!WriteFileAtomic(d + "/" + name, platform.auditor_keys()[i].public_key().Pem(), 0644).ok())
        std::abort();
      keys += (keys.empty() ? "\"" : ", \"") + name + "\"";
    }
    if (!m.ok() || !WriteFileAtomic(d + "/manifest.bin", AsChars(*m), 0644).ok() ||
        !WriteFileAtomic(d + "/root.pem", platform.root().Pem(), 0644).ok() ||
        !WriteFileAtomic(d + "/trust.toml",
                         "[attestation]\nroot_ca = \"root.pem\"\nmanifest = \"manifest.bin\"\n"
                         "auditor_keys = [" + keys + "]\nauditor_threshold = 2\n"
                         "security_level = 1\nplatform_socket = \"" + d + "/platform.sock\"\n",
                         0644)
             .ok() ||
        !WriteFileAtomic(d + "/cluster.secret", crypto::RandomBytes(32), 0600).ok() ||
        !WriteFileAtomic(d + "/other.secret", crypto::RandomBytes(32), 0600).ok())
      std::abort();
    const crypto::Digest signer = platform.auditors().SignerId();
    fuzz::StartStandInPlatform(d + "/platform.sock", platform.root().Der(), signer);
    storage = StartEnclave("storage", d + "/trust.toml", d + "/cluster.secret");
    tasks = StartEnclave("tasks", d + "/trust.toml", d + "/cluster.secret");
    rogue_tasks = StartEnclave("tasks", d + "/trust.toml", d + "/other.secret");
    identity.SetKeys({token_key.public_key()});
    identity.RevokeToken("t-revoked");
    grants = std::make_unique<GrantVerifier>(storage.get(), nullptr, &identity);
    task_grants = std::make_unique<TaskGrantVerifier>(storage.get());
    methods = rpc::MethodTable::Get().ServedBy("storage");
    if (methods.empty()) std::abort();
  }

  const SecretBytes& secret() const { return *storage->cluster_secret(); }
  size_t MethodIndex(std::string_view name) const {
    for (size_t i = 0; i < methods.size(); ++i)
      if (methods[i]->name == name) return i;
    std::abort();
  }
};
Cluster& C() {
  static Cluster c;
  return c;
}

bool Has(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The request every fuzzed call carries: any message will do, the grant
// binds its deterministic encoding.
const internal::AccessGrant& Request() {
  static const internal::AccessGrant r;
  return r;
}

std::string MacGrant(const std::string& grant_bytes) {
  internal::SignedGrant sg;
  sg.set_grant(grant_bytes);
  sg.set_signature(ToString(Level1GrantMac(C().secret(), AsBytes(grant_bytes))));
  return sg.SerializeAsString();
}

void FixUp(uint8_t s, internal::AccessGrant& g) {
  if (s & 4) {
    const crypto::Digest body = crypto::Sha256(AsBytes(DeterministicSerialize(Request())));
    g.set_body_sha256(body.data(), body.size());
    const int64_t now = attestation::NowUnixMs();
    g.set_issued_unix_ms(now - static_cast<int64_t>(static_cast<uint64_t>(g.issued_unix_ms()) % 5000));
    g.set_expires_unix_ms(g.issued_unix_ms() +
                          static_cast<int64_t>(static_cast<uint64_t>(g.expires_unix_ms()) % 40'000));
  }
  if (s & 8) g.set_request_id(g.request_id() + "#" + std::to_string(C().counter++));
}

void Access(uint8_t s, const rpc::MethodEntry& m, std::string_view payload) {
  std::string value(payload);
  if ((s & 3) == 1) {
    std::string grant_bytes(payload);
    if (s & 12) {
      internal::AccessGrant g;
      if (g.ParseFromString(grant_bytes)) {
        FixUp(s, g);
        grant_bytes = g.SerializeAsString();
      }
    }
    value = MacGrant(grant_bytes);
  }
  grpc::ServerContext ctx;
  grpc::testing::ServerContextTestSpouse spouse(&ctx);
  if (!(s & 16)) spouse.AddClientMetadata(kGrantMetadataKey, value);
  if (s & 32) spouse.AddClientMetadata(kGrantMetadataKey, value);
  auto a = C().grants->Admit(ctx, Request(), m.full_method);
  if (!a.ok()) return;
  const internal::AccessGrant& g = a->grant();
  const Caller& c = a->caller();
  if (g.audience() != "storage" || g.method() != m.full_method) __builtin_trap();
  if (m.internal) {
    if (!c.is_service() || c.user_id() != g.principal() || !g.principal().starts_with("service:"))
      __builtin_trap();
  } else if (c.anonymous()) {
    if (!Has(m.default_roles(), "anonymous")) __builtin_trap();
  } else {
    if (c.is_service() || c.user_id() != g.principal()) __builtin_trap();
    auto who = C().identity.Verify(g.auth_proof(), attestation::NowUnixMs() / 1000);
    if (!who.ok() || who->user_id() != c.user_id()) __builtin_trap();
    if (!CheckMethodRoles(m, c).ok() || !CheckApiKeyScope(m, c).ok()) __builtin_trap();
  }
}

void CheckNames(const internal::TaskGrant& g) {
  for (const auto& in : g.inputs())
    if (GrantedInput(g, in.file_id(), in.owner_user_id()) == nullptr) __builtin_trap();
  for (const auto& out : g.outputs())
    for (const auto& o : out.owner_user_ids())
      if (!GrantsOutput(g, out.slot(), o)) __builtin_trap();
}

void TaskRaw(uint8_t s, std::string_view payload) {
  const std::string role = (s & 64) ? "storage" : "exec";
  auto g = C().task_grants->Verify(payload, role);
  if (!g.ok()) return;
  if (g->worker_role() != role || g->task_id().empty() ||
      g->expires_unix_ms() <= attestation::NowUnixMs() - 1000)
    __builtin_trap();
  CheckNames(*g);
}

void TaskSigned(uint8_t s, std::string_view payload) {
  internal::TaskGrant g;
  if (!g.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
  const bool rogue = (s & 64) != 0;
  auto bytes = SignTaskGrant(rogue ? *C().rogue_tasks : *C().tasks, g);
  if (!bytes.ok()) __builtin_trap();
  internal::SignedTaskGrant sg;
  internal::TaskGrant signed_grant;
  if (!sg.ParseFromString(*bytes) || !signed_grant.ParseFromString(sg.grant())) __builtin_trap();
  auto got = C().task_grants->Verify(*bytes, "exec");
  // A lease ending within the second may end between signing and checking.
  if (signed_grant.expires_unix_ms() - attestation::NowUnixMs() < 1000) return;
  const bool expect = !rogue && !g.task_id().empty() && g.worker_role() == "exec";
  if (got.ok() != expect) __builtin_trap();
  if (!got.ok()) return;
  if (got->SerializeAsString() != sg.grant()) __builtin_trap();
  CheckNames(*got);
}

std::string Token(const std::string& token_id, const std::string& user_id, bool admin) {
  internal::TokenBody b;
  b.set_version(auth::kTokenVersion);
  b.set_token_id(token_id);
  b.set_user_id(user_id);
  b.set_username(user_id);
  b.add_roles(api::ROLE_USER);
  if (admin) b.add_roles(api::ROLE_ADMIN);
  b.set_audience(auth::kTokenAudience);
  const int64_t now = attestation::NowUnixMs() / 1000;
  b.set_issued_unix(now - 60);
  b.set_expires_unix(now + 10 * 365 * 86400);
  return *auth::TokenSigner::Create(C().token_key)->Sign(b);
}

internal::AccessGrant Grant(const rpc::MethodEntry& m, const std::string& principal,
                            const std::string& proof) {
  internal::AccessGrant g;
  g.set_request_id("r-" + std::to_string(C().counter++));
  g.set_principal(principal);
  g.set_method(m.full_method);
  g.set_audience("storage");
  g.set_auth_proof(proof);
  g.set_client_source("192.0.2.7");
  const crypto::Digest body = crypto::Sha256(AsBytes(DeterministicSerialize(Request())));
  g.set_body_sha256(body.data(), body.size());
  const int64_t now = attestation::NowUnixMs();
  g.set_issued_unix_ms(now);
  g.set_expires_unix_ms(now + 30'000);
  return g;
}

std::string Seed(uint8_t s, size_t method, std::string_view payload) {
  return std::string(1, static_cast<char>(s)) + std::string(1, static_cast<char>(method)) +
         std::string(payload);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::QuietLogs();
  google::protobuf::SetLogHandler(nullptr);
  Cluster& c = C();
  const size_t list = c.MethodIndex("ListFiles"), read = c.MethodIndex("ReadFileForTask");
  const rpc::MethodEntry& lm = *c.methods[list];
  const rpc::MethodEntry& rm = *c.methods[read];
  const std::string alice = Token("t-1", "u-alice", false);
  const std::string user = Grant(lm, "u-alice", alice).SerializeAsString();
  const std::string service = Grant(rm, "service:exec", "").SerializeAsString();
  const std::string revoked =
      Grant(lm, "u-alice", Token("t-revoked", "u-alice", false)).SerializeAsString();
  fuzz::WriteSeed("access-signed", Seed(0, list, MacGrant(user)));
  fuzz::WriteSeed("access-user", Seed(1 | 4 | 8, list, user));
  fuzz::WriteSeed("access-service", Seed(1 | 4 | 8, read, service));
  fuzz::WriteSeed("access-revoked", Seed(1 | 4 | 8, list, revoked));
  fuzz::WriteSeed("access-admin",
                  Seed(1 | 4 | 8, list, Grant(lm, "u-root", Token("t-2", "u-root", true)).SerializeAsString()));
  internal::TaskGrant t;
  t.set_task_id("task-1");
  t.set_fencing_token(3);
  t.set_digest(std::string(64, 'a'));
  t.set_worker_role("exec");
  t.set_expires_unix_ms(attestation::NowUnixMs() + 60'000);
  auto* in = t.add_inputs();
  in->set_slot("bank");
  in->set_file_id("f-1");
  in->set_owner_user_id("u-alice");
  in->set_ciphertext_sha256(std::string(32, '\x01'));
  auto* out = t.add_outputs();
  out->set_slot("result");
  out->add_owner_user_ids("u-alice");
  out->add_owner_user_ids("u-bob");
  if (auto signed_bytes = SignTaskGrant(*c.tasks, t); signed_bytes.ok())
    fuzz::WriteSeed("task-signed", Seed(2, 0, *signed_bytes));
  fuzz::WriteSeed("task-grant", Seed(3, 0, t.SerializeAsString()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  if (size < 2) return 0;
  const uint8_t s = data[0];
  const rpc::MethodEntry& m = *C().methods[data[1] % C().methods.size()];
  const std::string_view payload(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (s & 3) {
    case 0:
    case 1: Access(s, m, payload); break;
    case 2: TaskRaw(s, payload); break;
    default: TaskSigned(s, payload); break;
  }
  return 0;
}
