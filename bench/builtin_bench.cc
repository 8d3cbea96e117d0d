// Benchmarks of the built-in functions, each against its anchor in the same
// run: linreg vs LAPACKE_dgels, psi vs an ECDH (P-256) PSI baseline, rsa_sign
// and aes_* vs raw OpenSSL EVP. Prints one line per measurement with the
// ratio. Results and the command line: docs/perf/builtin.md.
//
//   build-fn/bench/builtin_bench [linreg|psi|rsa|aes]...   (default: all)
#include <lapacke.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/keys.h"
#include "functions/builtin/csv.h"
#include "functions/builtin/least_squares.h"
#include "functions/builtin/registry.h"

namespace cloister::functions::builtin {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Best of `reps` wall-clock runs: the machine is shared, so the minimum is
// the least noisy estimate of what the code itself costs.
double BestOf(int reps, const std::function<void()>& fn) {
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    fn();
    best = std::min(best, Seconds(t0));
  }
  return best;
}

// Runs fn() on `threads` threads for ~`secs` seconds; returns ops/s in total.
double Throughput(int threads, double secs, const std::function<void()>& fn) {
  std::atomic<bool> stop{false};
  std::vector<uint64_t> counts(threads, 0);
  std::vector<std::jthread> pool;
  auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        fn();
        ++n;
      }
      counts[t] = n;
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  stop = true;
  pool.clear();
  const double elapsed = Seconds(t0);
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  return static_cast<double>(total) / elapsed;
}

void Die(const char* what) {
  std::fprintf(stderr, "benchmark setup failed: %s\n", what);
  std::exit(1);
}

// ---------------------------------------------------------------- linreg

