// A stand-in for the platform socket, for fuzz targets that need real
// level-1 enclaves (Enclave::Start) but no platform daemon: it answers the
// identity handshake (and SetConfig) with the given root and auditors, and
// refuses every other request, which a level-1 enclave started with
// skip_self_check_for_testing tolerates. Its own file because the platform
// protocol's header and the quote verifier's define the same constants.
#pragma once

#include <string>

#include "common/bytes.h"

namespace cloister::fuzz {

// Listens on `socket_path` from now until the process exits (detached
// threads, one per connection). Aborts if it cannot listen.
void StartStandInPlatform(const std::string& socket_path, ByteView attestation_root_der,
                          ByteView signer_id);

}  // namespace cloister::fuzz
