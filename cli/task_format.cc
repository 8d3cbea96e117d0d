// Spec files, typed arguments, slot bindings and the display of functions,
// tasks and events for `cloister function|task`; see task_format.h.
#include "cli/task_format.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <sstream>

#include "common/bytes.h"
#include "functions/lua/spec_json.h"
#include "sdk/tasks_client.h"

namespace cloister::cli {
namespace {

using nlohmann::json;

Error BadSpec(const std::string& what) {
  return InvalidArgument("function spec: " + what, kBadFunctionSpec);
}
Error BadArg(const std::string& what) { return InvalidArgument(what, kArgsInvalid); }

// Untrusted text shown back in an error: bounded.
std::string Shown(std::string_view s) {
  return s.size() <= 64 ? std::string(s) : std::string(s.substr(0, 64)) + "…";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A number for people: integers without a fraction, others as %g.
std::string NumberText(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15) {
    return std::to_string(static_cast<int64_t>(d));
  }
  std::ostringstream o;
  o.precision(17);
  o << d;
  return o.str();
}

tasks::ArgType ToProto(functions::ArgType t) {
  switch (t) {
    case functions::ArgType::kString: return tasks::ARG_TYPE_STRING;
    case functions::ArgType::kInt: return tasks::ARG_TYPE_INT;
    case functions::ArgType::kDouble: return tasks::ARG_TYPE_DOUBLE;
    case functions::ArgType::kBool: return tasks::ARG_TYPE_BOOL;
  }
  return tasks::ARG_TYPE_UNSPECIFIED;
}

api::ArgumentValue ToProto(const functions::ArgValue& v) {
  api::ArgumentValue out;
  std::visit(
      [&out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) out.set_string_value(x);
        else if constexpr (std::is_same_v<T, int64_t>) out.set_int_value(x);
        else if constexpr (std::is_same_v<T, double>) out.set_double_value(x);
        else out.set_bool_value(x);
      },
      v);
  return out;
}

void ToProto(const functions::SlotSpec& s, tasks::SlotSpec* out) {
  out->set_name(s.name);
  out->set_help(s.help);
  out->set_optional(s.optional);
  out->set_variadic(s.variadic);
  out->set_min_count(s.min_count);
  out->set_max_count(s.max_count);
}

// "limits": {"memory_bytes": N, …}: every field a non-negative integer.
Status ParseLimits(const json& j, tasks::LuaLimits* out) {
  if (!j.is_object()) return BadSpec("limits must be an object");
  for (const auto& [key, value] : j.items()) {
    if (!value.is_number_unsigned())  // nlohmann reads 0, 1, … as unsigned, -1 as signed
      return BadSpec("limits." + Shown(key) + " must be a non-negative integer");
    const uint64_t v = value.get<uint64_t>();
    if (key == "memory_bytes") out->set_memory_bytes(v);
    else if (key == "instructions") out->set_instructions(v);
    else if (key == "wall_time_ms") out->set_wall_time_ms(v);
    else if (key == "output_bytes") out->set_output_bytes(v);
    else if (key == "max_outputs") {
      if (v > UINT32_MAX) return BadSpec("limits.max_outputs is too large");
      out->set_max_outputs(static_cast<uint32_t>(v));
    } else {
      return BadSpec("unknown field limits." + Shown(key) +
                     " (memory_bytes, instructions, wall_time_ms, output_bytes, max_outputs)");
    }
  }
  return OkStatus();
}

const tasks::ArgSpec* FindArg(const tasks::FunctionSpec& spec, std::string_view name) {
  for (const auto& a : spec.args())
    if (a.name() == name) return &a;
  return nullptr;
}

std::string ArgList(const tasks::FunctionSpec& spec) {
  std::string out;
  for (const auto& a : spec.args())
    out += (out.empty() ? "" : ", ") + a.name() + " (" + sdk::ArgTypeName(a.type()) + ")";
  return out.empty() ? "none" : out;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

std::string ShortHex(std::string_view hex) {
  return hex.size() > 16 ? std::string(hex.substr(0, 16)) + "…" : std::string(hex);
}

}  // namespace

// ---- spec files ----

Result<SpecFile> ParseSpecFile(std::string_view text) {
  // The shared parser (the format of `cloister lua run --spec`) for names,
  // args and slots; the keys it does not know are checked here.
  CLOISTER_ASSIGN_OR_RETURN(functions::FunctionSpec fs, functions::lua::ParseFunctionSpecJson(text));
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return BadSpec("must be a JSON object");
  static const std::set<std::string> kKnown = {"name",   "description", "args",
                                               "inputs", "outputs",     "limits"};
  for (const auto& [key, value] : j.items())
    if (!kKnown.count(key))
      return BadSpec("unknown field '" + Shown(key) +
                     "' (name, description, args, inputs, outputs, limits)");
  if (!j.contains("name")) return BadSpec("name is required");
  if (j.contains("description") && !j["description"].is_string())
    return BadSpec("description must be a string");

  SpecFile out;
  out.description = fs.description;
  tasks::FunctionSpec& p = out.spec;
  p.set_name(fs.name);
  for (const auto& a : fs.args) {
    tasks::ArgSpec* pa = p.add_args();
    pa->set_name(a.name);
    pa->set_type(ToProto(a.type));
    if (a.default_value) *pa->mutable_default_value() = ToProto(*a.default_value);
    pa->set_help(a.help);
    if (a.min) pa->mutable_min()->set_value(*a.min);
    if (a.max) pa->mutable_max()->set_value(*a.max);
  }
  // The shared parser ignores a bound that is not a number: refuse it here.
  if (j.contains("args") && j["args"].is_array()) {
    for (size_t i = 0; i < j["args"].size(); ++i) {
      const json& a = j["args"][i];
      for (const char* bound : {"min", "max"})
        if (a.contains(bound) && !a[bound].is_number())
          return BadSpec("args[" + std::to_string(i) + "]." + bound + " must be a number");
    }
  }
  for (const auto& s : fs.inputs) ToProto(s, p.add_inputs());
  for (const auto& s : fs.outputs) ToProto(s, p.add_outputs());
  if (j.contains("limits")) CLOISTER_RETURN_IF_ERROR(ParseLimits(j["limits"], p.mutable_limits()));
  return out;
}

// ---- arguments ----

Result<api::ArgumentValue> ParseArgValue(const tasks::ArgSpec& arg, std::string_view text) {
  const std::string name = arg.name();
  api::ArgumentValue v;
  auto wants = [&](const char* what) {
    return BadArg("argument '" + name + "' wants " + what + ", got '" + Shown(text) + "'");
  };
  double number = 0;
  switch (arg.type()) {
    case tasks::ARG_TYPE_STRING:
      v.set_string_value(std::string(text));
      return v;
    case tasks::ARG_TYPE_BOOL: {
      const std::string t = Lower(text);
      if (t == "true" || t == "yes" || t == "on" || t == "1") v.set_bool_value(true);
      else if (t == "false" || t == "no" || t == "off" || t == "0") v.set_bool_value(false);
      else return wants("true or false");
      return v;
    }
    case tasks::ARG_TYPE_INT: {
      int64_t i = 0;
      const char* end = text.data() + text.size();
      auto [ptr, ec] = std::from_chars(text.data(), end, i);
      if (text.empty() || ec != std::errc() || ptr != end)
        return wants(ec == std::errc::result_out_of_range ? "an integer within int64"
                                                          : "an integer");
      v.set_int_value(i);
      number = static_cast<double>(i);
      break;
    }
    case tasks::ARG_TYPE_DOUBLE: {
      double d = 0;
      const char* end = text.data() + text.size();
      auto [ptr, ec] = std::from_chars(text.data(), end, d);
      if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(d))
        return wants("a finite number");
      v.set_double_value(d);
      number = d;
      break;
    }
    default:
      return BadArg("argument '" + name + "' has no type in the function's spec");
  }
  if (arg.has_min() && number < arg.min().value())
    return BadArg("argument '" + name + "' = " + std::string(text) + " is below its minimum " +
                  NumberText(arg.min().value()));
  if (arg.has_max() && number > arg.max().value())
    return BadArg("argument '" + name + "' = " + std::string(text) + " is above its maximum " +
                  NumberText(arg.max().value()));
  return v;
}