void BenchLinreg() {
  constexpr size_t kRows = 1'000'000, kCols = 20;
  std::printf("== linreg: %zu x %zu, y = 1 + sum (j+1) x_j + N(0, 0.5) ==\n", kRows, kCols);
  std::mt19937_64 rng(42);
  std::normal_distribution<double> n01;
  std::vector<double> xy(kRows * (kCols + 1));
  for (size_t r = 0; r < kRows; ++r) {
    double y = 1;
    for (size_t j = 0; j < kCols; ++j) {
      const double v = n01(rng) * (1 + j % 4) + 0.1 * j;
      xy[r * (kCols + 1) + j] = v;
      y += (j + 1.0) * v;
    }
    xy[r * (kCols + 1) + kCols] = y + 0.5 * n01(rng);
  }
  std::vector<std::string> names;
  for (size_t j = 0; j < kCols; ++j) names.push_back("x" + std::to_string(j));

  // Anchor: dgels (Householder QR, LAPACK + the system BLAS) on [1 | X].
  // Only the solve is timed; building its column-major input is not.
  const size_t c = kCols + 1;
  std::vector<double> ref;
  double t_dgels = 1e300;
  for (int rep = 0; rep < 2; ++rep) {
    std::vector<double> a(kRows * c), b(kRows);
    for (size_t r = 0; r < kRows; ++r) {
      a[r] = 1;
      for (size_t j = 0; j < kCols; ++j) a[(j + 1) * kRows + r] = xy[r * (kCols + 1) + j];
      b[r] = xy[r * (kCols + 1) + kCols];
    }
    auto t0 = Clock::now();
    if (LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', kRows, c, 1, a.data(), kRows, b.data(), kRows) != 0)
      Die("dgels");
    t_dgels = std::min(t_dgels, Seconds(t0));
    ref.assign(b.begin(), b.begin() + c);
  }
  std::printf("anchor  LAPACKE_dgels (1 thread, system BLAS)  %8.3f s\n", t_dgels);

  LeastSquaresProblem p;
  p.xy = xy;
  p.rows = kRows;
  p.cols = kCols;
  p.names = names;
  auto max_rel = [&](const LeastSquaresFit& f) {
    double m = std::fabs(f.intercept - ref[0]) / std::fabs(ref[0]);
    for (size_t j = 0; j < kCols; ++j)
      m = std::max(m, std::fabs(f.coefficients[j] - ref[j + 1]) / std::fabs(ref[j + 1]));
    return m;
  };
  struct Variant {
    const char* name;
    int threads;
    bool qr;
  };
  for (Variant v : {Variant{"cholesky, 1 thread", 1, false}, Variant{"cholesky, 2 threads", 2, false},
                    Variant{"qr (fallback), 1 thread", 1, true},
                    Variant{"qr (fallback), 2 threads", 2, true}}) {
    LeastSquaresOptions o;
    o.threads = v.threads;
    o.force_qr = v.qr;
    Result<LeastSquaresFit> fit = Internal("not run");
    const double t = BestOf(3, [&] { fit = SolveLeastSquares(p, o); });
    if (!fit.ok()) Die(fit.error().ToString().c_str());
    std::printf("cloister %-28s %8.3f s  %6.1fx dgels  max rel coef diff %.1e  (cond %.1f)\n",
                v.name, t, t_dgels / t, max_rel(*fit), fit->condition);
  }

  // End to end through linreg_train, CSV parsing included (dgels parses nothing).
  CsvWriter w;
  for (const auto& n : names) w.Field(n);
  w.Field("y");
  w.EndRow();
  for (size_t r = 0; r < kRows; ++r) {
    for (size_t j = 0; j <= kCols; ++j) w.Number(xy[r * (kCols + 1) + j]);
    w.EndRow();
  }
  std::string csv = std::move(w).Take();
  const Function* fn = Builtins().Find("linreg_train");
  Inputs in;
  in["data"] = std::move(csv);
  const size_t csv_mb = in["data"].size() >> 20;
  double t_e2e = BestOf(1, [&] {
    auto out = Invoke(*fn, {{"label", "y"}}, in);
    if (!out.ok()) Die(out.error().ToString().c_str());
  });
  std::printf("cloister linreg_train end to end (%zu MiB CSV)  %8.3f s  (CSV parse dominates)\n",
              csv_mb, t_e2e);
}

// ---------------------------------------------------------------- psi

std::vector<std::string> PsiSets(int parties, size_t n, std::vector<std::string>& texts) {
  // Half of each set is shared by all parties, half is party-specific.
  std::mt19937_64 rng(7);
  std::vector<std::string> shared(n / 2);
  char buf[40];
  for (auto& s : shared) {
    std::snprintf(buf, sizeof buf, "%016llx@example.org", static_cast<unsigned long long>(rng()));
    s = buf;
  }
  texts.assign(parties, {});
  for (int p = 0; p < parties; ++p) {
    std::vector<std::string> ids = shared;
    for (size_t i = n / 2; i < n; ++i) {
      std::snprintf(buf, sizeof buf, "%016llx@party%d.net", static_cast<unsigned long long>(rng()),
                    p);
      ids.push_back(buf);
    }
    std::shuffle(ids.begin(), ids.end(), rng);
    for (const auto& id : ids) texts[p] += id + "\n";
  }
  return shared;
}

// ECDH PSI (Meadows / Huberman-Franklin-Hogg style): H(x) hashed to a P-256
// point by try-and-increment, blinded by every party's secret scalar in turn;
// blinded values are compared. Per element and party: one variable-base
// scalar multiplication. Measured on a sample.
struct EcdhPsi {
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group{
      EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1), EC_GROUP_free};
  std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> bn{BN_CTX_new(), BN_CTX_free};

  using Point = std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)>;
  using Bn = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

  Bn RandomScalar() {
    Bn k(BN_new(), BN_free);
    if (!BN_rand_range(k.get(), EC_GROUP_get0_order(group.get()))) Die("BN_rand_range");
    return k;
  }
  Point HashToPoint(const std::string& x) {
    Point p(EC_POINT_new(group.get()), EC_POINT_free);
    Bn xc(BN_new(), BN_free);
    unsigned char d[32];
    for (uint32_t ctr = 0;; ++ctr) {
      std::string in = x;
      in.append(reinterpret_cast<const char*>(&ctr), sizeof ctr);
      SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), d);
      BN_bin2bn(d, 32, xc.get());
      if (EC_POINT_set_compressed_coordinates(group.get(), p.get(), xc.get(), d[0] & 1,
                                              bn.get()) == 1)
        return p;
      ERR_clear_error();
    }
  }
  std::string Blind(EC_POINT* p, const BIGNUM* k) {
    if (EC_POINT_mul(group.get(), p, nullptr, p, k, bn.get()) != 1) Die("EC_POINT_mul");
    unsigned char out[33];
    EC_POINT_point2oct(group.get(), p, POINT_CONVERSION_COMPRESSED, out, sizeof out, bn.get());
    return std::string(reinterpret_cast<char*>(out), sizeof out);
  }
};

