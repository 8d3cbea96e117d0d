// cloister-auth throughput (docs/perf/auth.md): full logins per second with
// the production password policy (scrypt N=2^15 r=8 p=1) against the anchor
// of the bare KDF, and token verifications per second (parse + Ed25519
// verify + checks) against the anchor of a bare Ed25519 verify.
//
//   auth_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "attestation/sealer.h"
#include "common/crypto/aead.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/logging.h"
#include "services/auth/auth_core.h"

namespace cloister::auth {
namespace {

using LocalSealer = attestation::AeadSealer;

constexpr char kPassword[] = "benchmark password 123";
std::string g_dir;
std::unique_ptr<AuthCore> g_core;

void Setup() {
  std::string tmpl = std::filesystem::temp_directory_path() / "cloister-auth-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  g_dir = tmpl;
  auto store = AuthStore::Open("sqlite://" + g_dir + "/auth.db");
  if (!store.ok()) std::abort();
  AuthOptions o;  // production defaults
  auto core = AuthCore::Create(*std::move(store), std::make_shared<LocalSealer>(), o);
  if (!core.ok()) std::abort();
  g_core = *std::move(core);
  if (!*g_core->BootstrapAdmin(kPassword)) std::abort();
  Caller admin = services::MakeCallerForTesting({.user_id = "", .admin = true, .username = "admin"});
  for (int i = 0; i < 4; ++i) {
    api::CreateUserRequest r;
    r.set_username("bench" + std::to_string(i));
    r.set_password(kPassword);
    if (!g_core->CreateUser(admin, r).ok()) std::abort();
  }
  std::cout << "password policy: " << g_core->hasher().policy().Describe() << "\n";
}

void BM_ScryptKdf(benchmark::State& state) {
  Bytes salt = crypto::RandomBytes(16);
  for (auto _ : state) {
    auto k = crypto::Scrypt(kPassword, salt, 1u << 15, 8, 1, 32);
    benchmark::DoNotOptimize(k);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScryptKdf)->Threads(1)->Threads(2)->UseRealTime();

void BM_Pbkdf2Sha512_210k(benchmark::State& state) {
  Bytes salt = crypto::RandomBytes(16);
  for (auto _ : state) {
    auto k = crypto::Pbkdf2Sha512(kPassword, salt, 210'000, 32);
    benchmark::DoNotOptimize(k);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Pbkdf2Sha512_210k)->UseRealTime();

// A full successful login: throttle lookup, scrypt verify, session + access
// token + refresh token written in one SQLite transaction (fsync'd).
void BM_Login(benchmark::State& state) {
  std::string user = "bench" + std::to_string(state.thread_index());
  for (auto _ : state) {
    auto r = g_core->Login(user, kPassword);
    if (!r.ok()) {
      state.SkipWithError(r.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Login)->Threads(1)->Threads(2)->UseRealTime();

void BM_TokenVerify(benchmark::State& state) {
  static std::string token = g_core->Login("bench3", kPassword)->token();
  TokenVerifier verifier = g_core->MakeVerifier();
  int64_t now = g_core->NowMs() / 1000;
  for (auto _ : state) {
    auto b = verifier.Verify(token, now);
    if (!b.ok()) {
      state.SkipWithError(b.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenVerify)->Threads(1)->Threads(2)->UseRealTime();

void BM_Ed25519VerifyBare(benchmark::State& state) {
  auto key = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  Bytes msg = crypto::RandomBytes(160);  // about a token's signed part
  Bytes sig = *key.Sign(msg);
  auto pub = key.public_key();
  for (auto _ : state) {
    auto st = pub.Verify(msg, sig);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519VerifyBare)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace cloister::auth

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // one info line per login would dominate
  cloister::auth::Setup();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  cloister::auth::g_core.reset();
  std::filesystem::remove_all(cloister::auth::g_dir);
  return 0;
}
