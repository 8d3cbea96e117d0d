// The launch-log part of ONE enclave session (one platform connection):
// the events this enclave itself recorded at its start. The log a quote
// covers is the node's events (platform.start) followed by these, like the
// per-TD RTMRs of TDX: one session can fill only its own log and never
// changes what another enclave's quotes and certificates carry.
//
// Bounded (launch_log.h: kMaxSessionLaunchEvents events of at most
// kMaxLaunchEventBytes) and SEALED by the session's first quote: "at its
// start" means before the enclave first proves who it is, so a peer never
// sees a log that grew after the evidence it verified.
//
//   SessionLaunchLog session;                     // one per connection
//   service.Handle(caller, session, request);
#pragma once

#include <vector>

#include "proto/attestation.pb.h"

namespace cloister::attestation {

struct SessionLaunchLog {
  std::vector<LaunchEvent> events;  // indices continue after the node's events
  bool sealed = false;              // set by the first quote
  // The config id the enclave declared (SetConfig): at most once, before
  // the first quote; every quote of the session carries it.
  std::string config_id;
};

}  // namespace cloister::attestation
