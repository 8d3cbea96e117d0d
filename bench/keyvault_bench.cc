// cloister-keyvault throughput (docs/perf/keyvault.md): RSA-2048 signatures/s
// and AES-256-GCM encryptions/s (single and batch) in-process (KeyVaultCore
// over a real SQLite KeyStore) and end to end (SDK → real gateway → real
// cloister-keyvault, all on this node's real platform daemon), against raw
// OpenSSL EVP in the same run, with 1 and 2 threads. End-to-end cases are
// skipped when KV_BENCH_NO_E2E is set or the cluster does not start.
//
//   keyvault_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#define CRYPTOKI_COMPAT  // standard PKCS#11 field names (pIv, hashAlg, …)
#include <p11-kit/pkcs11.h>

#include "common/crypto/random.h"
#include "common/fs.h"
#include "sdk/cloister_client.h"
#include "sdk/keyvault_client.h"
#include "services/common/audit_log.h"
#include "services/keyvault/keyvault_service.h"
#include "services/keyvault/testing/gateway_cluster.h"

namespace cloister {
namespace {

using keyvault_service::Caller;

constexpr size_t kSmall = 64;       // "small message" for AES
constexpr int kAesBatch = 1000;
constexpr int kSignBatch = 32;
const Caller kUser = services::MakeCallerForTesting({.user_id = "u-bench"});

// ---- raw OpenSSL anchors ----

struct RawRsa {
  EVP_PKEY* pkey = nullptr;
  RawRsa() {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr);
    EVP_PKEY_keygen_init(ctx);
    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048);
    EVP_PKEY_keygen(ctx, &pkey);
    EVP_PKEY_CTX_free(ctx);
  }
  ~RawRsa() { EVP_PKEY_free(pkey); }
};
std::unique_ptr<RawRsa> g_raw_rsa;

void BM_RawOpenSSL_RsaSign(benchmark::State& state) {
  const unsigned char msg[32] = {1, 2, 3};
  unsigned char sig[512];
  for (auto _ : state) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    EVP_DigestSignInit(md, &pctx, EVP_sha256(), nullptr, g_raw_rsa->pkey);
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    size_t len = sizeof sig;
    if (EVP_DigestSign(md, sig, &len, msg, sizeof msg) != 1) state.SkipWithError("sign failed");
    EVP_MD_CTX_free(md);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawOpenSSL_RsaSign)->Threads(1)->Threads(2)->UseRealTime();

void BM_RawOpenSSL_AesGcm64(benchmark::State& state) {
  unsigned char key[32], iv[12] = {0}, tag[16], out[kSmall + 16];
  const unsigned char in[kSmall] = {7};
  RAND_bytes(key, sizeof key);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, nullptr);
  uint64_t counter = 0;
  for (auto _ : state) {
    ++counter;
    std::memcpy(iv, &counter, sizeof counter);  // counter nonces: the cheapest legal choice
    int len = 0;
    EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv);
    EVP_EncryptUpdate(ctx, out, &len, in, sizeof in);
    EVP_EncryptFinal_ex(ctx, out + len, &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
    benchmark::DoNotOptimize(tag);
  }
  EVP_CIPHER_CTX_free(ctx);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawOpenSSL_AesGcm64)->Threads(1)->Threads(2)->UseRealTime();

// ---- SoftHSM2 through PKCS#11 (dlopen; bench only) ----
//
// A software HSM token in a private directory; one PKCS#11 session per
// benchmark thread (sessions are not shared across threads).

struct SoftHsm {
  void* lib = nullptr;
  CK_FUNCTION_LIST_PTR f = nullptr;
  CK_SLOT_ID slot = 0;
  CK_OBJECT_HANDLE rsa = 0, aes = 0;
  testing::TempDir dir;
};
std::unique_ptr<SoftHsm> g_hsm;

CK_SESSION_HANDLE HsmSession() {
  CK_SESSION_HANDLE s = 0;
  if (g_hsm->f->C_OpenSession(g_hsm->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr,
                              &s) != CKR_OK)
    return 0;
  return s;
}

