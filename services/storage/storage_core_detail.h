// Helpers StorageCore's source files share (storage_core.cc: sessions,
// access and files; storage_collect.cc: deletion and collection). Not for
// use outside services/storage.
#pragma once

#include "common/result.h"
#include "services/storage/storage_reasons.h"

namespace cloister::storage_service::detail {

inline Error FileNotFound() {
  // The same answer whether the file is absent or merely not the caller's,
  // so other users' file ids cannot be probed.
  return NotFound("no such file (or no access to it)", reason::kFileNotFound);
}

}  // namespace cloister::storage_service::detail
