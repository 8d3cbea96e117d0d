// cloister-platform throughput (docs/perf/platform.md): quotes signed per
// second over the Unix socket with 1 and 2 client threads (one session per
// thread, as enclaves have), against the anchor of a bare ECDSA P-256 sign of
// the same body in-process; and quote signature verifications per second.
// Starts a real daemon on a temporary platform state.
//
//   platform_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <iostream>
#include <memory>

#include "attestation/platform/platform_client.h"
#include "attestation/platform/testing/platform_fixture.h"
#include "common/crypto/x509.h"
#include "common/fs.h"

namespace cloister::attestation {
namespace {

std::unique_ptr<testing::PlatformHarness> g_harness;
Quote g_sample_quote;

void BM_QuoteOverSocket(benchmark::State& state) {
  auto client = PlatformClient::Connect(g_harness->socket_path());
  if (!client.ok()) {
    state.SkipWithError(client.error().ToString().c_str());
    return;
  }
  const Bytes report_data(64, 0x42);
  for (auto _ : state) {
    auto q = client->GetQuote(report_data, {});
    if (!q.ok()) {
      state.SkipWithError(q.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(q);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QuoteOverSocket)->Threads(1)->Threads(2)->UseRealTime();

// Anchor: the signature alone, no socket, no protobuf, no daemon.
void BM_EcdsaSignAnchor(benchmark::State& state) {
  auto key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  const std::string& body = g_sample_quote.body();
  for (auto _ : state) {
    auto sig = key.Sign(AsBytes(body));
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EcdsaSignAnchor)->Threads(1)->Threads(2)->UseRealTime();

// What a verifier does per quote: ECDSA verify of the body with the
// attestation certificate's key (certificate already parsed).
void BM_QuoteSignatureVerify(benchmark::State& state) {
  auto cert = crypto::Certificate::FromDer(AsBytes(g_sample_quote.cert_chain_der(0)));
  if (!cert.ok()) {
    state.SkipWithError("bad cert");
    return;
  }
  const ByteView body = AsBytes(g_sample_quote.body());
  const ByteView sig = AsBytes(g_sample_quote.signature());
  for (auto _ : state) {
    Status s = cert->public_key().Verify(body, sig);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QuoteSignatureVerify);

// The same plus parsing the certificate and checking its chain to the root.
void BM_QuoteVerifyWithChain(benchmark::State& state) {
  const ByteView der = AsBytes(g_sample_quote.cert_chain_der(0));
  const ByteView body = AsBytes(g_sample_quote.body());
  const ByteView sig = AsBytes(g_sample_quote.signature());
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  for (auto _ : state) {
    auto cert = crypto::Certificate::FromDer(der);
    Status chain = crypto::VerifyChain(*cert, {}, g_harness->root(), now);
    Status s = cert->public_key().Verify(body, sig);
    if (!chain.ok() || !s.ok()) {
      state.SkipWithError("verification failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QuoteVerifyWithChain);

}  // namespace
}  // namespace cloister::attestation

int main(int argc, char** argv) {
  using namespace cloister::attestation;
  benchmark::Initialize(&argc, argv);
  // The bench quotes itself, so the manifest lists it: a quote covers every
  // library the process maps, and each must be a reference value there.
  auto self = cloister::SelfExePath();
  if (!self.ok()) {
    std::cerr << "platform_bench: " << self.error().ToString() << "\n";
    return 1;
  }
  auto h = testing::PlatformHarness::Create({{"platform-bench", *self, 9, 1}});
  if (!h.ok()) {
    std::cerr << "platform_bench: " << h.error().ToString() << "\n";
    return 1;
  }
  g_harness = *std::move(h);
  // Quiet daemon: per-request info logs would dominate the measurement.
  cloister::Status s = g_harness->Start({.as_nobody = false, .extra_args = {"--log-level", "warn"}});
  if (!s.ok()) {
    std::cerr << "platform_bench: " << s.ToString() << "\n";
    return 1;
  }
  auto client = PlatformClient::Connect(g_harness->socket_path());
  auto q = client.ok() ? client->GetQuote(cloister::Bytes(64, 1), {}) : cloister::Result<Quote>(client.error());
  if (!q.ok()) {
    std::cerr << "platform_bench: " << q.error().ToString() << "\n";
    return 1;
  }
  g_sample_quote = *q;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_harness.reset();
  return 0;
}