bool SetUpSoftHsm() {
  g_hsm = std::make_unique<SoftHsm>();
  std::filesystem::create_directories(g_hsm->dir / "tokens");
  std::ofstream(g_hsm->dir / "softhsm2.conf")
      << "directories.tokendir = " << g_hsm->dir / "tokens" << "\nobjectstore.backend = file\n"
      << "log.level = ERROR\n";
  ::setenv("SOFTHSM2_CONF", (g_hsm->dir / "softhsm2.conf").c_str(), 1);
  for (const char* path : {"/usr/lib/softhsm/libsofthsm2.so",
                           "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"}) {
    g_hsm->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (g_hsm->lib) break;
  }
  if (!g_hsm->lib) return false;
  auto get = reinterpret_cast<CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR)>(dlsym(g_hsm->lib, "C_GetFunctionList"));
  if (!get || get(&g_hsm->f) != CKR_OK) return false;
  CK_C_INITIALIZE_ARGS init{};
  init.flags = CKF_OS_LOCKING_OK;
  auto* f = g_hsm->f;
  if (f->C_Initialize(&init) != CKR_OK) return false;
  CK_ULONG n = 1;
  CK_SLOT_ID slots[8];
  n = 8;
  if (f->C_GetSlotList(CK_FALSE, slots, &n) != CKR_OK || n == 0) return false;
  unsigned char label[32];
  std::memset(label, ' ', sizeof label);
  std::memcpy(label, "kvbench", 7);
  unsigned char so_pin[] = "12345678";
  if (f->C_InitToken(slots[0], so_pin, 8, label) != CKR_OK) return false;
  n = 8;  // SoftHSM renumbers the initialized token's slot
  if (f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0) return false;
  g_hsm->slot = slots[0];
  CK_SESSION_HANDLE s = HsmSession();
  unsigned char user_pin[] = "123456";
  if (f->C_Login(s, CKU_SO, so_pin, 8) != CKR_OK || f->C_InitPIN(s, user_pin, 6) != CKR_OK ||
      f->C_Logout(s) != CKR_OK || f->C_Login(s, CKU_USER, user_pin, 6) != CKR_OK)
    return false;
  CK_BBOOL yes = CK_TRUE;
  CK_ULONG bits = 2048;
  unsigned char exponent[] = {1, 0, 1};
  CK_ATTRIBUTE pub[] = {{CKA_VERIFY, &yes, sizeof yes}, {CKA_MODULUS_BITS, &bits, sizeof bits},
                        {CKA_PUBLIC_EXPONENT, exponent, sizeof exponent}};
  CK_ATTRIBUTE priv[] = {{CKA_SIGN, &yes, sizeof yes}, {CKA_PRIVATE, &yes, sizeof yes},
                         {CKA_SENSITIVE, &yes, sizeof yes}};
  CK_MECHANISM gen{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub_h = 0;
  if (f->C_GenerateKeyPair(s, &gen, pub, 3, priv, 3, &pub_h, &g_hsm->rsa) != CKR_OK) return false;
  CK_ULONG len = 32;
  CK_ATTRIBUTE aes[] = {{CKA_ENCRYPT, &yes, sizeof yes}, {CKA_VALUE_LEN, &len, sizeof len},
                        {CKA_SENSITIVE, &yes, sizeof yes}};
  CK_MECHANISM aes_gen{CKM_AES_KEY_GEN, nullptr, 0};
  return f->C_GenerateKey(s, &aes_gen, aes, 3, &g_hsm->aes) == CKR_OK;
  // The session stays open (and logged in) for the process lifetime.
}