// Seconds for a `parties`-party ECDH PSI over `sample` ids per party.
double EcdhPsiSeconds(int parties, const std::vector<std::vector<std::string>>& sets) {
  EcdhPsi e;
  std::vector<EcdhPsi::Bn> keys;
  for (int p = 0; p < parties; ++p) keys.push_back(e.RandomScalar());
  auto t0 = Clock::now();
  std::vector<std::vector<std::string>> blinded(parties);
  for (int p = 0; p < parties; ++p) {
    for (const auto& x : sets[p]) {
      auto pt = e.HashToPoint(x);
      std::string enc;
      // Every party's key in turn (ring order starting with the owner).
      for (int q = 0; q < parties; ++q) enc = e.Blind(pt.get(), keys[(p + q) % parties].get());
      blinded[p].push_back(std::move(enc));
    }
    std::sort(blinded[p].begin(), blinded[p].end());
  }
  std::vector<std::string> common = blinded[0];
  for (int p = 1; p < parties; ++p) {
    std::vector<std::string> next;
    std::set_intersection(common.begin(), common.end(), blinded[p].begin(), blinded[p].end(),
                          std::back_inserter(next));
    common.swap(next);
  }
  if (common.empty()) Die("ECDH PSI found no common elements");
  return Seconds(t0);
}

void BenchPsi() {
  constexpr size_t kN = 1'000'000;
  std::printf("== psi: n ids per party, 50%% shared by all ==\n");
  const Function* fn = Builtins().Find("psi");
  for (int parties : {2, 5}) {
    // Baseline sample; it costs parties² scalar multiplications per element.
    const size_t kSample = 20'000;
    std::vector<std::string> texts;
    PsiSets(parties, kN, texts);
    Inputs in;
    for (int p = 0; p < parties; ++p) in["set.p" + std::to_string(p)] = texts[p];
    size_t out_lines = 0;
    const double t = BestOf(3, [&] {
      auto out = Invoke(*fn, {}, in);
      if (!out.ok()) Die(out.error().ToString().c_str());
      const std::string& r = out->at("result.p0");
      out_lines = static_cast<size_t>(std::count(r.begin(), r.end(), '\n'));
    });
    // Baseline on a sample, then linear extrapolation: its cost is one
    // scalar multiplication per element per party, i.e. linear in n.
    std::vector<std::vector<std::string>> sample(parties);
    {
      std::vector<std::string> stexts;
      PsiSets(parties, kSample, stexts);
      for (int p = 0; p < parties; ++p) {
        size_t pos = 0;
        while (pos < stexts[p].size()) {
          size_t nl = stexts[p].find('\n', pos);
          sample[p].push_back(stexts[p].substr(pos, nl - pos));
          pos = nl + 1;
        }
      }
    }
    const double t_sample = EcdhPsiSeconds(parties, sample);
    const double t_ecdh = t_sample * static_cast<double>(kN) / kSample;
    std::printf("anchor  ECDH P-256 PSI %dx%zu (measured %.2f s on %dx%zu, extrapolated x%zu) "
                "%9.1f s\n",
                parties, kN, t_sample, parties, kSample, kN / kSample, t_ecdh);
    std::printf("cloister psi %dx%zu (|intersection| = %zu)                     %9.3f s  "
                "%8.0fx faster than ECDH baseline\n",
                parties, kN, out_lines, t, t_ecdh / t);
  }
}

// ---------------------------------------------------------------- rsa

