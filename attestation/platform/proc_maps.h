// Parser for /proc/<pid>/maps, the kernel's list of a process's memory
// mappings: what the platform reads to learn which code a caller runs. The
// text is external input (a hostile process chooses its file names), so
// parsing is bounded and strict: a line that does not parse refuses the
// whole file rather than being skipped.
//
//   CLOISTER_ASSIGN_OR_RETURN(std::vector<MapEntry> maps, ParseProcMaps(text));
//   for (const auto& m : maps) if (m.exec) ...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloister::attestation {

inline constexpr const char* kProcMapsMalformed = "MEASURE_MAPS_MALFORMED";
// A process with more mappings than this is refused (glibc's default
// vm.max_map_count is 65530; a service has a few hundred).
inline constexpr size_t kMaxMapEntries = 65536;
inline constexpr size_t kMaxProcMapsBytes = 16u << 20;

// One line: "start-end perms offset major:minor inode [path]".
struct MapEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  bool read = false;
  bool write = false;
  bool exec = false;
  bool shared = false;  // 's' (else 'p', private)
  uint64_t offset = 0;
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  uint64_t inode = 0;
  // As the kernel prints it: an absolute path (newlines escaped as \012),
  // a pseudo name such as "[vdso]" or "[heap]", "/memfd:NAME (deleted)",
  // "PATH (deleted)", or empty for anonymous memory.
  std::string path;
};

// InvalidArgument [MEASURE_MAPS_MALFORMED] on any malformed line or beyond
// kMaxMapEntries / kMaxProcMapsBytes.
Result<std::vector<MapEntry>> ParseProcMaps(std::string_view text);

}  // namespace cloister::attestation