void BM_SoftHsm_RsaSign(benchmark::State& state) {
  if (g_hsm == nullptr || g_hsm->rsa == 0) {
    state.SkipWithError("SoftHSM2 not available");
    return;
  }
  CK_SESSION_HANDLE s = HsmSession();
  CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM mech{CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
  unsigned char msg[32] = {1, 2, 3}, sig[512];
  for (auto _ : state) {
    CK_ULONG len = sizeof sig;
    if (g_hsm->f->C_SignInit(s, &mech, g_hsm->rsa) != CKR_OK ||
        g_hsm->f->C_Sign(s, msg, sizeof msg, sig, &len) != CKR_OK) {
      state.SkipWithError("C_Sign failed");
      break;
    }
  }
  g_hsm->f->C_CloseSession(s);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SoftHsm_RsaSign)->Threads(1)->Threads(2)->UseRealTime();

void BM_SoftHsm_AesGcm64(benchmark::State& state) {
  if (g_hsm == nullptr || g_hsm->aes == 0) {
    state.SkipWithError("SoftHSM2 not available");
    return;
  }
  CK_SESSION_HANDLE s = HsmSession();
  unsigned char iv[12] = {0}, in[kSmall] = {7}, out[kSmall + 16];
  CK_GCM_PARAMS gcm{};
  gcm.pIv = iv;
  gcm.ulIvLen = sizeof iv;
  gcm.ulIvBits = 96;
  gcm.ulTagBits = 128;
  CK_MECHANISM mech{CKM_AES_GCM, &gcm, sizeof gcm};
  uint64_t counter = 0;
  for (auto _ : state) {
    ++counter;
    std::memcpy(iv, &counter, sizeof counter);
    CK_ULONG len = sizeof out;
    if (g_hsm->f->C_EncryptInit(s, &mech, g_hsm->aes) != CKR_OK ||
        g_hsm->f->C_Encrypt(s, in, sizeof in, out, &len) != CKR_OK) {
      state.SkipWithError("C_Encrypt failed");
      break;
    }
  }
  g_hsm->f->C_CloseSession(s);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SoftHsm_AesGcm64)->Threads(1)->Threads(2)->UseRealTime();

// ---- in-process: KeyVaultCore over a real KeyStore ----

struct InProcess {
  testing::TempDir dir;
  std::unique_ptr<keyvault_store::KeyStore> store;
  std::unique_ptr<services::AuditLog> audit;
  std::unique_ptr<keyvault_service::KeyVaultCore> core;          // no audit
  std::unique_ptr<keyvault_service::KeyVaultCore> audited_core;  // fsync'd audit per call
};
std::unique_ptr<InProcess> g_in;

bool SetUpInProcess() {
  g_in = std::make_unique<InProcess>();
  auto s = keyvault_store::KeyStore::Open(
      "sqlite://" + g_in->dir / "kv.db",
      std::make_unique<keyvault_store::AeadSealer>(SecretBytes::Random(32)));
  if (!s.ok()) return false;
  g_in->store = *std::move(s);
  auto a = services::AuditLog::Open(g_in->dir / "audit.log", "keyvault", SecretBytes::Random(32));
  if (!a.ok()) return false;
  g_in->audit = *std::move(a);
  g_in->core = std::make_unique<keyvault_service::KeyVaultCore>(g_in->store.get(), nullptr);
  g_in->audited_core =
      std::make_unique<keyvault_service::KeyVaultCore>(g_in->store.get(), g_in->audit.get());
  for (auto [name, type] : {std::pair{"rsa", keyvault::KEY_TYPE_RSA_2048},
                            std::pair{"aes", keyvault::KEY_TYPE_AES256_GCM}}) {
    keyvault::CreateKeyRequest r;
    r.set_name(name);
    r.set_type(type);
    if (!g_in->core->CreateKey(kUser, r).ok()) return false;
  }
  return true;
}

template <typename Fn>
void Loop(benchmark::State& state, int per_call, Fn fn) {
  if (!fn()) {  // warm-up call, and a clear skip when the setup is missing
    state.SkipWithError("call failed (see stderr)");
    return;
  }
  for (auto _ : state) {
    if (!fn()) {
      state.SkipWithError("call failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * per_call);
}

keyvault::SignRequest SignReq() {
  keyvault::SignRequest r;
  r.set_name("rsa");
  r.set_input(std::string(32, 'm'));
  return r;
}
keyvault::BatchSignRequest BatchSignReq(int n = kSignBatch) {
  keyvault::BatchSignRequest r;
  r.set_name("rsa");
  for (int i = 0; i < n; ++i) r.add_inputs(std::string(32, 'm'));
  return r;
}
keyvault::EncryptRequest EncReq() {
  keyvault::EncryptRequest r;
  r.set_name("aes");
  r.set_plaintext(std::string(kSmall, 'p'));
  return r;
}
keyvault::BatchEncryptRequest BatchEncReq(int n = kAesBatch) {
  keyvault::BatchEncryptRequest r;
  r.set_name("aes");
  for (int i = 0; i < n; ++i) r.add_items()->set_plaintext(std::string(kSmall, 'p'));
  return r;
}

void BM_InProcess_RsaSign(benchmark::State& state) {
  auto req = SignReq();
  Loop(state, 1, [&] { return g_in->core->Sign(kUser, req).ok(); });
}
BENCHMARK(BM_InProcess_RsaSign)->Threads(1)->Threads(2)->UseRealTime();

void BM_InProcess_RsaBatchSign32(benchmark::State& state) {
  auto req = BatchSignReq();
  Loop(state, kSignBatch, [&] { return g_in->core->BatchSign(kUser, req).ok(); });
}
BENCHMARK(BM_InProcess_RsaBatchSign32)->Threads(1)->Threads(2)->UseRealTime();

void BM_InProcess_AesEncrypt64(benchmark::State& state) {
  auto req = EncReq();
  Loop(state, 1, [&] { return g_in->core->Encrypt(kUser, req).ok(); });
}
BENCHMARK(BM_InProcess_AesEncrypt64)->Threads(1)->Threads(2)->UseRealTime();

void BM_InProcess_AesBatchEncrypt64x1000(benchmark::State& state) {
  auto req = BatchEncReq();
  Loop(state, kAesBatch, [&] { return g_in->core->BatchEncrypt(kUser, req).ok(); });
}
BENCHMARK(BM_InProcess_AesBatchEncrypt64x1000)->Threads(1)->Threads(2)->UseRealTime();

// The same with the audit log on (one fsync'd entry per call, as served).
void BM_InProcessAudited_RsaSign(benchmark::State& state) {
  auto req = SignReq();
  Loop(state, 1, [&] { return g_in->audited_core->Sign(kUser, req).ok(); });
}
BENCHMARK(BM_InProcessAudited_RsaSign)->Threads(1)->Threads(2)->UseRealTime();

void BM_InProcessAudited_AesBatchEncrypt64x1000(benchmark::State& state) {
  auto req = BatchEncReq();
  Loop(state, kAesBatch, [&] { return g_in->audited_core->BatchEncrypt(kUser, req).ok(); });
}
BENCHMARK(BM_InProcessAudited_AesBatchEncrypt64x1000)->Threads(1)->Threads(2)->UseRealTime();

// The floor under every served call: one fsync'd audit append (the gateway
// writes one per request, cloister-keyvault two: grant admission + outcome).
void BM_Anchor_AuditAppend(benchmark::State& state) {
  services::AuditEntry e{.principal = "u-bench", .method = "keyvault.Sign", .decision = "allow"};
  Loop(state, 1, [&] { return g_in->audit->Append(e).ok(); });
}
BENCHMARK(BM_Anchor_AuditAppend)->Threads(1)->Threads(2)->UseRealTime();

// ---- end to end: SDK → gateway → cloister-keyvault ----

struct Cluster {
  std::unique_ptr<testing::GatewayCluster> cluster;
  sdk::KeyVaultClient* kv = nullptr;
};
std::unique_ptr<Cluster> g_e2e;

Status SetUpEndToEnd() {
  g_e2e = std::make_unique<Cluster>();
  g_e2e->cluster = std::make_unique<testing::GatewayCluster>(testing::GatewayClusterBinaries{
      .platform = KV_PLATFORM_BIN, .auth = KV_AUTH_BIN, .exec = KV_EXEC_BIN,
      .keyvault = KV_KEYVAULT_BIN, .gateway = KV_GATEWAY_BIN});
  // The per-principal rate limit is lifted: this measures throughput, not the limiter.
  CLOISTER_RETURN_IF_ERROR(g_e2e->cluster->Start(/*lift_rate_limit=*/true));
  g_e2e->kv = &g_e2e->cluster->keyvault();
  CLOISTER_RETURN_IF_ERROR(g_e2e->kv->CreateKey("rsa", keyvault::KEY_TYPE_RSA_2048).status());
  CLOISTER_RETURN_IF_ERROR(g_e2e->kv->CreateKey("aes", keyvault::KEY_TYPE_AES256_GCM).status());
  return OkStatus();
}

void BM_EndToEnd_RsaSign(benchmark::State& state) {
  if (g_e2e == nullptr) {
    state.SkipWithError("no cluster (KV_BENCH_NO_E2E or setup failed)");
    return;
  }
  const std::string m(32, 'm');
  Loop(state, 1, [&] { return g_e2e->kv->Sign("rsa", AsBytes(m)).ok(); });
}
BENCHMARK(BM_EndToEnd_RsaSign)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

void BM_EndToEnd_RsaBatchSign32(benchmark::State& state) {
  if (g_e2e == nullptr) {
    state.SkipWithError("no cluster (KV_BENCH_NO_E2E or setup failed)");
    return;
  }
  auto req = BatchSignReq();
  Loop(state, kSignBatch, [&] { return g_e2e->kv->BatchSign(req).ok(); });
}
BENCHMARK(BM_EndToEnd_RsaBatchSign32)->Threads(1)->Threads(2)->UseRealTime();

void BM_EndToEnd_AesEncrypt64(benchmark::State& state) {
  if (g_e2e == nullptr) {
    state.SkipWithError("no cluster (KV_BENCH_NO_E2E or setup failed)");
    return;
  }
  const std::string p(kSmall, 'p');
  Loop(state, 1, [&] { return g_e2e->kv->Encrypt("aes", AsBytes(p)).ok(); });
}
BENCHMARK(BM_EndToEnd_AesEncrypt64)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

void BM_EndToEnd_AesBatchEncrypt64x1000(benchmark::State& state) {
  if (g_e2e == nullptr) {
    state.SkipWithError("no cluster (KV_BENCH_NO_E2E or setup failed)");
    return;
  }
  auto req = BatchEncReq();
  Loop(state, kAesBatch, [&] { return g_e2e->kv->BatchEncrypt(req).ok(); });
}
BENCHMARK(BM_EndToEnd_AesBatchEncrypt64x1000)->Threads(1)->Threads(2)->UseRealTime();

// Larger batches amortize the per-request fsyncs further.
void BM_EndToEnd_RsaBatchSign128(benchmark::State& state) {
  if (g_e2e == nullptr) {
    state.SkipWithError("no cluster (KV_BENCH_NO_E2E or setup failed)");
    return;
  }
  auto req = BatchSignReq(128);
  Loop(state, 128, [&] { return g_e2e->kv->BatchSign(req).ok(); });
}
BENCHMARK(BM_EndToEnd_RsaBatchSign128)->Threads(1)->Threads(2)->UseRealTime();

void BM_EndToEnd_AesBatchEncrypt64x10000(benchmark::State& state) {
  if (g_e2e == nullptr) {
    state.SkipWithError("no cluster (KV_BENCH_NO_E2E or setup failed)");
    return;
  }
  auto req = BatchEncReq(10000);
  Loop(state, 10000, [&] { return g_e2e->kv->BatchEncrypt(req).ok(); });
}
BENCHMARK(BM_EndToEnd_AesBatchEncrypt64x10000)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace cloister

int main(int argc, char** argv) {
  using namespace cloister;
  benchmark::Initialize(&argc, argv);
  g_raw_rsa = std::make_unique<RawRsa>();
  if (!SetUpSoftHsm()) std::cerr << "SoftHSM2 setup failed; its cases are skipped" << std::endl;
  if (!SetUpInProcess()) {
    std::cerr << "in-process setup failed" << std::endl;
    return 2;
  }
  if (std::getenv("KV_BENCH_NO_E2E") == nullptr) {
    Status st = SetUpEndToEnd();
    if (!st.ok()) {
      std::cerr << "end-to-end setup failed; those cases are skipped: " << st.ToString() << std::endl;
      g_e2e.reset();
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Tear down in reverse order of setup (the cluster stops its daemons).
  g_e2e.reset();
  g_in.reset();
  g_hsm.reset();
  g_raw_rsa.reset();
  return 0;
}
