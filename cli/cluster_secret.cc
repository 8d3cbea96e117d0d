// The level-1 cluster secret; see cluster_secret.h.
#include "cli/cluster_secret.h"

#include "attestation/enclave.h"
#include "common/fs.h"
#include "common/secret.h"

namespace cloister::cli {

std::string ClusterSecretPath(const ClusterPaths& p) { return p.secrets + "/cluster.secret"; }

Status CreateClusterSecret(const ClusterPaths& p) {
  SecretBytes secret = SecretBytes::Random(attestation::kClusterSecretBytes);
  return WriteFileAtomic(ClusterSecretPath(p), secret.view(), 0600);
}

}  // namespace cloister::cli
