// Caller measurement with pid-reuse check and a file-identity cache; see
// measurement.h.
#include "attestation/platform/measurement.h"

#include "common/hardening.h"

namespace cloister::attestation {

Result<ProcessMeasurement> Measurer::Measure(pid_t pid) {
  CLOISTER_ASSIGN_OR_RETURN(uint64_t start_before, sys::ProcessStartTime(pid));
  auto exe = sys::OpenProcessExe(pid);
  if (!exe.ok()) {
    if (exe.code() == Code::kNotFound) return exe.error();
    return PermissionDenied("cannot measure pid " + std::to_string(pid) + ": " +
                                exe.error().message() +
                                " (open the platform session before dropping dumpability)",
                            kMeasurementFailed);
  }
  CLOISTER_ASSIGN_OR_RETURN(sys::FileId id, sys::StatFd(exe->get()));
  const Key key{id.dev, id.ino, id.mtime_ns, id.ctime_ns, id.size};

  ProcessMeasurement out;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out.measurement = it->second;
      cached = true;
      ++cache_hits_;
    }
  }
  if (!cached) {
    crypto::Sha256Hasher hasher;
    CLOISTER_RETURN_IF_ERROR(sys::ReadWholeFd(exe->get(), kMaxExecutableBytes,
                                              [&](ByteView chunk) { hasher.Update(chunk); }));
    out.measurement = hasher.Finish();
    // Only cache if the file did not change while we read it.
    CLOISTER_ASSIGN_OR_RETURN(sys::FileId after, sys::StatFd(exe->get()));
    if (after == id) {
      std::lock_guard<std::mutex> lock(mu_);
      if (cache_.size() >= kMaxCacheEntries) cache_.clear();
      cache_.emplace(key, out.measurement);
    } else {
      return Aborted("executable of pid " + std::to_string(pid) + " changed while measured",
                     kPeerChanged);
    }
  }

  auto tracer = TracerPidOf(static_cast<int>(pid));
  if (!tracer.ok()) return Aborted("process " + std::to_string(pid) + " is gone", kPeerChanged);
  out.tracer_pid = *tracer;

  auto start_after = sys::ProcessStartTime(pid);
  if (!start_after.ok() || *start_after != start_before)
    return Aborted("pid " + std::to_string(pid) + " was reused during measurement", kPeerChanged);
  return out;
}

size_t Measurer::cache_hits_for_test() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_hits_;
}

}  // namespace cloister::attestation
