// Caller measurement and code inspection with a file-identity hash cache;
// see measurement.h.
#include "attestation/platform/measurement.h"

#include <algorithm>
#include <set>

#include "attestation/platform/loader_env.h"
#include "attestation/platform/proc_maps.h"
#include "attestation/sys/file_hash.h"
#include "common/hardening.h"

namespace cloister::attestation {
namespace {

std::string Pid(pid_t pid) { return "pid " + std::to_string(pid); }

// Maps a failed /proc read to the measurement's reasons.
Error ProcReadError(pid_t pid, const Error& e) {
  if (e.code() == Code::kNotFound) return Aborted("process " + std::to_string(pid) + " is gone", kPeerChanged);
  if (e.code() == Code::kResourceExhausted || e.code() == Code::kInvalidArgument) return e;
  return PermissionDenied("cannot inspect " + Pid(pid) + ": " + e.message() +
                              " (the platform needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to read a hardened process)",
                          kMeasurementFailed);
}

bool IsKernelCodePage(std::string_view path) { return path == "[vdso]" || path == "[vsyscall]"; }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

crypto::Digest CodeDigest(const crypto::Digest& exe, std::span<const MappedCode> libraries) {
  crypto::Sha256Hasher h;
  h.Update(std::string_view("cloister-code-v1"));
  const uint32_t n = static_cast<uint32_t>(libraries.size() + 1);
  const uint8_t count[4] = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                            static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  h.Update(ByteView(count, 4));
  h.Update(ByteView(exe));
  for (const auto& lib : libraries) h.Update(ByteView(lib.digest));
  return h.Finish();
}

Result<crypto::Digest> Measurer::HashCached(int fd, const sys::FileId& id, const std::string& what) {
  const Key key{id.dev, id.ino, id.mtime_ns, id.ctime_ns, id.size};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      ++cache_hits_;
      return it->second;
    }
  }
  CLOISTER_ASSIGN_OR_RETURN(crypto::Digest d, sys::HashFd(fd));
  // Only cache (and only trust) a hash if the file did not change while read.
  CLOISTER_ASSIGN_OR_RETURN(sys::FileId after, sys::StatFd(fd));
  if (!(after == id)) return Aborted(what + " changed while it was measured", kPeerChanged);
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(key, d);
  return d;
}

Result<ProcessMeasurement> Measurer::Measure(pid_t pid) {
  CLOISTER_ASSIGN_OR_RETURN(uint64_t start_before, sys::ProcessStartTime(pid));
  auto exe = sys::OpenProcessExe(pid);
  if (!exe.ok()) {
    if (exe.code() == Code::kNotFound) return exe.error();
    return PermissionDenied("cannot measure " + Pid(pid) + ": " + exe.error().message() +
                                " (the platform needs CAP_SYS_PTRACE to measure a hardened process)",
                            kMeasurementFailed);
  }
  CLOISTER_ASSIGN_OR_RETURN(sys::FileId id, sys::StatFd(exe->get()));
  ProcessMeasurement out;
  CLOISTER_ASSIGN_OR_RETURN(out.measurement, HashCached(exe->get(), id, "executable of " + Pid(pid)));

  auto tracer = TracerPidOf(static_cast<int>(pid));
  if (!tracer.ok()) return Aborted("process " + std::to_string(pid) + " is gone", kPeerChanged);
  out.tracer_pid = *tracer;

  auto start_after = sys::ProcessStartTime(pid);
  if (!start_after.ok() || *start_after != start_before)
    return Aborted(Pid(pid) + " was reused during measurement", kPeerChanged);
  return out;
}