Result<sdk::Arguments> ParseTaskArgs(const tasks::FunctionSpec& spec,
                                     const std::vector<std::string>& pairs) {
  sdk::Arguments out;
  for (const auto& kv : pairs) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return BadArg("--arg wants NAME=VALUE, got '" + Shown(kv) + "'");
    const std::string name = kv.substr(0, eq);
    const tasks::ArgSpec* arg = FindArg(spec, name);
    if (arg == nullptr)
      return BadArg("function " + spec.name() + " has no argument '" + Shown(name) +
                    "'; its arguments: " + ArgList(spec));
    if (out.count(name)) return BadArg("argument '" + name + "' is given twice");
    CLOISTER_ASSIGN_OR_RETURN(api::ArgumentValue v, ParseArgValue(*arg, kv.substr(eq + 1)));
    out[name] = std::move(v);
  }
  for (const auto& a : spec.args())
    if (!a.has_default_value() && !out.count(a.name()))
      return BadArg("argument '" + a.name() + "' is required (" + sdk::ArgTypeName(a.type()) +
                    (a.help().empty() ? "" : ": " + a.help()) + "): add --arg " + a.name() +
                    "=VALUE");
  return out;
}

// ---- slots ----

Result<SlotBinding> ParseSlotBinding(std::string_view text, std::string_view flag, bool many) {
  const std::string form = many ? "SLOT=USER[,USER…]" : "SLOT=USER";
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size())
    return InvalidArgument(std::string(flag) + " wants " + form + ", got '" + Shown(text) + "'",
                           kBindingInvalid);
  SlotBinding b;
  b.slot = std::string(text.substr(0, eq));
  std::string_view users = text.substr(eq + 1);
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= users.size()) {
    const size_t comma = users.find(',', start);
    const std::string_view part =
        users.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    parts.emplace_back(part);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (!many && parts.size() > 1)
    return InvalidArgument(std::string(flag) + " " + b.slot +
                               ": an input slot has exactly one owner, got '" + Shown(users) + "'",
                           kBindingInvalid);
  for (const auto& p : parts) {
    if (p.empty())
      return InvalidArgument(std::string(flag) + " " + b.slot + ": an empty user in '" +
                                 Shown(users) + "'",
                             kBindingInvalid);
    if (std::find(b.users.begin(), b.users.end(), p) == b.users.end()) b.users.push_back(p);
  }
  return b;
}

