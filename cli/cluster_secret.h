// The per-cluster secret that keeps the gateway non-bypassable at security
// level 1 (no attestation): 32 random bytes in <home>/secrets/cluster.secret,
// mode 0600, readable only by the account that runs the services. The
// gateway MACs every grant with it and each internal service checks the MAC
// (services/common/grant_mac.h), so another local user who can reach the
// loopback ports still cannot call a service directly. `cluster init`
// creates it; `cluster up` passes its path to each service at level 1.
#pragma once

#include <string>

#include "cli/session.h"
#include "common/result.h"

namespace cloister::cli {

std::string ClusterSecretPath(const ClusterPaths& p);
// Writes a fresh secret (replacing any old one), mode 0600.
Status CreateClusterSecret(const ClusterPaths& p);

}  // namespace cloister::cli
