// The client-side task digest of docs/tasks.md ("Encodings"): what a
// participant approves, recomputed from the task as shown and checked
// against the digest the service shows; see tasks_client.h.
#include "sdk/tasks_client.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "common/bytes.h"
#include "common/crypto/hash.h"

namespace cloister::sdk {
namespace {

constexpr std::string_view kTaskDigestTag = "cloister.task.v1";

// The encoding primitives of docs/tasks.md: big-endian fixed width and
// u32-length-prefixed strings (services/tasks/canonical.cc is the other half).
class Encoder {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<char>((v >> s) & 0xff));
  }
  void U64(uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out_.push_back(static_cast<char>((v >> s) & 0xff));
  }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

}  // namespace

// task = Str("cloister.task.v1") ‖ Str(function_hash)
//        ‖ U32(#args) ‖ per arg, by name: Str(name) ‖ Value
//        ‖ U32(#inputs) ‖ per input, by slot: Str(slot) ‖ Str(owner) ‖ U8(assigned)
//                                              [‖ Str(file_id) ‖ Str(32-byte sha256)]
//        ‖ U32(#outputs) ‖ per output, by slot: Str(slot) ‖ U32(#owners) ‖ Str(owner)… (sorted)
Result<std::string> ComputeTaskDigest(const tasks::Task& t) {
  Encoder w;
  w.Str(kTaskDigestTag);
  w.Str(t.function_hash());
  // A proto map has no order: sort by name (bytewise, as std::map does).
  std::vector<std::pair<std::string, const api::ArgumentValue*>> args;
  for (const auto& [k, v] : t.args()) args.emplace_back(k, &v);
  std::sort(args.begin(), args.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  w.U32(static_cast<uint32_t>(args.size()));
  for (const auto& [name, v] : args) {
    w.Str(name);
    switch (v->value_case()) {
      case api::ArgumentValue::kStringValue:
        w.U8(1);
        w.Str(v->string_value());
        break;
      case api::ArgumentValue::kIntValue:
        w.U8(2);
        w.U64(static_cast<uint64_t>(v->int_value()));
        break;
      case api::ArgumentValue::kDoubleValue: {
        double d = v->double_value();
        if (!std::isfinite(d))
          return InvalidArgument("argument '" + name + "' is not a finite number");
        if (d == 0) d = 0;  // -0 is written as +0
        w.U8(3);
        w.U64(std::bit_cast<uint64_t>(d));
        break;
      }
      case api::ArgumentValue::kBoolValue:
        w.U8(4);
        w.U8(v->bool_value() ? 1 : 0);
        break;
      default:
        return InvalidArgument("argument '" + name + "' has no value");
    }
  }
  std::vector<const tasks::TaskInput*> inputs;
  for (const auto& in : t.inputs()) inputs.push_back(&in);
  std::sort(inputs.begin(), inputs.end(),
            [](const auto* a, const auto* b) { return a->slot() < b->slot(); });
  w.U32(static_cast<uint32_t>(inputs.size()));
  for (const auto* in : inputs) {
    w.Str(in->slot());
    w.Str(in->owner_user_id());
    const bool assigned = !in->file_id().empty();
    w.U8(assigned ? 1 : 0);
    if (assigned) {
      w.Str(in->file_id());
      w.Str(in->ciphertext_sha256());
    }
  }
  std::vector<const tasks::TaskOutput*> outputs;
  for (const auto& out : t.outputs()) outputs.push_back(&out);
  std::sort(outputs.begin(), outputs.end(),
            [](const auto* a, const auto* b) { return a->slot() < b->slot(); });
  w.U32(static_cast<uint32_t>(outputs.size()));
  for (const auto* out : outputs) {
    w.Str(out->slot());
    std::vector<std::string> owners(out->owner_user_ids().begin(), out->owner_user_ids().end());
    std::sort(owners.begin(), owners.end());
    w.U32(static_cast<uint32_t>(owners.size()));
    for (const auto& o : owners) w.Str(o);
  }
  const crypto::Digest d = crypto::Sha256(std::string_view(w.bytes()));
  return HexEncode(ByteView(d.data(), d.size()));
}

Status VerifyTaskDigest(const tasks::Task& t) {
  CLOISTER_ASSIGN_OR_RETURN(std::string mine, ComputeTaskDigest(t));
  if (mine != t.digest())
    return DataLoss("task " + t.task_id() + ": the service shows digest " +
                        t.digest().substr(0, 64) + " but the task as shown hashes to " + mine +
                        "; refusing to approve what is not shown",
                    kTaskDigestMismatch);
  return OkStatus();
}

}  // namespace cloister::sdk
