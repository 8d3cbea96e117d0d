// Measured-launch digest chain and replay; see launch_log.h.
#include "attestation/launch_log.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <string>

namespace cloister::attestation {
namespace {

// Deterministic serialization so the same event always hashes the same,
// whatever the protobuf version's default field/map ordering.
std::string SerializeDeterministic(const LaunchEvent& event) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace

crypto::Digest ExtendDigest(const crypto::Digest& prev, const LaunchEvent& event) {
  const crypto::Digest event_digest = crypto::Sha256(SerializeDeterministic(event));
  crypto::Sha256Hasher h;
  h.Update(ByteView(prev));
  h.Update(ByteView(event_digest));
  return h.Finish();
}

Status CheckLaunchEvent(const LaunchEvent& event, uint64_t expected_index) {
  auto bad = [&](const std::string& what) {
    return InvalidArgument("launch event " + std::to_string(expected_index) + ": " + what,
                           kLaunchLogMalformed);
  };
  if (event.index() != expected_index)
    return bad("index is " + std::to_string(event.index()) + " (events reordered, inserted or dropped)");
  if (event.type().empty() || event.type().size() > kMaxLaunchEventTypeSize)
    return bad("type must be 1.." + std::to_string(kMaxLaunchEventTypeSize) + " bytes");
  if (event.data_digest().size() != crypto::kSha256Size) return bad("data_digest must be 32 bytes");
  if (event.extender().size() != crypto::kSha256Size) return bad("extender must be 32 bytes");
  if (event.description().size() > kMaxLaunchEventDescriptionSize)
    return bad("description longer than " + std::to_string(kMaxLaunchEventDescriptionSize) + " bytes");
  if (event.ByteSizeLong() > kMaxLaunchEventBytes)
    return bad("serialized event larger than " + std::to_string(kMaxLaunchEventBytes) + " bytes");
  return OkStatus();
}

Result<crypto::Digest> Replay(const LaunchLog& log) {
  if (static_cast<size_t>(log.events_size()) > kMaxLaunchEvents)
    return InvalidArgument("launch log has more than " + std::to_string(kMaxLaunchEvents) + " events",
                           kLaunchLogMalformed);
  crypto::Digest d = kInitialLaunchDigest;
  for (int i = 0; i < log.events_size(); ++i) {
    CLOISTER_RETURN_IF_ERROR(CheckLaunchEvent(log.events(i), static_cast<uint64_t>(i)));
    d = ExtendDigest(d, log.events(i));
  }
  return d;
}

}  // namespace cloister::attestation