std::string SlotPattern(const tasks::SlotSpec& s) {
  std::string out = s.variadic() ? s.name() + ".<party>" : s.name();
  if (s.optional()) out += " (optional)";
  return out;
}

Status CheckSlot(const tasks::FunctionSpec& spec, std::string_view slot, bool input) {
  const auto& slots = input ? spec.inputs() : spec.outputs();
  const size_t dot = slot.find('.');
  const std::string_view base = slot.substr(0, dot);
  for (const auto& s : slots) {
    if (s.name() != base) continue;
    if (s.variadic() && dot == std::string_view::npos)
      return InvalidArgument("slot '" + s.name() + "' of " + spec.name() +
                                 " is bound once per party: name it " + s.name() +
                                 ".<party>, e.g. " + s.name() + ".alice",
                             kSlotUnknown);
    if (!s.variadic() && dot != std::string_view::npos)
      return InvalidArgument("slot '" + s.name() + "' of " + spec.name() +
                                 " is bound once, as '" + s.name() + "', not '" + Shown(slot) + "'",
                             kSlotUnknown);
    return OkStatus();
  }
  std::vector<std::string> names;
  for (const auto& s : slots) names.push_back(SlotPattern(s));
  return InvalidArgument(std::string(input ? "input" : "output") + " slot '" + Shown(slot) +
                             "' is not one of " + spec.name() + "'s: " +
                             (names.empty() ? std::string("it has none") : Join(names, ", ")),
                         kSlotUnknown);
}

// ---- JSON ----

json ArgValueJson(const api::ArgumentValue& v) {
  switch (v.value_case()) {
    case api::ArgumentValue::kStringValue: return v.string_value();
    case api::ArgumentValue::kIntValue: return v.int_value();
    case api::ArgumentValue::kDoubleValue: return v.double_value();
    case api::ArgumentValue::kBoolValue: return v.bool_value();
    default: return nullptr;
  }
}

