// The FileLookup of cloister-tasks in production: asks cloister-storage,
// through its internal RPC StatFileForTask (callers: tasks only), for a file
// owned by the user who assigns it, with a grant this enclave signs as
// "service:tasks".
//
//   FileLookup files = MakeStorageFileLookup(runner.PeerChannel("storage"), enclave);
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "attestation/enclave.h"
#include "services/tasks/tasks_core.h"

namespace cloister::tasks_service {

// `enclave` must outlive the lookup. Each call waits at most 10 s; storage's
// answer (NotFound [FILE_NOT_FOUND] for a file that is absent or not the
// caller's, Unavailable when storage is down) is returned as is.
FileLookup MakeStorageFileLookup(std::shared_ptr<grpc::Channel> storage,
                                 attestation::Enclave* enclave);

}  // namespace cloister::tasks_service
