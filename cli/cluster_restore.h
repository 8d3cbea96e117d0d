// `cloister cluster accept-restore SERVICE`: the operator's consent, for
// one start, to a service database older than the platform's monotonic
// counter (a restore from backup). Without it the service refuses the
// database with ROLLBACK_DETECTED (services/common/row_integrity.h).
#pragma once

#include <string>
#include <string_view>

#include "cli/command_registry.h"
#include "cli/session.h"

namespace cloister::cli {

// The services whose databases carry row integrity (and so a counter).
bool KeepsProtectedRows(std::string_view service);
// Where the consent lies: <data>/<service>/accept-restore. `cluster up`
// passes it as --accept-restore-file; the service deletes it once used.
std::string AcceptRestoreFile(const ClusterPaths& p, std::string_view service);
// Writes the consent file and says what happens next (--json too).
void RunAcceptRestore(const std::string& service, const Globals& g);

}  // namespace cloister::cli
