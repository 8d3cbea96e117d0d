// Encrypted file transfer through the gateway (issue 12), against its two
// anchors measured in the same run on the same bytes and disk:
//   aes   raw AES-256-GCM (OpenSSL EVP through common/crypto) over the
//         plaintext in 1 MiB pieces, in process: the crypto floor;
//   disk  a copy of the file to the same disk with fsync: the storage floor.
// Upload = SDK encrypt + register key + stream through the gateway into
// cloister-storage (fsync, rename); download = stream back + decrypt +
// authenticate + rename. Goal (docs/performance.md): each ≥ 50 % of
// min(aes, disk). Also the download's time to first byte, p50 of 20.
//
//   build/bin/files_bench [--mib 1024] [--rounds 3]
// (The disk anchor uses open/read/write/fsync directly: it is what is measured.)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <CLI/CLI.hpp>

#include "common/crypto/aead.h"
#include "common/crypto/random.h"
#include "sdk/files_client.h"
#include "services/keyvault/testing/gateway_cluster.h"

namespace {

using namespace cloister;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void WritePlaintext(const std::string& path, uint64_t bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::mt19937_64 rng(42);
  std::string buf(1 << 20, '\0');
  for (uint64_t done = 0; done < bytes; done += buf.size()) {
    for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(&buf[i], &v, 8);
    }
    out.write(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(buf.size(), bytes - done)));
  }
}

// Anchor 1: AES-256-GCM over the file's bytes, 1 MiB at a time (read from
// the page cache, as the SDK reads them).
double AesSeconds(const std::string& path) {
  auto gcm = crypto::AesGcm::Create(crypto::RandomBytes(32));
  if (!gcm.ok()) std::abort();
  std::ifstream in(path, std::ios::binary);
  std::string plain(1 << 20, '\0');
  std::vector<uint8_t> out(plain.size() + 16);
  const Bytes nonce = crypto::RandomBytes(12);
  auto t0 = Clock::now();
  while (in.read(plain.data(), static_cast<std::streamsize>(plain.size())) || in.gcount() > 0) {
    const size_t n = static_cast<size_t>(in.gcount());
    if (!gcm->SealInto(nonce, {}, AsBytes(std::string_view(plain.data(), n)),
                       std::span<uint8_t>(out.data(), n + 16))
             .ok())
      std::abort();
  }
  return Seconds(t0, Clock::now());
}

// Anchor 2: copy to the same disk and fsync (what storage must at least do).
double DiskSeconds(const std::string& from, const std::string& to) {
  auto t0 = Clock::now();
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (in < 0 || out < 0) std::abort();
  std::vector<char> buf(1 << 20);
  for (ssize_t n; (n = ::read(in, buf.data(), buf.size())) > 0;)
    if (::write(out, buf.data(), static_cast<size_t>(n)) != n) std::abort();
  ::fsync(out);
  ::close(in);
  ::close(out);
  return Seconds(t0, Clock::now());
}

// CPU seconds (user + system) of `pid` from /proc/<pid>/stat.
double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// This process and the cluster's services (from their pid files), by name.
std::vector<std::pair<std::string, int>> ClusterProcesses(const testing::GatewayCluster& cluster) {
  std::vector<std::pair<std::string, int>> out = {{"client (SDK)", getpid()}};
  for (const auto& [name, pid] : cluster.ServicePids()) out.emplace_back("cloister-" + name, pid);
  return out;
}

// Prints how much CPU each process spent between two snapshots.
void PrintCpu(const char* phase, const std::vector<std::pair<std::string, int>>& procs,
              const std::vector<double>& before, double wall) {
  std::printf("    cpu during %s (wall %.2f s):", phase, wall);
  for (size_t i = 0; i < procs.size(); ++i) {
    const double used = CpuSeconds(procs[i].second) - before[i];
    if (used >= 0.05) std::printf("  %s %.2f s", procs[i].first.c_str(), used);
  }
  std::printf("\n");
}

