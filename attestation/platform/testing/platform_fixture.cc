// Temporary platform + manifest + trust.toml and the real daemon, for the
// integration tests; see platform_fixture.h.
#include "attestation/platform/testing/platform_fixture.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "attestation/manifest.h"
#include "attestation/platform/platform_client.h"
#include "attestation/platform/platform_state.h"
#include "attestation/platform/protocol.h"
#include "common/fs.h"
#include "common/sys/unique_fd.h"

namespace cloister::attestation::testing {
namespace {

namespace fs = std::filesystem;

Status ChownTree(const std::string& path, uid_t uid, gid_t gid) {
  std::error_code ec;
  if (::chown(path.c_str(), uid, gid) != 0) return ErrnoError(errno, "chown " + path);
  for (auto it = fs::recursive_directory_iterator(path, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) return Internal("walk " + path + ": " + ec.message());
    if (::lchown(it->path().c_str(), uid, gid) != 0)
      return ErrnoError(errno, "chown " + it->path().string());
  }
  return OkStatus();
}

std::vector<std::string> AsUser(uid_t uid, gid_t gid, std::vector<std::string> argv,
                                bool ptrace_cap = false) {
  std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid=" + std::to_string(uid),
                                  "--regid=" + std::to_string(gid), "--clear-groups"};
  if (ptrace_cap)
    out.insert(out.end(), {"--inh-caps=+sys_ptrace,+dac_read_search",
                           "--ambient-caps=+sys_ptrace,+dac_read_search"});
  out.push_back("--");
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::vector<std::string> AsNobody(std::vector<std::string> argv, bool ptrace_cap = false) {
  return AsUser(kNobody, kNobody, std::move(argv), ptrace_cap);
}

// Runs argv[0] (a path) to completion with stdout captured, stderr inherited.
// `extra_env` ("NAME=VALUE") is added to this process's environment.
Result<RunOutput> RunCapture(const std::vector<std::string>& argv,
                             const std::vector<std::string>& extra_env = {}) {
  cloister::sys::SpawnOptions options;
  for (const auto& e : extra_env) {
    const size_t eq = e.find('=');
    options.env[e.substr(0, eq)] = eq == std::string::npos ? "" : e.substr(eq + 1);
  }
  CLOISTER_ASSIGN_OR_RETURN(cloister::sys::CapturedRun run,
                            cloister::sys::RunCapturingStdout(argv, options, 64u << 20));
  RunOutput out;
  out.out = std::move(run.out);
  out.exit_code = run.status.ShellCode();
  size_t pos = 0;
  while (pos < out.out.size()) {
    size_t end = out.out.find('\n', pos);
    if (end == std::string::npos) end = out.out.size();
    std::string line = out.out.substr(pos, end - pos);
    auto eq = line.find('=');
    if (eq != std::string::npos) out.kv[line.substr(0, eq)] = line.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

}  // namespace

Result<std::string> Sha256FileHex(const std::string& path) {
  CLOISTER_ASSIGN_OR_RETURN(crypto::Digest d, HashFile(path));
  return HexEncode(ByteView(d));
}

Result<std::unique_ptr<PlatformHarness>> PlatformHarness::Create(std::vector<ManifestBinary> binaries) {
  auto h = std::make_unique<PlatformHarness>();
  std::string tmpl = (fs::temp_directory_path() / "cloister-plat-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoError(errno, "mkdtemp");
  h->dir_ = tmpl;
  // World-traversable so clients running as nobody reach the socket.
  if (::chmod(h->dir_.c_str(), 0755) != 0) return ErrnoError(errno, "chmod");
  h->state_dir_ = h->dir_ + "/state";
  h->run_dir_ = h->dir_ + "/run";
  h->socket_path_ = h->run_dir_ + "/platform.sock";
  h->trust_path_ = h->dir_ + "/trust.toml";
  CLOISTER_RETURN_IF_ERROR(MakeDirs(h->run_dir_, 0755));
  CLOISTER_RETURN_IF_ERROR(MakeDirs(h->dir_ + "/bin", 0755));
  CLOISTER_ASSIGN_OR_RETURN(h->daemon_bin_, h->CopyBinary(CLOISTER_PLATFORM_BIN, "cloister-platform"));

  PlatformInitOptions init;
  init.node_name = "test-node";
  CLOISTER_ASSIGN_OR_RETURN(PlatformInitResult made, InitPlatform(h->state_dir_, init));
  CLOISTER_ASSIGN_OR_RETURN(std::string root_pem, ReadFile(made.paths.root_cert));
  CLOISTER_ASSIGN_OR_RETURN(crypto::Certificate root, crypto::Certificate::FromPem(root_pem));
  h->root_ = root;

  // Two auditors, threshold 2: the N-of-M path, not a single key.
  std::vector<crypto::PrivateKey> auditors;
  for (int i = 1; i <= 2; ++i) {
    CLOISTER_ASSIGN_OR_RETURN(crypto::PrivateKey k, crypto::PrivateKey::Generate(crypto::KeyType::kEd25519));
    CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(h->dir_ + "/auditor-" + std::to_string(i) + ".pub",
                                             k.public_key().Pem(), 0644));
    auditors.push_back(k);
  }
  ManifestBody body;
  body.set_version(kManifestVersion);
  body.set_created_unix(static_cast<int64_t>(std::time(nullptr)));
  binaries.push_back({"platform", h->daemon_bin_, 1, 1});
  std::vector<std::string> paths;
  for (const auto& b : binaries) {
    CLOISTER_ASSIGN_OR_RETURN(ManifestEntry e, MakeManifestEntry(b.name, b.path, b.product_id, b.svn));
    e.set_any_config(true);  // test binaries: their flags are not what these tests pin
    *body.add_entries() = e;
    paths.push_back(b.path);
  }
  CLOISTER_RETURN_IF_ERROR(AddLibraryReferences(body, paths));
  CLOISTER_ASSIGN_OR_RETURN(Bytes signed_manifest, SignManifest(body, auditors));
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(h->dir_ + "/manifest.bin", signed_manifest, 0644));
  const std::string toml =
      "[attestation]\n"
      "root_ca = \"state/ca/root.pem\"\n"
      "manifest = \"manifest.bin\"\n"
      "auditor_keys = [\"auditor-1.pub\", \"auditor-2.pub\"]\n"
      "auditor_threshold = 2\n"
      "security_level = 3\n"
      "platform_socket = \"" + h->socket_path_ + "\"\n";
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(h->trust_path_, toml, 0644));
  return h;
}

PlatformHarness::~PlatformHarness() {
  if (daemon_) daemon_->Stop(SIGTERM, std::chrono::seconds(5)).status().IgnoreError();
  daemon_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Result<std::string> PlatformHarness::CopyBinary(const std::string& binary, const std::string& name,
                                                std::string_view append) {
  CLOISTER_ASSIGN_OR_RETURN(std::string content, ReadFile(binary, 1u << 30));
  content.append(append);
  const std::string path = dir_ + "/bin/" + name;
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(path, content, 0755));
  return path;
}

Status PlatformHarness::Start(const StartOptions& options) {
  std::vector<std::string> argv = {daemon_bin_, "--state", state_dir_, "--socket", socket_path_,
                                   "--trust", trust_path_};
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  if (options.as_nobody) {
    CLOISTER_RETURN_IF_ERROR(ChownTree(state_dir_, kNobody, kNobody));
    CLOISTER_RETURN_IF_ERROR(ChownTree(run_dir_, kNobody, kNobody));
    argv = AsNobody(argv, options.ptrace_cap);
  }
  CLOISTER_ASSIGN_OR_RETURN(cloister::sys::Process daemon, cloister::sys::Process::Spawn(argv));
  daemon_.emplace(std::move(daemon));
  // Ready when it answers a session (each probe is itself measured; a
  // daemon running as nobody cannot measure us, root, and says so — that
  // answer also means it is serving).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!daemon_->Running()) {
      daemon_.reset();
      return FailedPrecondition("cloister-platform exited during start-up");
    }
    if (FileExists(socket_path_)) {
      auto probe = PlatformClient::Connect(socket_path_);
      if (probe.ok() || probe.error().reason() != kPlatformUnavailable) return OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return DeadlineExceeded("cloister-platform did not start serving");
}

Result<int> PlatformHarness::Stop() {
  if (!daemon_) return FailedPrecondition("daemon not running");
  auto status = daemon_->Stop(SIGTERM, std::chrono::seconds(10));
  daemon_.reset();
  if (!status.ok()) return status.error();
  return status->ShellCode();
}

Result<RunOutput> PlatformHarness::RunDaemonToExit() {
  return RunCapture({daemon_bin_, "--state", state_dir_, "--socket", socket_path_, "--trust",
                     trust_path_});
}

Result<RunOutput> PlatformHarness::RunClient(const std::string& binary,
                                             const std::vector<std::string>& args, bool as_nobody,
                                             const std::vector<std::string>& extra_env) {
  std::vector<std::string> argv = {binary, socket_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCapture(as_nobody ? AsNobody(argv) : argv, extra_env);
}

Result<RunOutput> PlatformHarness::RunClientAs(uid_t uid, gid_t gid, const std::string& binary,
                                               const std::vector<std::string>& args) {
  std::vector<std::string> argv = {binary, socket_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCapture(AsUser(uid, gid, argv));
}

}  // namespace cloister::attestation::testing
