// The gateway filter interface (docs/design.md §4; STYLE.md §7). Each filter is
// a small unit: OnRequest returns OK to continue, or an Error to reject
// with that code and reason. The pipeline runs them in order and stops at
// the first rejection; the audit filter records every outcome.
#pragma once

#include <string_view>

#include "common/result.h"
#include "gateway/request_context.h"

namespace cloister::gateway {

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;
  // Thread-safe: called concurrently for different requests.
  virtual Status OnRequest(RequestContext& ctx) = 0;
};

}  // namespace cloister::gateway