std::vector<double> CpuSnapshot(const std::vector<std::pair<std::string, int>>& procs) {
  std::vector<double> v;
  for (const auto& p : procs) v.push_back(CpuSeconds(p.second));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("files_bench: encrypted upload/download through the gateway vs AES-GCM and disk");
  uint64_t mib = 1024;
  int rounds = 3;
  size_t message_kib = 0;
  app.add_option("--mib", mib, "file size in MiB")->capture_default_str();
  app.add_option("--message-kib", message_kib,
                 "largest upload message (default: the SDK's UploadOptions default)");
  app.add_option("--rounds", rounds, "alternating rounds")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  testing::GatewayCluster cluster(testing::GatewayClusterBinaries{
      .platform = KV_PLATFORM_BIN, .auth = KV_AUTH_BIN, .exec = KV_EXEC_BIN,
      .keyvault = KV_KEYVAULT_BIN, .gateway = KV_GATEWAY_BIN});
  if (Status st = cluster.Start(/*lift_rate_limit=*/true); !st.ok()) {
    std::cerr << "cluster: " << st.ToString() << "\n";
    return 1;
  }
  auto user = cluster.AddUser("bench", "bench-password-123");
  if (!user.ok()) {
    std::cerr << user.error().ToString() << "\n";
    return 1;
  }
  auto files = sdk::FilesClient::Create(user->client.get(), cluster.client_options());
  if (!files.ok()) {
    std::cerr << files.error().ToString() << "\n";
    return 1;
  }
  const std::string dir = cluster.dir();
  const std::string plain = dir + "/bench.plain", copy = dir + "/bench.copy",
                    back = dir + "/bench.back";
  WritePlaintext(plain, mib << 20);
  const double size_mib = static_cast<double>(mib);

  double best_aes = 1e9, best_disk = 1e9, best_up = 1e9, best_down = 1e9;
  const auto procs = ClusterProcesses(cluster);
  for (int r = 0; r < rounds; ++r) {
    best_aes = std::min(best_aes, AesSeconds(plain));
    best_disk = std::min(best_disk, DiskSeconds(plain, copy));
    auto cpu0 = CpuSnapshot(procs);
    auto t0 = Clock::now();
    sdk::UploadOptions opts;
    if (message_kib > 0) opts.max_message_bytes = message_kib << 10;
    auto up = (*files)->Upload(plain, opts);
    auto t1 = Clock::now();
    if (!up.ok()) {
      std::cerr << "upload: " << up.error().ToString() << "\n";
      return 1;
    }
    PrintCpu("upload", procs, cpu0, Seconds(t0, t1));
    cpu0 = CpuSnapshot(procs);
    Status down = (*files)->Download(up->file_id(), back);
    auto t2 = Clock::now();
    PrintCpu("download", procs, cpu0, Seconds(t1, t2));
    if (!down.ok()) {
      std::cerr << "download: " << down.ToString() << "\n";
      return 1;
    }
    best_up = std::min(best_up, Seconds(t0, t1));
    best_down = std::min(best_down, Seconds(t1, t2));
    (void)(*files)->Delete(up->file_id());
    std::filesystem::remove(back);
    std::filesystem::remove(copy);
  }
  const double aes = size_mib / best_aes, disk = size_mib / best_disk;
  const double floor = std::min(aes, disk);
  const double up = size_mib / best_up, down = size_mib / best_down;
  std::cout << "file of " << mib << " MiB, best of " << rounds << " alternating rounds\n";
  std::printf("  anchor aes-256-gcm in process   %8.1f MiB/s\n", aes);
  std::printf("  anchor copy + fsync, same disk  %8.1f MiB/s\n", disk);
  std::printf("  upload through the gateway      %8.1f MiB/s   %.2f x min(anchors)\n", up,
              up / floor);
  std::printf("  download through the gateway    %8.1f MiB/s   %.2f x min(anchors)\n", down,
              down / floor);

  // Time to first byte of a download (GetFileKey + the first message).
  std::filesystem::resize_file(plain, 1 << 20);
  auto small = (*files)->Upload(plain);
  if (!small.ok()) return 1;
  std::vector<double> ttfb;
  for (int i = 0; i < 20; ++i) {
    auto t0 = Clock::now();
    double first = -1;
    Status st = (*files)->Download(small->file_id(), back, [&](uint64_t done, uint64_t) {
      if (first < 0 && done > 0) first = Seconds(t0, Clock::now());
    });
    if (!st.ok() || first < 0) return 1;
    ttfb.push_back(first * 1000);
    std::filesystem::remove(back);
  }
  std::sort(ttfb.begin(), ttfb.end());
  std::printf("  download time to first byte     p50 %.2f ms  (p90 %.2f ms, 20 runs)\n",
              ttfb[ttfb.size() / 2], ttfb[ttfb.size() * 9 / 10]);
  std::filesystem::remove(plain);
  return 0;
}
