// cloister-auth: users, passwords, tokens and API keys behind the gateway.
// Accepts calls only from the attested gateway (with a grant). Extra flags:
//   --db URL                              storage URL (default sqlite:///<data-dir>/auth.db)
//   --bootstrap-admin-password-file FILE  create user "admin" if no admin exists
//   --token-lifetime SECONDS              access token lifetime (default 900)
//   --api-key-default-expiry-s SECONDS    API key lifetime when none is asked (default 90 days)
//   --api-key-max-expiry-s SECONDS        longest API key lifetime (default 365 days)
//   --rotate-signing-key                  start with a fresh token signing key
#include <iostream>
#include <thread>

#include "common/fs.h"
#include "services/common/auth_follower.h"
#include "common/logging.h"
#include "common/secret.h"
#include "services/auth/auth_core.h"
#include "services/auth/auth_service.h"
#include "services/common/service_runner.h"

namespace {

using cloister::auth::AuthCore;
using cloister::auth::AuthStore;

// Reads the bootstrap password: the file must be private (0600) because it
// holds the first admin's password; one trailing newline is dropped.
cloister::Result<std::string> ReadPasswordFile(const std::string& path) {
  CLOISTER_RETURN_IF_ERROR(cloister::CheckPrivateFile(path));
  CLOISTER_ASSIGN_OR_RETURN(std::string pw, cloister::ReadFile(path, 4096));
  if (!pw.empty() && pw.back() == '\n') pw.pop_back();
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  return pw;
}

int Bootstrap(AuthStore& store, const std::string& file) {
  auto pw = ReadPasswordFile(file);
  if (!pw.ok()) {
    std::cerr << "cloister-auth: bootstrap password file: " << pw.error().ToString() << std::endl;
    return 2;
  }
  cloister::auth::PasswordHasher hasher(cloister::auth::PasswordPolicy{});
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto created = cloister::auth::BootstrapAdmin(store, hasher, *pw, now);
  cloister::Cleanse(*pw);
  if (!created.ok()) {
    std::cerr << "cloister-auth: bootstrap: " << created.error().ToString() << std::endl;
    return 2;
  }
  std::cout << (*created ? "created user admin\n" : "an admin already exists; nothing to do\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cloister::services::ServiceRunner runner("auth");
  std::string db_url, bootstrap_file;
  bool rotate = false;
  int64_t token_lifetime = 900;
  runner.app().add_option("--db", db_url, "storage URL (default sqlite:///<data-dir>/auth.db)");
  runner.app().add_option("--bootstrap-admin-password-file", bootstrap_file,
                          "create user 'admin' (role admin) with this password if no admin exists");
  runner.app()
      .add_option("--token-lifetime", token_lifetime, "access token lifetime in seconds")
      ->check(CLI::Range(int64_t{30}, int64_t{24 * 3600}))
      ->capture_default_str();
  cloister::auth::AuthOptions defaults;
  int64_t api_key_default_expiry = defaults.api_key_default_expiry_s;
  int64_t api_key_max_expiry = defaults.api_key_max_expiry_s;
  // One second at least, so a test cluster can watch a key expire.
  const auto expiry_range = CLI::Range(int64_t{1}, int64_t{10} * 365 * 24 * 3600);
  runner.app()
      .add_option("--api-key-default-expiry-s", api_key_default_expiry,
                  "API key lifetime when CreateApiKey asks for none (seconds)")
      ->check(expiry_range)
      ->capture_default_str();
  runner.app()
      .add_option("--api-key-max-expiry-s", api_key_max_expiry,
                  "longest API key lifetime CreateApiKey grants (seconds; also caps older keys)")
      ->check(expiry_range)
      ->capture_default_str();
  runner.app().add_flag("--rotate-signing-key", rotate, "rotate the token signing key at start");
  std::string accept_restore_file;
  runner.app().add_option("--accept-restore-file", accept_restore_file,
                          "if this file exists, accept a database older than the platform "
                          "counter once, then delete the file (cloister cluster accept-restore)");
  if (int rc = runner.ParseFlags(argc, argv); rc >= 0) return rc;
  if (api_key_default_expiry > api_key_max_expiry) {
    std::cerr << "cloister-auth: --api-key-default-expiry-s (" << api_key_default_expiry
              << ") exceeds --api-key-max-expiry-s (" << api_key_max_expiry << ")" << std::endl;
    return 2;
  }
  // The enclave first: only an attested auth, running the configuration
  // the auditors signed, opens the user database (and --print-config
  // exits here without touching it).
  auto* enclave = runner.StartEnclave();
  if (enclave == nullptr) return 2;

  if (auto url = runner.DbUrl(db_url)) db_url = *std::move(url);
  else return 2;
  // Rows that decide identity and access are MACed under a sealed key and
  // the database's version is kept in a platform counter (row_integrity.h).
  cloister::attestation::PlatformSealer sealer(&enclave->platform());
  const std::string& cluster_id = enclave->trust().manifest.body().cluster_id();
  cloister::services::RowIntegrity::Config integrity{
      &sealer, &enclave->platform(), cloister::services::IntegrityCounterName("auth", cluster_id),
      cloister::services::AcceptRestoreRequested(accept_restore_file)};
  auto store = AuthStore::Open(db_url, &integrity);
  if (!store.ok()) {
    std::cerr << "cloister-auth: database: " << store.error().ToString() << std::endl;
    return 2;
  }
  cloister::services::AcceptRestoreDone(accept_restore_file, integrity);
  if (!bootstrap_file.empty()) {
    if (int rc = Bootstrap(**store, bootstrap_file); rc != 0) return rc;
  }
  auto* audit = runner.OpenAudit();
  if (audit == nullptr) return 2;

  cloister::auth::AuthOptions options;
  options.token_lifetime_s = token_lifetime;
  options.api_key_default_expiry_s = api_key_default_expiry;
  options.api_key_max_expiry_s = api_key_max_expiry;
  auto core = AuthCore::Create(*std::move(store),
                               std::make_shared<cloister::attestation::PlatformSealer>(&enclave->platform()),
                               options);
  if (!core.ok()) {
    LOG_ERROR("auth start failed", {{"error", core.error().ToString()}});
    std::cerr << "cloister-auth: " << core.error().ToString() << std::endl;
    return 2;
  }
  if (rotate) {
    if (auto st = (*core)->RotateSigningKey(); !st.ok()) {
      std::cerr << "cloister-auth: rotate signing key: " << st.ToString() << std::endl;
      return 2;
    }
  }
  LOG_INFO("auth ready", {{"password_hash", options.password.Describe()}});

  // Expired tokens and revocations are pruned in the background.
  std::atomic<bool> stop{false};
  std::thread pruner([&] {
    int ticks = 0;
    while (!stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (++ticks % 1500 != 0) continue;  // every 5 minutes
      if (auto st = (*core)->Prune(); !st.ok())
        LOG_WARN("prune failed", {{"error", st.ToString()}});
    }
  });

  // Auth checks auth proofs like every service (the grant's principal is
  // the gateway's claim), with its own keys and revocations, read from the
  // core rather than over the network.
  cloister::services::IdentityVerifier identity;
  cloister::auth::AuthCore* core_ptr = core->get();
  cloister::services::AuthSource local;
  local.token_keys = [core_ptr]() -> cloister::Result<cloister::internal::TokenKeysResponse> {
    return core_ptr->TokenKeys();
  };
  local.revocations = [core_ptr](int64_t since) { return core_ptr->Revocations(since); };
  cloister::services::AuthFollower follower(
      &identity, std::move(local), {.key_refresh_ms = 1000, .revocation_poll_ms = 200});
  follower.PollOnce();  // keys loaded before the first request
  follower.Start();
  cloister::services::GrantVerifier verifier(enclave, audit, &identity);
  cloister::auth::AuthService service(core->get(), &verifier, enclave->security_level());
  int rc = runner.Serve({&service});
  stop = true;
  pruner.join();
  return rc;
}
