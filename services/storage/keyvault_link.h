// The key shredder of cloister-storage in production: destroys a file's key
// in cloister-keyvault through its internal RPC DestroyFileKey (callers:
// storage only), with a grant this enclave signs as "service:storage".
//
//   KeyShredder shred = MakeKeyVaultShredder(runner.PeerChannel("keyvault"), enclave);
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "attestation/enclave.h"
#include "services/storage/storage_core.h"

namespace cloister::storage_service {

// `enclave` must outlive the shredder. Each call waits at most 10 s; the
// keyvault's error (e.g. Unavailable) is returned as is, so a deletion
// stops before anything is removed.
KeyShredder MakeKeyVaultShredder(std::shared_ptr<grpc::Channel> keyvault,
                                 attestation::Enclave* enclave);

}  // namespace cloister::storage_service