std::string ArgValueText(const api::ArgumentValue& v) {
  switch (v.value_case()) {
    case api::ArgumentValue::kStringValue: return json(v.string_value()).dump();
    case api::ArgumentValue::kIntValue: return std::to_string(v.int_value());
    case api::ArgumentValue::kDoubleValue: {
      std::ostringstream o;
      o.precision(17);
      o << v.double_value();
      return o.str();
    }
    case api::ArgumentValue::kBoolValue: return v.bool_value() ? "true" : "false";
    default: return "(unset)";
  }
}

namespace {

json SlotJson(const tasks::SlotSpec& s) {
  return {{"name", s.name()},         {"help", s.help()},
          {"optional", s.optional()}, {"variadic", s.variadic()},
          {"min_count", s.min_count()}, {"max_count", s.max_count()}};
}

json TaskEndJson(const tasks::Task& t) {
  if (!t.has_end() || t.end().reason().empty()) return nullptr;
  return {{"reason", t.end().reason()},
          {"message", t.end().message()},
          {"by_user_id", t.end().by_user_id()}};
}

}  // namespace

json SpecJson(const tasks::FunctionSpec& spec) {
  json args = json::array();
  for (const auto& a : spec.args()) {
    json j = {{"name", a.name()}, {"type", sdk::ArgTypeName(a.type())}, {"help", a.help()}};
    j["default"] = a.has_default_value() ? ArgValueJson(a.default_value()) : json(nullptr);
    j["required"] = !a.has_default_value();
    if (a.has_min()) j["min"] = a.min().value();
    if (a.has_max()) j["max"] = a.max().value();
    args.push_back(std::move(j));
  }
  json inputs = json::array(), outputs = json::array();
  for (const auto& s : spec.inputs()) inputs.push_back(SlotJson(s));
  for (const auto& s : spec.outputs()) outputs.push_back(SlotJson(s));
  const auto& l = spec.limits();
  return {{"name", spec.name()},
          {"args", args},
          {"inputs", inputs},
          {"outputs", outputs},
          {"limits",
           {{"memory_bytes", l.memory_bytes()},
            {"instructions", l.instructions()},
            {"wall_time_ms", l.wall_time_ms()},
            {"output_bytes", l.output_bytes()},
            {"max_outputs", l.max_outputs()}}}};
}

json FunctionJson(const tasks::FunctionVersion& f) {
  json j = {{"function_id", f.function_id()},
            {"hash", f.hash()},
            {"version", f.version()},
            {"owner_user_id", f.owner_user_id()},
            {"kind", sdk::FunctionKindName(f.kind())},
            {"name", f.spec().name()},
            {"description", f.description()},
            {"public", f.public_()},
            {"allowed_users", json(std::vector<std::string>(f.allowed_users().begin(),
                                                            f.allowed_users().end()))},
            {"disabled", f.disabled()},
            {"created_unix_ms", f.created_unix_ms()},
            {"source_size", f.source_size()},
            {"builtin_name", f.builtin_name()},
            {"spec", SpecJson(f.spec())}};
  if (!f.source().empty()) j["source"] = f.source();
  return j;
}

json TaskJson(const tasks::Task& t) {
  json args = json::object();
  for (const auto& [k, v] : t.args()) args[k] = ArgValueJson(v);
  json inputs = json::array();
  for (const auto& in : t.inputs())
    inputs.push_back({{"slot", in.slot()},
                      {"owner_user_id", in.owner_user_id()},
                      {"file_id", in.file_id()},
                      {"assigned", !in.file_id().empty()},
                      {"ciphertext_sha256", HexEncode(AsBytes(in.ciphertext_sha256()))}});
  json outputs = json::array();
  for (const auto& out : t.outputs()) {
    json files = json::array();
    for (const auto& f : out.files())
      files.push_back({{"owner_user_id", f.owner_user_id()}, {"file_id", f.file_id()}});
    outputs.push_back({{"slot", out.slot()},
                       {"owner_user_ids", json(std::vector<std::string>(
                                              out.owner_user_ids().begin(),
                                              out.owner_user_ids().end()))},
                       {"files", files}});
  }
  json approvals = json::array();
  for (const auto& a : t.approvals())
    approvals.push_back({{"user_id", a.user_id()},
                         {"digest", a.digest()},
                         {"approved_unix_ms", a.approved_unix_ms()}});
  return {{"task_id", t.task_id()},
          {"state", sdk::TaskStateName(t.state())},
          {"digest", t.digest()},
          {"digest_verified", sdk::VerifyTaskDigest(t).ok()},
          {"missing", json(std::vector<std::string>(t.missing().begin(), t.missing().end()))},
          {"version", t.version()},
          {"function_id", t.function_id()},
          {"function_hash", t.function_hash()},
          {"function_name", t.function_name()},
          {"creator_user_id", t.creator_user_id()},
          {"description", t.description()},
          {"args", args},
          {"inputs", inputs},
          {"outputs", outputs},
          {"participants",
           json(std::vector<std::string>(t.participants().begin(), t.participants().end()))},
          {"approvals", approvals},
          {"attempts", t.attempts()},
          {"created_unix_ms", t.created_unix_ms()},
          {"updated_unix_ms", t.updated_unix_ms()},
          {"end", TaskEndJson(t)}};
}

