// The tasks client's pure naming helpers: task state names and their
// parsing, function kind and argument type names, and the id shape checks;
// see tasks_client.h.
#include "sdk/tasks_client.h"

#include <algorithm>
#include <cctype>

namespace cloister::sdk {
namespace {

bool IsLowerHex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct StateWords {
  tasks::TaskState state;
  const char* name;
};
constexpr StateWords kStates[] = {
    {tasks::TASK_STATE_CREATED, "Created"},     {tasks::TASK_STATE_DATA_ASSIGNED, "DataAssigned"},
    {tasks::TASK_STATE_APPROVED, "Approved"},   {tasks::TASK_STATE_QUEUED, "Queued"},
    {tasks::TASK_STATE_RUNNING, "Running"},     {tasks::TASK_STATE_SUCCEEDED, "Succeeded"},
    {tasks::TASK_STATE_FAILED, "Failed"},       {tasks::TASK_STATE_CANCELED, "Canceled"},
    {tasks::TASK_STATE_REJECTED, "Rejected"},
};

}  // namespace

std::string TaskStateName(tasks::TaskState state) {
  for (const auto& s : kStates)
    if (s.state == state) return s.name;
  return "Unspecified";
}

Result<tasks::TaskState> ParseTaskState(std::string_view text) {
  std::string t = Lower(text);
  if (t.empty() || t == "any") return tasks::TASK_STATE_UNSPECIFIED;
  if (t.rfind("task_state_", 0) == 0) t = t.substr(11);
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  t.erase(std::remove(t.begin(), t.end(), '-'), t.end());
  std::string known;
  for (const auto& s : kStates) {
    if (Lower(s.name) == t) return s.state;
    known += (known.empty() ? "" : ", ") + std::string(s.name);
  }
  return InvalidArgument("'" + std::string(text.substr(0, 64)) + "' is not a task state (" +
                             known + ", or any)",
                         kStateFilterInvalid);
}

bool IsFinalTaskState(tasks::TaskState state) {
  return state == tasks::TASK_STATE_SUCCEEDED || state == tasks::TASK_STATE_FAILED ||
         state == tasks::TASK_STATE_CANCELED || state == tasks::TASK_STATE_REJECTED;
}

std::string FunctionKindName(tasks::FunctionKind kind) {
  switch (kind) {
    case tasks::FUNCTION_KIND_BUILTIN: return "builtin";
    case tasks::FUNCTION_KIND_LUA: return "lua";
    default: return "unspecified";
  }
}

std::string ArgTypeName(tasks::ArgType type) {
  switch (type) {
    case tasks::ARG_TYPE_STRING: return "string";
    case tasks::ARG_TYPE_INT: return "int";
    case tasks::ARG_TYPE_DOUBLE: return "double";
    case tasks::ARG_TYPE_BOOL: return "bool";
    default: return "unspecified";
  }
}

bool IsHexId(std::string_view s) { return IsLowerHex(s, 32); }
bool IsHexDigest(std::string_view s) { return IsLowerHex(s, 64); }
bool LooksLikeUserId(std::string_view s) {
  return s.size() == 34 && s.substr(0, 2) == "u-" && IsLowerHex(s.substr(2), 32);
}

}  // namespace cloister::sdk
