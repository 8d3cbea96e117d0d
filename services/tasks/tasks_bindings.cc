// cloister-tasks' binding of a task to its function: arguments typed by
// the spec, input and output slots checked against its slots, and the
// participants that follow from them; see tasks_core.h.
#include "services/tasks/tasks_core.h"

#include "services/tasks/request_checks.h"
#include "services/tasks/spec_rules.h"

namespace cloister::tasks_service {

Status TasksCore::BindArgs(const FunctionRow& fn,
                           const google::protobuf::Map<std::string, api::ArgumentValue>& args,
                           TaskRow& t) {
  std::map<std::string, functions::ArgValue> raw;
  size_t string_bytes = 0;
  for (const auto& [name, value] : args) {
    const std::string field = "args[" + name.substr(0, kMaxNameBytes) + "]";
    if (!IsName(name))
      return InvalidArgument(field + ": an argument name is 1..64 of [A-Za-z0-9_-]",
                             reason::kArgsInvalid);
    CLOISTER_ASSIGN_OR_RETURN(functions::ArgValue v, ArgFromProto(field, value));
    if (const auto* s = std::get_if<std::string>(&v)) {
      if (s->size() > kMaxArgStringBytes)
        return InvalidArgument(field + " is longer than 64 KiB", reason::kArgsInvalid);
      string_bytes += s->size();
    }
    raw.emplace(name, std::move(v));
  }
  if (string_bytes > kMaxArgsBytes)
    return InvalidArgument("args: string arguments total more than 1 MiB", reason::kArgsInvalid);
  auto typed = functions::Args::FromValues(SpecFromProto(fn.spec), raw);
  if (!typed.ok()) return InvalidArgument("args: " + typed.error().message(), reason::kArgsInvalid);
  t.args.clear();
  for (const auto& [name, v] : typed->values()) t.args.emplace(name, v);
  return OkStatus();
}

namespace {

// The slot rules of functions/runtime.cc (Runtime::CheckInputs), for the
// names a task binds: each matches a slot of the spec, every required slot
// is bound, a variadic one min_count..max_count times.
template <typename Map>
Status CheckBindings(const std::string& what, const tasks::FunctionSpec& spec,
                     const google::protobuf::RepeatedPtrField<tasks::SlotSpec>& slots,
                     const Map& bound) {
  if (bound.size() > kMaxTaskSlots)
    return InvalidArgument(what + ": at most " + std::to_string(kMaxTaskSlots) + " slots",
                           reason::kSlotsInvalid);
  const functions::FunctionSpec fs = SpecFromProto(spec);
  const auto& fslots = what == "inputs" ? fs.inputs : fs.outputs;
  std::map<std::string, int> counts;
  for (const auto& [name, unused] : bound) {
    CLOISTER_RETURN_IF_ERROR(CheckSlotName(what + "[" + name.substr(0, 130) + "]", name));
    const functions::SlotSpec* s = functions::MatchSlot(fslots, name);
    if (s == nullptr)
      return InvalidArgument(what + "[" + name + "]: function '" + spec.name() + "' has no " +
                                 (what == "inputs" ? "input" : "output") + " slot '" + name + "'",
                             reason::kSlotsInvalid);
    counts[s->name]++;
  }
  for (const auto& s : slots) {
    const int n = counts[s.name()];
    if (n == 0 && !s.optional())
      return InvalidArgument(what + ": function '" + spec.name() + "' needs slot '" + s.name() +
                                 (s.variadic() ? ".<party>'" : "'") + " bound to its owner",
                             reason::kSlotsInvalid);
    if (s.variadic() && n > 0 && (n < s.min_count() || n > s.max_count()))
      return InvalidArgument(what + ": function '" + spec.name() + "' takes " +
                                 std::to_string(s.min_count()) + ".." +
                                 std::to_string(s.max_count()) + " slots '" + s.name() +
                                 ".<party>', got " + std::to_string(n),
                             reason::kSlotsInvalid);
  }
  return OkStatus();
}

}  // namespace

Status TasksCore::BindSlots(const FunctionRow& fn,
                            const google::protobuf::Map<std::string, std::string>& in,
                            const google::protobuf::Map<std::string, tasks::SlotOwners>& out,
                            TaskRow& t) {
  CLOISTER_RETURN_IF_ERROR(CheckBindings("inputs", fn.spec, fn.spec.inputs(), in));
  CLOISTER_RETURN_IF_ERROR(CheckBindings("outputs", fn.spec, fn.spec.outputs(), out));
  std::map<std::string, InputRow, std::less<>> inputs;
  for (const auto& [slot, owner] : in) {
    CLOISTER_RETURN_IF_ERROR(CheckUserId("inputs[" + slot + "]", owner));
    InputRow row{slot, owner, "", {}};
    // Keep a file its (unchanged) owner already assigned; a new owner starts empty.
    if (auto it = t.inputs.find(slot); it != t.inputs.end() && it->second.owner == owner) row = it->second;
    inputs.emplace(slot, std::move(row));
  }
  std::map<std::string, OutputRow, std::less<>> outputs;
  for (const auto& [slot, owners] : out) {
    if (owners.user_ids_size() == 0 || static_cast<size_t>(owners.user_ids_size()) > kMaxSlotOwners)
      return InvalidArgument("outputs[" + slot + "]: 1.." + std::to_string(kMaxSlotOwners) +
                                 " owners",
                             reason::kSlotsInvalid);
    OutputRow row{slot, {}, {}};
    for (int i = 0; i < owners.user_ids_size(); ++i) {
      CLOISTER_RETURN_IF_ERROR(CheckUserId(
          "outputs[" + slot + "].user_ids[" + std::to_string(i) + "]", owners.user_ids(i)));
      row.owners.insert(owners.user_ids(i));
    }
    outputs.emplace(slot, std::move(row));
  }
  t.inputs = std::move(inputs);
  t.outputs = std::move(outputs);
  return OkStatus();
}

void TasksCore::SetParticipants(const FunctionRow& fn, TaskRow& t) const {
  t.participants.clear();
  t.participants.insert(t.creator);
  for (const auto& [slot, in] : t.inputs) t.participants.insert(in.owner);
  for (const auto& [slot, out] : t.outputs) t.participants.insert(out.owners.begin(), out.owners.end());
  // A private function's owner vouches for every use of it.
  if (!fn.is_public) t.participants.insert(fn.owner);
}

}  // namespace cloister::tasks_service
