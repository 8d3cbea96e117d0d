// Asks a service binary for the configuration it would run with
// (`cloister-<name> ... --print-config`), so that what the auditors sign
// into the manifest is exactly what the service's own code computes from
// the same command line (attestation/enclave_config.h).
//
//   CLOISTER_ASSIGN_OR_RETURN(ServiceConfigText c, AskServiceConfig(argv, p.run));
//   ref.set_config_id(c.config_id.data(), c.config_id.size()); ref.set_text(c.text);
#pragma once

#include <string>
#include <vector>

#include "common/crypto/hash.h"

namespace cloister::cli {

struct ServiceConfigText {
  crypto::Digest config_id{};
  std::string text;  // canonical "key=value\n" lines
};

// Runs argv + "--print-config" (at most 30 s), scratch files in
// `scratch_dir`; checks that the printed id is the digest of the printed
// text. FailedPrecondition naming the binary and its stderr on failure.
Result<ServiceConfigText> AskServiceConfig(std::vector<std::string> argv,
                                           const std::string& scratch_dir);

}  // namespace cloister::cli
