// Checking, normalizing and converting function specs; see spec_rules.h.
#include "services/tasks/spec_rules.h"

#include <cmath>
#include <set>

#include "services/tasks/request_checks.h"
#include "services/tasks/tasks_reasons.h"

namespace cloister::tasks_service {
namespace {

Error Bad(const std::string& field, const std::string& what) {
  return InvalidArgument(field + ": " + what, reason::kSpecInvalid);
}

functions::ArgType TypeFromProto(tasks::ArgType t) {
  switch (t) {
    case tasks::ARG_TYPE_INT: return functions::ArgType::kInt;
    case tasks::ARG_TYPE_DOUBLE: return functions::ArgType::kDouble;
    case tasks::ARG_TYPE_BOOL: return functions::ArgType::kBool;
    default: return functions::ArgType::kString;
  }
}

tasks::ArgType TypeToProto(functions::ArgType t) {
  switch (t) {
    case functions::ArgType::kInt: return tasks::ARG_TYPE_INT;
    case functions::ArgType::kDouble: return tasks::ARG_TYPE_DOUBLE;
    case functions::ArgType::kBool: return tasks::ARG_TYPE_BOOL;
    case functions::ArgType::kString: break;
  }
  return tasks::ARG_TYPE_STRING;
}

bool DefaultMatches(tasks::ArgType t, const api::ArgumentValue& v) {
  switch (v.value_case()) {
    case api::ArgumentValue::kStringValue: return t == tasks::ARG_TYPE_STRING;
    case api::ArgumentValue::kIntValue:
      return t == tasks::ARG_TYPE_INT || t == tasks::ARG_TYPE_DOUBLE;
    case api::ArgumentValue::kDoubleValue:
      return t == tasks::ARG_TYPE_DOUBLE && std::isfinite(v.double_value());
    case api::ArgumentValue::kBoolValue: return t == tasks::ARG_TYPE_BOOL;
    case api::ArgumentValue::VALUE_NOT_SET: break;
  }
  return false;
}

void NormalizeSlot(tasks::SlotSpec& s) {
  if (!s.variadic()) {
    s.set_min_count(s.optional() ? 0 : 1);
    s.set_max_count(1);
  } else if (s.max_count() == 0) {
    s.set_max_count(std::max(kDefaultVariadicMax, s.min_count()));
  }
}

Status CheckSlots(const std::string& list, google::protobuf::RepeatedPtrField<tasks::SlotSpec>* slots) {
  if (slots->size() > kMaxSpecEntries)
    return Bad("spec." + list, "at most " + std::to_string(kMaxSpecEntries) + " slots");
  std::set<std::string> names;
  for (int i = 0; i < slots->size(); ++i) {
    tasks::SlotSpec& s = *slots->Mutable(i);
    const std::string f = "spec." + list + "[" + std::to_string(i) + "]";
    if (!IsName(s.name())) return Bad(f + ".name", "1..64 of [A-Za-z0-9_-]");
    if (!names.insert(s.name()).second) return Bad(f + ".name", "'" + s.name() + "' is listed twice");
    if (s.help().size() > kMaxHelpBytes) return Bad(f + ".help", "at most 1 KiB");
    if (!s.variadic() && (s.min_count() != 0 || s.max_count() != 0) &&
        !(s.min_count() <= 1 && s.max_count() == 1))
      return Bad(f, "min_count/max_count apply to variadic slots only");
    NormalizeSlot(s);
    if (s.min_count() < 0 || s.max_count() < s.min_count() || s.max_count() > kMaxVariadicCount)
      return Bad(f, "needs 0 <= min_count <= max_count <= " + std::to_string(kMaxVariadicCount));
  }
  return OkStatus();
}

void SlotsToProto(const std::vector<functions::SlotSpec>& in,
                  google::protobuf::RepeatedPtrField<tasks::SlotSpec>* out) {
  for (const auto& s : in) {
    tasks::SlotSpec* p = out->Add();
    p->set_name(s.name);
    p->set_help(s.help);
    p->set_optional(s.optional);
    p->set_variadic(s.variadic);
    p->set_min_count(s.min_count);
    p->set_max_count(s.max_count);
    NormalizeSlot(*p);
  }
}

std::vector<functions::SlotSpec> SlotsFromProto(
    const google::protobuf::RepeatedPtrField<tasks::SlotSpec>& in) {
  std::vector<functions::SlotSpec> out;
  for (const auto& p : in)
    out.push_back({p.name(), p.help(), p.optional(), p.variadic(), p.min_count(), p.max_count()});
  return out;
}

}  // namespace

Result<tasks::FunctionSpec> NormalizeLuaSpec(const tasks::FunctionSpec& in) {
  tasks::FunctionSpec spec = in;
  if (!IsName(spec.name())) return Bad("spec.name", "1..64 of [A-Za-z0-9_-]");
  if (spec.args_size() > kMaxSpecEntries)
    return Bad("spec.args", "at most " + std::to_string(kMaxSpecEntries) + " arguments");
  std::set<std::string> names;
  for (int i = 0; i < spec.args_size(); ++i) {
    tasks::ArgSpec& a = *spec.mutable_args(i);
    const std::string f = "spec.args[" + std::to_string(i) + "]";
    if (!IsName(a.name())) return Bad(f + ".name", "1..64 of [A-Za-z0-9_-]");
    if (!names.insert(a.name()).second) return Bad(f + ".name", "'" + a.name() + "' is listed twice");
    if (a.type() < tasks::ARG_TYPE_STRING || a.type() > tasks::ARG_TYPE_BOOL)
      return Bad(f + ".type", "must be STRING, INT, DOUBLE or BOOL");
    if (a.has_default_value()) {
      if (!DefaultMatches(a.type(), a.default_value()))
        return Bad(f + ".default_value", "must be a (finite) value of the argument's type");
      if (a.type() == tasks::ARG_TYPE_DOUBLE &&
          a.default_value().value_case() == api::ArgumentValue::kIntValue) {
        const double d = static_cast<double>(a.default_value().int_value());
        a.mutable_default_value()->set_double_value(d);  // one encoding per default
      }
    }
    if (a.help().size() > kMaxHelpBytes) return Bad(f + ".help", "at most 1 KiB");
    const bool numeric = a.type() == tasks::ARG_TYPE_INT || a.type() == tasks::ARG_TYPE_DOUBLE;
    if ((a.has_min() || a.has_max()) && !numeric)
      return Bad(f, "min/max apply to INT and DOUBLE arguments only");
    if ((a.has_min() && !std::isfinite(a.min().value())) || (a.has_max() && !std::isfinite(a.max().value())))
      return Bad(f, "min/max must be finite");
    if (a.has_min() && a.has_max() && a.min().value() > a.max().value()) return Bad(f, "min is above max");
  }
  CLOISTER_RETURN_IF_ERROR(CheckSlots("inputs", spec.mutable_inputs()));
  CLOISTER_RETURN_IF_ERROR(CheckSlots("outputs", spec.mutable_outputs()));
  if (spec.outputs_size() == 0) return Bad("spec.outputs", "a task function needs an output slot");
  return spec;
}

tasks::FunctionSpec SpecToProto(const functions::FunctionSpec& s) {
  tasks::FunctionSpec p;
  p.set_name(s.name);
  for (const auto& a : s.args) {
    tasks::ArgSpec* pa = p.add_args();
    pa->set_name(a.name);
    pa->set_type(TypeToProto(a.type));
    pa->set_help(a.help);
    if (a.default_value) *pa->mutable_default_value() = ArgToProto(*a.default_value);
    if (a.min) pa->mutable_min()->set_value(*a.min);
    if (a.max) pa->mutable_max()->set_value(*a.max);
  }
  SlotsToProto(s.inputs, p.mutable_inputs());
  SlotsToProto(s.outputs, p.mutable_outputs());
  return p;
}

functions::FunctionSpec SpecFromProto(const tasks::FunctionSpec& p) {
  functions::FunctionSpec s;
  s.name = p.name();
  for (const auto& pa : p.args()) {
    functions::ArgSpec a;
    a.name = pa.name();
    a.type = TypeFromProto(pa.type());
    a.help = pa.help();
    if (pa.has_default_value()) {
      auto v = ArgFromProto("default", pa.default_value());
      if (v.ok()) a.default_value = *std::move(v);
    }
    if (pa.has_min()) a.min = pa.min().value();
    if (pa.has_max()) a.max = pa.max().value();
    s.args.push_back(std::move(a));
  }
  s.inputs = SlotsFromProto(p.inputs());
  s.outputs = SlotsFromProto(p.outputs());
  return s;
}

Result<functions::ArgValue> ArgFromProto(std::string_view field, const api::ArgumentValue& v) {
  switch (v.value_case()) {
    case api::ArgumentValue::kStringValue: return functions::ArgValue(v.string_value());
    case api::ArgumentValue::kIntValue: return functions::ArgValue(int64_t{v.int_value()});
    case api::ArgumentValue::kDoubleValue:
      if (!std::isfinite(v.double_value()))
        return InvalidArgument(std::string(field) + " must be a finite number", reason::kArgsInvalid);
      return functions::ArgValue(v.double_value());
    case api::ArgumentValue::kBoolValue: return functions::ArgValue(v.bool_value());
    case api::ArgumentValue::VALUE_NOT_SET: break;
  }
  return InvalidArgument(std::string(field) + " has no value", reason::kArgsInvalid);
}

api::ArgumentValue ArgToProto(const functions::ArgValue& v) {
  api::ArgumentValue p;
  if (const auto* s = std::get_if<std::string>(&v)) p.set_string_value(*s);
  else if (const auto* i = std::get_if<int64_t>(&v)) p.set_int_value(*i);
  else if (const auto* d = std::get_if<double>(&v)) p.set_double_value(*d);
  else p.set_bool_value(std::get<bool>(v));
  return p;
}

}  // namespace cloister::tasks_service
