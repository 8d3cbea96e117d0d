// Wraps fork/ptrace/waitpid for tests: a minimal debugger process that
// attaches to a target with PTRACE_SEIZE (the target keeps running, now
// with a TracerPid), resumes it after any stop and exits when it exits.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto tracer, sys::Tracer::Attach(pid));
#pragma once

#include <sys/types.h>

#include "common/result.h"

namespace cloister::attestation::testing::sys {

class Tracer {
 public:
  static Result<Tracer> Attach(pid_t target);
  Tracer(Tracer&& o) noexcept;
  Tracer& operator=(Tracer&&) = delete;
  Tracer(const Tracer&) = delete;
  ~Tracer();  // kills the tracer (which detaches it) and reaps it

 private:
  explicit Tracer(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

}  // namespace cloister::attestation::testing::sys