void BenchRsa() {
  std::printf("== rsa_sign: RSA-2048, PSS, SHA-256, 64-byte message ==\n");
  auto key = crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048);
  if (!key.ok()) Die("keygen");
  const SecretBytes pem = key->Pem();
  const std::string pem_text(AsChars(pem.view()));
  const std::string msg(64, 'm');
  const Function* fn = Builtins().Find("rsa_sign");
  const Inputs in = {{"key", pem_text}, {"data", msg}};

  // Anchor: raw EVP with the key parsed once (the best OpenSSL can do).
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem_text.data(), static_cast<int>(pem_text.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!pkey) Die("PEM_read_bio_PrivateKey");
  auto evp_sign = [&] {
    unsigned char digest[32];
    SHA256(reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), digest);
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr), EVP_PKEY_CTX_free);
    EVP_PKEY_sign_init(ctx.get());
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST);
    EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256());
    unsigned char sig[512];
    size_t len = sizeof sig;
    if (EVP_PKEY_sign(ctx.get(), sig, &len, digest, 32) != 1) Die("EVP_PKEY_sign");
  };
  // Anchor 2: what any stateless call must do with raw EVP: parse, then sign.
  auto evp_parse_sign = [&] {
    std::unique_ptr<BIO, decltype(&BIO_free)> b(
        BIO_new_mem_buf(pem_text.data(), static_cast<int>(pem_text.size())), BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> k(
        PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    if (!k) Die("PEM_read_bio_PrivateKey");
    unsigned char digest[32];
    SHA256(reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), digest);
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_from_pkey(nullptr, k.get(), nullptr), EVP_PKEY_CTX_free);
    EVP_PKEY_sign_init(ctx.get());
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST);
    EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256());
    unsigned char sig[512];
    size_t len = sizeof sig;
    if (EVP_PKEY_sign(ctx.get(), sig, &len, digest, 32) != 1) Die("EVP_PKEY_sign");
  };
  auto fn_sign = [&] {
    auto out = Invoke(*fn, {}, in);
    if (!out.ok()) Die(out.error().ToString().c_str());
  };
  for (int threads : {1, 2}) {
    const double anchor = Throughput(threads, 2.0, evp_sign);
    const double anchor2 = Throughput(threads, 2.0, evp_parse_sign);
    const double ours = Throughput(threads, 2.0, fn_sign);
    std::printf("%d thread(s): EVP warm key %6.0f/s, EVP parse+sign %6.0f/s, rsa_sign %6.0f/s"
                " = %5.1f%% of warm, %5.1f%% of parse+sign\n",
                threads, anchor, anchor2, ours, 100 * ours / anchor, 100 * ours / anchor2);
  }
}

// ---------------------------------------------------------------- aes

void BenchAes() {
  std::printf("== aes_encrypt: AES-256-GCM, random nonce, 16-byte AAD ==\n");
  const std::string key(32, 'k'), aad(16, 'a');
  const Function* fn = Builtins().Find("aes_encrypt");
  for (size_t size : {size_t{64}, size_t{4096}}) {
    const std::string pt(size, 'p');
    const Inputs in = {{"key", key}, {"data", pt}, {"aad", aad}};
    // Anchor A: a new EVP context keyed per message, as any stateless call must.
    // Anchor B: one context keyed once and reused (OpenSSL's best case).
    auto evp_once = [&](EVP_CIPHER_CTX* ctx, bool rekey) {
      unsigned char nonce[12], tag[16];
      std::string out(size, '\0');
      int len = 0;
      RAND_bytes(nonce, sizeof nonce);
      const auto* k = reinterpret_cast<const unsigned char*>(key.data());
      if (EVP_EncryptInit_ex(ctx, rekey ? EVP_aes_256_gcm() : nullptr, nullptr,
                             rekey ? k : nullptr, nonce) != 1)
        Die("EVP_EncryptInit_ex");
      EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size()));
      EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                        reinterpret_cast<const unsigned char*>(pt.data()),
                        static_cast<int>(pt.size()));
      EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
    };
    auto per_call = [&] {
      std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                          EVP_CIPHER_CTX_free);
      evp_once(ctx.get(), true);
    };
    auto reused = [&] {
      thread_local std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx = [&] {
        std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(),
                                                                          EVP_CIPHER_CTX_free);
        EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr,
                           reinterpret_cast<const unsigned char*>(key.data()), nullptr);
        return c;
      }();
      evp_once(ctx.get(), false);
    };
    auto ours = [&] {
      auto out = Invoke(*fn, {}, in);
      if (!out.ok()) Die(out.error().ToString().c_str());
    };
    for (int threads : {1, 2}) {
      const double a = Throughput(threads, 1.5, per_call);
      const double b = Throughput(threads, 1.5, reused);
      const double c = Throughput(threads, 1.5, ours);
      std::printf("%4zu B, %d thread(s): EVP keyed per call %9.0f ops/s, EVP reused ctx %9.0f "
                  "ops/s, aes_encrypt %9.0f ops/s = %5.1f%% / %5.1f%%\n",
                  size, threads, a, b, c, 100 * c / a, 100 * c / b);
    }
  }
}

}  // namespace
}  // namespace cloister::functions::builtin

int main(int argc, char** argv) {
  using namespace cloister::functions::builtin;
  std::vector<std::string> which(argv + 1, argv + argc);
  auto want = [&](const char* s) {
    return which.empty() || std::find(which.begin(), which.end(), s) != which.end();
  };
  std::printf("hardware threads: %u\n", std::thread::hardware_concurrency());
  if (want("linreg")) BenchLinreg();
  if (want("psi")) BenchPsi();
  if (want("rsa")) BenchRsa();
  if (want("aes")) BenchAes();
  return 0;
}
