// The canonical encodings of a function version and of a task; see
// canonical.h. Changing any byte here changes every hash and digest: a new
// encoding gets a new version tag ("…v2"), never an edit of v1.
#include "services/tasks/canonical.h"

#include <algorithm>
#include <bit>
#include <vector>

#include "common/crypto/hash.h"

namespace cloister::tasks_service {
namespace {

constexpr std::string_view kFunctionTag = "cloister.function.v1";
constexpr std::string_view kTaskTag = "cloister.task.v1";

std::string HexDigest(const std::string& bytes) {
  const crypto::Digest d = crypto::Sha256(std::string_view(bytes));
  return HexEncode(ByteView(d.data(), d.size()));
}

uint64_t DoubleBits(double d) {
  if (d == 0) d = 0;  // -0.0 and +0.0 are the same argument
  return std::bit_cast<uint64_t>(d);
}

void Slots(CanonicalWriter& w, const google::protobuf::RepeatedPtrField<tasks::SlotSpec>& slots) {
  std::vector<const tasks::SlotSpec*> sorted;
  for (const auto& s : slots) sorted.push_back(&s);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->name() < b->name(); });
  w.U32(static_cast<uint32_t>(sorted.size()));
  for (const auto* s : sorted) {
    w.Str(s->name());
    w.Str(s->help());
    w.U8(s->optional() ? 1 : 0);
    w.U8(s->variadic() ? 1 : 0);
    w.U32(static_cast<uint32_t>(s->min_count()));
    w.U32(static_cast<uint32_t>(s->max_count()));
  }
}

}  // namespace

void CanonicalWriter::U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }

void CanonicalWriter::U32(uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<char>((v >> shift) & 0xff));
}

void CanonicalWriter::U64(uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<char>((v >> shift) & 0xff));
}

void CanonicalWriter::Str(std::string_view s) {
  U32(static_cast<uint32_t>(s.size()));
  out_.append(s);
}

uint8_t ValueTag(const functions::ArgValue& v) {
  return static_cast<uint8_t>(v.index() + 1);  // string, int, double, bool
}

void CanonicalWriter::Value(const functions::ArgValue& v) {
  U8(ValueTag(v));
  if (const auto* s = std::get_if<std::string>(&v)) {
    Str(*s);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    U64(static_cast<uint64_t>(*i));
  } else if (const auto* d = std::get_if<double>(&v)) {
    U64(DoubleBits(*d));
  } else {
    U8(std::get<bool>(v) ? 1 : 0);
  }
}

// spec = Str(name)
//        ‖ U32(#args) ‖ per arg, by name: Str(name) ‖ U8(type) ‖ U8(has default) [‖ Value]
//                                         ‖ U8(has min) [‖ U64(bits)] ‖ U8(has max) [‖ U64(bits)]
//                                         ‖ Str(help)
//        ‖ inputs ‖ outputs: U32(#slots) ‖ per slot, by name: Str(name) ‖ Str(help)
//                             ‖ U8(optional) ‖ U8(variadic) ‖ U32(min_count) ‖ U32(max_count)
//        ‖ U64(memory_bytes) ‖ U64(instructions) ‖ U64(wall_time_ms) ‖ U64(output_bytes)
//        ‖ U32(max_outputs)
std::string FunctionHash(FunctionKind kind, std::string_view source,
                         const tasks::FunctionSpec& spec) {
  CanonicalWriter w;
  w.Str(kFunctionTag);
  w.U8(static_cast<uint8_t>(kind));
  w.Str(source);
  w.Str(spec.name());
  std::vector<const tasks::ArgSpec*> args;
  for (const auto& a : spec.args()) args.push_back(&a);
  std::sort(args.begin(), args.end(),
            [](const auto* a, const auto* b) { return a->name() < b->name(); });
  w.U32(static_cast<uint32_t>(args.size()));
  for (const auto* a : args) {
    w.Str(a->name());
    w.U8(static_cast<uint8_t>(a->type()));
    const auto& d = a->default_value();
    const bool has_default = d.value_case() != api::ArgumentValue::VALUE_NOT_SET;
    w.U8(has_default ? 1 : 0);
    if (has_default) {
      switch (d.value_case()) {
        case api::ArgumentValue::kStringValue: w.Value(d.string_value()); break;
        case api::ArgumentValue::kIntValue: w.Value(int64_t{d.int_value()}); break;
        case api::ArgumentValue::kDoubleValue: w.Value(d.double_value()); break;
        default: w.Value(d.bool_value()); break;
      }
    }
    w.U8(a->has_min() ? 1 : 0);
    if (a->has_min()) w.U64(DoubleBits(a->min().value()));
    w.U8(a->has_max() ? 1 : 0);
    if (a->has_max()) w.U64(DoubleBits(a->max().value()));
    w.Str(a->help());
  }
  Slots(w, spec.inputs());
  Slots(w, spec.outputs());
  const auto& l = spec.limits();
  w.U64(l.memory_bytes());
  w.U64(l.instructions());
  w.U64(l.wall_time_ms());
  w.U64(l.output_bytes());
  w.U32(l.max_outputs());
  return HexDigest(w.bytes());
}

// task = Str("cloister.task.v1") ‖ Str(function_hash)
//        ‖ U32(#args) ‖ per arg, by name: Str(name) ‖ Value
//        ‖ U32(#inputs) ‖ per input, by slot: Str(slot) ‖ Str(owner) ‖ U8(assigned)
//                                              [‖ Str(file_id) ‖ Str(32-byte sha256)]
//        ‖ U32(#outputs) ‖ per output, by slot: Str(slot) ‖ U32(#owners) ‖ Str(owner)… (sorted)
std::string TaskDigest(const TaskRow& t) {
  CanonicalWriter w;
  w.Str(kTaskTag);
  w.Str(t.function_hash);
  w.U32(static_cast<uint32_t>(t.args.size()));
  for (const auto& [name, v] : t.args) {  // std::map: sorted by name
    w.Str(name);
    w.Value(v);
  }
  w.U32(static_cast<uint32_t>(t.inputs.size()));
  for (const auto& [slot, in] : t.inputs) {
    w.Str(slot);
    w.Str(in.owner);
    const bool assigned = !in.file_id.empty();
    w.U8(assigned ? 1 : 0);
    if (assigned) {
      w.Str(in.file_id);
      w.Str(AsChars(in.sha256));
    }
  }
  w.U32(static_cast<uint32_t>(t.outputs.size()));
  for (const auto& [slot, out] : t.outputs) {
    w.Str(slot);
    w.U32(static_cast<uint32_t>(out.owners.size()));
    for (const auto& o : out.owners) w.Str(o);  // std::set: sorted
  }
  return HexDigest(w.bytes());
}

}  // namespace cloister::tasks_service
