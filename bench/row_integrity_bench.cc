// What row integrity (services/common/row_integrity.h) costs a store: the
// auth writes of one login (a session, an access token, a refresh token in
// one transaction) and the read of a user row, on a SQLite file with the
// service's pragmas, protected (MAC triggers, checked views, a durable
// counter advance per commit) against the same store unprotected (the
// anchor) in the same run. The counter is InProcessCounters on a file of
// the platform daemon's format: the fsync it costs is real, the platform
// socket round trip (~30 µs, platform_bench) is not included.
//
//   row_integrity_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "attestation/sealer.h"
#include "common/crypto/random.h"
#include "common/logging.h"
#include "services/auth/auth_store.h"

namespace cloister::auth {
namespace {

struct Fixture {
  std::string dir;
  attestation::AeadSealer sealer;
  std::unique_ptr<attestation::InProcessCounters> counters;
  std::unique_ptr<AuthStore> store;
  std::string user_id = "u-bench";

  explicit Fixture(bool protect) {
    dir = std::filesystem::temp_directory_path() /
          ("row_integrity_bench_" + std::to_string(::getpid()) + (protect ? "_p" : "_u"));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    counters = std::make_unique<attestation::InProcessCounters>(
        *attestation::InProcessCounters::Open(dir + "/counters"));
    services::RowIntegrity::Config cfg{&sealer, counters.get(), "rows.bench"};
    store = *AuthStore::Open("sqlite://" + dir + "/auth.db", protect ? &cfg : nullptr);
    UserRecord u;
    u.user_id = user_id;
    u.username = "bench";
    u.password_hash = "x";
    u.roles = 1;
    (void)store->InsertUser(store->db(), u, 1);
  }
  ~Fixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

void LoginWrites(benchmark::State& state) {
  Fixture f(state.range(0) != 0);
  int64_t n = 0;
  for (auto _ : state) {
    const std::string sid = "s-" + std::to_string(++n);
    Status st = f.store->db().Transaction([&](storage::Tx& tx) -> Status {
      CLOISTER_RETURN_IF_ERROR(f.store->InsertSession(tx, sid, f.user_id, n));
      CLOISTER_RETURN_IF_ERROR(f.store->InsertAccessToken(tx, "t-" + sid, sid, n + 900));
      return f.store->InsertRefreshToken(tx, crypto::RandomBytes(32), sid, n + 86400);
    });
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetLabel(state.range(0) ? "protected" : "anchor: unprotected");
}
BENCHMARK(LoginWrites)->Arg(0)->Arg(1)->UseRealTime();

void UserRead(benchmark::State& state) {
  Fixture f(state.range(0) != 0);
  for (auto _ : state) {
    auto u = f.store->FindUserById(f.store->db(), f.user_id);
    if (!u.ok()) state.SkipWithError(u.error().ToString().c_str());
    benchmark::DoNotOptimize(u);
  }
  state.SetLabel(state.range(0) ? "protected" : "anchor: unprotected");
}
BENCHMARK(UserRead)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace cloister::auth

// The console output plus, at the end, protected / anchor for each pair.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs)
      if (r.run_type == Run::RT_Iteration) times_[r.benchmark_name()] = r.GetAdjustedRealTime();
    ConsoleReporter::ReportRuns(runs);
  }
  void PrintRatios() const {
    for (const char* name : {"LoginWrites", "UserRead"}) {
      auto a = times_.find(std::string(name) + "/0/real_time");
      auto p = times_.find(std::string(name) + "/1/real_time");
      if (a != times_.end() && p != times_.end() && a->second > 0)
        std::printf("%s: protected / unprotected = %.2fx\n", name, p->second / a->second);
    }
  }

 private:
  std::map<std::string, double> times_;
};

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
