// The platform-socket stand-in of the fuzz targets; see stand_in_platform.h.
#include "fuzz/stand_in_platform.h"

#include <cstdlib>
#include <memory>
#include <thread>

#include "attestation/platform/protocol.h"
#include "attestation/platform/sys/unix_socket.h"
#include "common/crypto/hash.h"

namespace cloister::fuzz {
namespace {

namespace as = attestation::sys;

void Serve(std::shared_ptr<as::UniqueFd> fd, const attestation::IdentityResponse& id) {
  for (;;) {
    auto frame = attestation::ReadFrame(fd->get(), -1, 5000);
    if (!frame.ok()) return;
    attestation::PlatformRequest req;
    attestation::PlatformResponse resp;
    if (req.ParseFromArray(frame->data(), static_cast<int>(frame->size())) &&
        (req.has_identity() || req.has_set_config())) {
      *resp.mutable_identity() = id;
    } else {
      resp.mutable_error()->set_code(static_cast<int>(Code::kFailedPrecondition));
      resp.mutable_error()->set_reason("FUZZ_STAND_IN_PLATFORM");
      resp.mutable_error()->set_message("the fuzz stand-in platform answers identity only");
    }
    if (!attestation::WriteFrame(fd->get(), AsBytes(resp.SerializeAsString())).ok()) return;
  }
}

}  // namespace

void StartStandInPlatform(const std::string& socket_path, ByteView attestation_root_der,
                          ByteView signer_id) {
  attestation::IdentityResponse id;
  const crypto::Digest measurement = crypto::Sha256(AsBytes(std::string_view("fuzz")));
  id.set_measurement(measurement.data(), measurement.size());
  id.set_signer(signer_id.data(), signer_id.size());
  id.set_security_level(1);
  id.set_attestation_root_der(attestation_root_der.data(), attestation_root_der.size());
  auto listen = as::ListenUnix(socket_path, 16, 0600);
  auto wake = as::WakePipe::Create();
  if (!listen.ok() || !wake.ok()) std::abort();
  // Shared with the detached threads, which block on their sockets until
  // the process exits.
  auto lfd = std::make_shared<as::UniqueFd>(*std::move(listen));
  auto wp = std::make_shared<as::WakePipe>(*std::move(wake));
  std::thread([lfd, wp, id] {
    for (;;) {
      auto conn = as::AcceptUnix(lfd->get(), wp->read_fd(), -1);
      if (!conn.ok() || !conn->valid()) return;
      std::thread(Serve, std::make_shared<as::UniqueFd>(*std::move(conn)), id).detach();
    }
  }).detach();
}

}  // namespace cloister::fuzz
