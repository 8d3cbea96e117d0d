// How `cloister function|task` show functions, tasks and task events:
// the --json objects and the text for people; see task_format.h.
#include "cli/task_format.h"

#include <ctime>
#include <map>
#include <sstream>

#include "cli/task_format_internal.h"
#include "common/bytes.h"
#include "sdk/tasks_client.h"

namespace cloister::cli {
namespace {

using nlohmann::json;
using task_format_internal::Join;
using task_format_internal::NumberText;

std::string ShortHex(std::string_view hex) {
  return hex.size() > 16 ? std::string(hex.substr(0, 16)) + "…" : std::string(hex);
}

}  // namespace

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
