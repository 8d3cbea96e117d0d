// `cloister cluster accept-restore`; see cluster_restore.h.
#include "cli/cluster_restore.h"

#include <ctime>
#include <iostream>

#include "cli/output.h"
#include "common/fs.h"

namespace cloister::cli {

bool KeepsProtectedRows(std::string_view service) {
  return service == "auth" || service == "keyvault";
}

std::string AcceptRestoreFile(const ClusterPaths& p, std::string_view service) {
  return p.DataDir(std::string(service)) + "/accept-restore";
}

void RunAcceptRestore(const std::string& service, const Globals& g) {
  constexpr std::string_view kCmd = "cluster accept-restore";
  if (!KeepsProtectedRows(service))
    Fail(kCmd, "'" + service + "' keeps no rollback-protected database (auth, keyvault do)");
  const ClusterPaths p = ClusterPaths::For(g.home);
  if (!FileExists(p.DataDir(service)))
    Fail(kCmd, "no data directory for " + service + " in " + g.home + " (run cluster init)");
  const std::string path = AcceptRestoreFile(p, service);
  const std::string note = "accepted by the operator at unix time " +
                           std::to_string(static_cast<long long>(std::time(nullptr))) + "\n";
  if (Status st = WriteFileAtomic(path, note, 0600); !st.ok()) FailError(kCmd, st.error());
  if (g.json) {
    PrintJson({{"service", service}, {"consent_file", path}, {"applies", "next start"}});
    return;
  }
  std::cout << "The next start of " << service
            << " accepts its database as it is now, older than the platform counter.\n"
               "Restart it to apply: cloister cluster down && cloister cluster up\n";
}

}  // namespace cloister::cli