json EventJson(const tasks::TaskEvent& e) {
  return {{"seq", e.seq()},
          {"at_unix_ms", e.at_unix_ms()},
          {"actor", e.actor()},
          {"event", e.event()},
          {"from_state", sdk::TaskStateName(e.from_state())},
          {"to_state", sdk::TaskStateName(e.to_state())},
          {"version", e.version()},
          {"digest", e.digest()},
          {"detail", e.detail()}};
}

// ---- for people ----

std::string FormatUnixMs(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  std::time_t tt = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string UserLabel(std::string_view user_id, std::string_view self) {
  std::string out(user_id);
  if (!self.empty() && user_id == self) out += " (you)";
  return out;
}

std::string FormatFunction(const tasks::FunctionVersion& f,
                           const std::vector<tasks::FunctionVersion>& versions) {
  std::ostringstream o;
  o << "function:     " << f.function_id() << "  (version " << f.version() << ")\n"
    << "hash:         " << f.hash() << "\n"
    << "name:         " << f.spec().name() << " (" << sdk::FunctionKindName(f.kind())
    << (f.builtin_name().empty() || f.builtin_name() == f.spec().name()
            ? std::string()
            : " " + f.builtin_name())
    << ")\n"
    << "owner:        " << f.owner_user_id() << "\n"
    << "visibility:   " << (f.public_() ? "public" : "private");
  if (!f.public_() && f.allowed_users_size() > 0) {
    std::vector<std::string> users(f.allowed_users().begin(), f.allowed_users().end());
    o << ", also usable by " << Join(users, ", ");
  }
  o << "\n";
  if (f.disabled()) o << "disabled:     yes (no new task may use it)\n";
  o << "created:      " << FormatUnixMs(f.created_unix_ms()) << "\n";
  if (!f.description().empty()) o << "description:  " << f.description() << "\n";
  const auto& spec = f.spec();
  if (spec.args_size() == 0) o << "arguments:    none\n";
  else o << "arguments:\n";
  for (const auto& a : spec.args()) {
    o << "  " << a.name() << "  " << sdk::ArgTypeName(a.type());
    if (a.has_default_value()) o << "  default " << ArgValueText(a.default_value());
    else o << "  required";
    if (a.has_min()) o << "  min " << NumberText(a.min().value());
    if (a.has_max()) o << "  max " << NumberText(a.max().value());
    if (!a.help().empty()) o << "  — " << a.help();
    o << "\n";
  }
  for (const auto& [title, slots] : {std::pair{"inputs: ", &spec.inputs()},
                                     std::pair{"outputs:", &spec.outputs()}}) {
    o << title << "\n";
    for (const auto& s : *slots) {
      o << "  " << SlotPattern(s);
      if (s.variadic()) o << "  " << s.min_count() << ".." << s.max_count() << " parties";
      if (!s.help().empty()) o << "  — " << s.help();
      o << "\n";
    }
  }
  const auto& l = spec.limits();
  if (l.memory_bytes() || l.instructions() || l.wall_time_ms() || l.output_bytes() ||
      l.max_outputs()) {
    o << "limits:       memory " << l.memory_bytes() << " B, instructions " << l.instructions()
      << ", wall " << l.wall_time_ms() << " ms, output " << l.output_bytes() << " B, outputs "
      << l.max_outputs() << " (0: the sandbox default)\n";
  }
  if (versions.size() > 1) {
    o << "versions:\n";
    for (const auto& v : versions)
      o << "  " << v.version() << "  " << v.hash() << "  " << FormatUnixMs(v.created_unix_ms())
        << (v.disabled() ? "  disabled" : "") << "\n";
  }
  return o.str();
}

std::string EndText(const tasks::Task& t) {
  if (!t.has_end() || t.end().reason().empty()) return "";
  std::string out = sdk::TaskStateName(t.state()) + ": " + t.end().reason();
  if (!t.end().message().empty()) out += ": " + t.end().message();
  if (!t.end().by_user_id().empty()) out += " (by " + t.end().by_user_id() + ")";
  return out;
}

std::string WaitLine(const tasks::Task& t) {
  std::string end = EndText(t);
  if (!end.empty()) return end;
  std::string out = sdk::TaskStateName(t.state());
  if (t.missing_size() > 0) {
    std::vector<std::string> m(t.missing().begin(), t.missing().end());
    out += ": " + Join(m, "; ");
  }
  return out;
}

std::string FormatTask(const tasks::Task& t, std::string_view self) {
  std::ostringstream o;
  o << "task:         " << t.task_id() << "\n"
    << "state:        " << sdk::TaskStateName(t.state()) << " (version " << t.version();
  if (t.attempts() > 0) o << ", " << t.attempts() << (t.attempts() == 1 ? " attempt" : " attempts");
  o << ")\n";
  const std::string end = EndText(t);
  if (!end.empty()) o << "ended:        " << end << "\n";
  o << "function:     " << t.function_name() << "  hash " << t.function_hash() << "\n"
    << "              (function " << t.function_id() << ")\n";
  Status verified = sdk::VerifyTaskDigest(t);
  o << "digest:       " << t.digest() << "\n"
    << "              "
    << (verified.ok() ? "verified here: the task shown below hashes to this digest"
                      : "DOES NOT MATCH what is shown: " + verified.ToString())
    << "\n";
  o << "creator:      " << UserLabel(t.creator_user_id(), self) << "\n";
  o << "created:      " << FormatUnixMs(t.created_unix_ms()) << "\n";
  if (!t.description().empty()) o << "description:  " << t.description() << "\n";
  std::map<std::string, const api::ArgumentValue*> args;
  for (const auto& [k, v] : t.args()) args[k] = &v;
  if (args.empty()) o << "arguments:    none\n";
  else o << "arguments:\n";
  for (const auto& [k, v] : args) o << "  " << k << " = " << ArgValueText(*v) << "\n";
  o << "inputs:\n";
  if (t.inputs_size() == 0) o << "  (none)\n";
  for (const auto& in : t.inputs()) {
    o << "  " << in.slot() << "  owner " << UserLabel(in.owner_user_id(), self) << "  ";
    if (in.file_id().empty())
      o << "not assigned yet";
    else
      o << "file " << in.file_id() << "  sha256 "
        << ShortHex(HexEncode(AsBytes(in.ciphertext_sha256())));
    o << "\n";
  }
  o << "outputs:\n";
  for (const auto& out : t.outputs()) {
    std::vector<std::string> owners;
    for (const auto& u : out.owner_user_ids()) owners.push_back(UserLabel(u, self));
    o << "  " << out.slot() << "  owners " << Join(owners, ", ");
    for (const auto& f : out.files()) {
      if (f.owner_user_id() == self) o << "  your file " << f.file_id();
      else o << "  file " << f.file_id() << " of " << f.owner_user_id();
    }
    o << "\n";
  }
  std::vector<std::string> participants;
  for (const auto& p : t.participants()) participants.push_back(UserLabel(p, self));
  o << "participants: " << Join(participants, ", ") << "\n";
  if (t.approvals_size() == 0) o << "approvals:    none yet\n";
  else o << "approvals:\n";
  for (const auto& a : t.approvals())
    o << "  " << UserLabel(a.user_id(), self) << "  at " << FormatUnixMs(a.approved_unix_ms())
      << "\n";
  if (t.missing_size() > 0) {
    o << "missing:\n";
    for (const auto& m : t.missing()) o << "  - " << m << "\n";
  }
  return o.str();
}

}  // namespace cloister::cli