Result<CodeIdentity> Measurer::Inspect(pid_t pid, const LibraryReferencePredicate& is_reference) {
  // 1. No tracer: a debugger can change any page without it showing in maps.
  auto tracer = TracerPidOf(static_cast<int>(pid));
  if (!tracer.ok()) return ProcReadError(pid, tracer.error());
  if (*tracer != 0)
    return PermissionDenied(Pid(pid) + " is traced by pid " + std::to_string(*tracer), kMeasureTraced);

  // 2. No loader-injection environment. Read before the maps: a library
  //    such a variable loads would be refused below anyway, but the
  //    variable is the clearer reason.
  auto env = sys::ReadProcFile(pid, "environ", kMaxEnvironBytes);
  if (!env.ok()) return ProcReadError(pid, env.error());
  CLOISTER_RETURN_IF_ERROR(CheckLoaderEnvironment(*env));

  // 3. The executable.
  auto exe = sys::OpenProcessExe(pid);
  if (!exe.ok()) return ProcReadError(pid, exe.error());
  CLOISTER_ASSIGN_OR_RETURN(sys::FileId exe_id, sys::StatFd(exe->get()));
  CodeIdentity out;
  CLOISTER_ASSIGN_OR_RETURN(out.exe, HashCached(exe->get(), exe_id, "executable of " + Pid(pid)));

  // 4. Every executable mapping.
  auto text = sys::ReadProcFile(pid, "maps", kMaxProcMapsBytes);
  if (!text.ok()) return ProcReadError(pid, text.error());
  CLOISTER_ASSIGN_OR_RETURN(std::vector<MapEntry> maps, ParseProcMaps(*text));
  struct FileRef {
    uint32_t major, minor;
    uint64_t inode;
    std::string path;
    auto operator<=>(const FileRef&) const = default;
  };
  std::set<FileRef> files;
  for (const auto& m : maps) {
    if (!m.exec) continue;
    if (m.write)
      return PermissionDenied(Pid(pid) + " has a writable and executable mapping (" +
                                  m.path.substr(0, 128) + ")",
                              kMeasureWritableExec);
    if (IsKernelCodePage(m.path)) continue;
    if (m.inode == 0 || m.path.empty() || m.path[0] != '/')
      return PermissionDenied(Pid(pid) + " has executable memory backed by no file (" +
                                  (m.path.empty() ? std::string("anonymous") : m.path.substr(0, 64)) + ")",
                              kMeasureAnonExec);
    if (EndsWith(m.path, " (deleted)") || m.path.rfind("/memfd:", 0) == 0)
      return PermissionDenied(Pid(pid) + " executes a deleted file or memfd (" +
                                  m.path.substr(0, 128) + ")",
                              kMeasureDeletedExec);
    files.insert({m.dev_major, m.dev_minor, m.inode, m.path});
  }
  for (const auto& f : files) {
    if (f.major == sys::DevMajor(exe_id.dev) && f.minor == sys::DevMinor(exe_id.dev) &&
        f.inode == exe_id.ino)
      continue;  // the executable itself, measured above
    auto fd = sys::OpenMappedFile(f.path);
    if (!fd.ok())
      return PermissionDenied("cannot open " + f.path.substr(0, 128) + " mapped by " + Pid(pid) +
                                  ": " + fd.error().message(),
                              kMeasureMappingChanged);
    CLOISTER_ASSIGN_OR_RETURN(sys::FileId id, sys::StatFd(fd->get()));
    if (sys::DevMajor(id.dev) != f.major || sys::DevMinor(id.dev) != f.minor || id.ino != f.inode)
      return PermissionDenied(f.path.substr(0, 128) + " is not the file " + Pid(pid) + " has mapped",
                              kMeasureMappingChanged);
    MappedCode lib;
    lib.path = f.path;
    CLOISTER_ASSIGN_OR_RETURN(lib.digest, HashCached(fd->get(), id, f.path));
    if (!is_reference(lib.digest))
      return PermissionDenied(Pid(pid) + " maps " + f.path.substr(0, 128) + " (sha256 " +
                                  HexEncode(ByteView(lib.digest)).substr(0, 16) +
                                  "…), which is not a library reference value of the signed manifest",
                              kMeasureLibraryNotReferenced);
    out.libraries.push_back(std::move(lib));
  }
  // std::set ordered by (dev, inode, path); the documented order is by path.
  std::sort(out.libraries.begin(), out.libraries.end(),
            [](const MappedCode& a, const MappedCode& b) { return a.path < b.path; });
  out.libraries.erase(std::unique(out.libraries.begin(), out.libraries.end(),
                                  [](const MappedCode& a, const MappedCode& b) {
                                    return a.path == b.path && a.digest == b.digest;
                                  }),
                      out.libraries.end());
  out.code_digest = CodeDigest(out.exe, out.libraries);
  return out;
}

size_t Measurer::cache_hits_for_testing() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_hits_;
}

}  // namespace cloister::attestation
