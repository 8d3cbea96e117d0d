// `cloister task create`'s `--arg NAME=VALUE` typed by the function's spec
// and `--input`/`--output` slot bindings; see task_format.h.
#include "cli/task_format.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "cli/task_format_internal.h"
#include "sdk/tasks_client.h"

namespace cloister::cli {
namespace {

using task_format_internal::Join;
using task_format_internal::NumberText;
using task_format_internal::Shown;

Error BadArg(const std::string& what) { return InvalidArgument(what, kArgsInvalid); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
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

}  // namespace

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

}  // namespace cloister::cli
