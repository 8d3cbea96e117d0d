// Helpers every fuzz target shares, with no attestation dependency: seeding
// (with CLOISTER_FUZZ_SEED_DIR set, a target writes fully valid inputs it
// made itself into its corpus, so mutation starts from inputs that pass
// every check), a private scratch directory, quiet logs, and a cursor that
// splits the fuzzer's bytes into a selector and a payload.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <openssl/err.h>

#include "common/fs.h"
#include "common/logging.h"

namespace cloister::fuzz {

inline void WriteSeed(const std::string& name, std::string_view bytes) {
  const char* dir = std::getenv("CLOISTER_FUZZ_SEED_DIR");
  if (dir == nullptr) return;
  (void)WriteFileAtomic(std::string(dir) + "/" + name, bytes, 0644);
}

// Refusals are logged by the code under test; at fuzzing rates that is
// most of the run time and all of the output. (Targets that parse protos
// also call google::protobuf::SetLogHandler(nullptr): protobuf logs every
// string field that is not UTF-8.)
inline void QuietLogs() { InitLogging("fuzz", LogOptions{.level = "off"}); }

// Put first in LLVMFuzzerTestOneInput: empties OpenSSL's per-thread error
// queue when the input is done. The crypto wrappers leave a failed call's
// errors queued, each with heap-allocated text; without this libFuzzer sees
// more mallocs than frees after most inputs and runs a full leak scan for
// each (most of the run time of the crypto-heavy targets).
struct ClearCryptoErrors {
  ClearCryptoErrors() = default;
  ClearCryptoErrors(const ClearCryptoErrors&) = delete;
  ClearCryptoErrors& operator=(const ClearCryptoErrors&) = delete;
  ~ClearCryptoErrors() { ERR_clear_error(); }
};

// A directory of this process, removed at normal exit (a crash leaves it
// for the post-mortem).
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cloister-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The fuzzer's bytes as [selector byte][payload]; an empty input selects 0.
struct Input {
  Input(const uint8_t* data, size_t size)
      : selector(size > 0 ? data[0] : 0),
        payload(reinterpret_cast<const char*>(data) + (size > 0 ? 1 : 0), size > 0 ? size - 1 : 0) {}
  uint8_t selector;
  std::string_view payload;
};

// A seed for a target that reads Input: the selector byte, then the payload.
inline std::string Seed(uint8_t selector, std::string_view payload) {
  return std::string(1, static_cast<char>(selector)) + std::string(payload);
}

}  // namespace cloister::fuzz
