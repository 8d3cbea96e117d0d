// Pure helpers of `cloister function` and `cloister task` (no RPC, no I/O):
// a Lua function's spec file as the tasks service takes it, `--arg k=v`
// typed by the function's spec, `--input SLOT=USER` / `--output
// SLOT=USER[,USER]` bindings, and how functions, tasks and task events are
// shown (--json objects and text for people). Defined in task_spec_file.cc,
// task_args.cc and task_display.cc; unit-tested in task_format_test.cc.
//
//   CLOISTER_ASSIGN_OR_RETURN(SpecFile s, ParseSpecFile(json_text));
//   CLOISTER_ASSIGN_OR_RETURN(sdk::Arguments a, ParseTaskArgs(fn.spec(), {"top=10"}));
//   PrintJson(TaskJson(task));   // task_id, state, digest, missing, …
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "proto/tasks.pb.h"
#include "sdk/cloister_client.h"

namespace cloister::cli {

// Reasons these helpers produce. ARGS_INVALID and SLOT_UNKNOWN are the
// service's own words for the same mistakes, caught here before any call.
inline constexpr const char* kBadFunctionSpec = "BAD_FUNCTION_SPEC";
inline constexpr const char* kArgsInvalid = "ARGS_INVALID";
inline constexpr const char* kSlotUnknown = "SLOT_UNKNOWN";
inline constexpr const char* kBindingInvalid = "SLOT_BINDING_INVALID";

// A Lua function's spec file (examples/lua/*.spec.json; the format of
// `cloister lua run --spec`, functions/lua/spec_json.h) plus an optional
// "limits" object with the fields of tasks.LuaLimits:
//   {"name": "joint_stats", "description": "…",
//    "args": [{"name": "key", "type": "string", "default": "id"}],
//    "inputs": [{"name": "left"}, {"name": "right"}], "outputs": [{"name": "summary"}],
//    "limits": {"memory_bytes": 67108864, "instructions": 100000000, "wall_time_ms": 5000}}
struct SpecFile {
  tasks::FunctionSpec spec;
  std::string description;  // "" when the file has none
};
// InvalidArgument [BAD_FUNCTION_SPEC] naming the offending field (an
// unknown top-level key too, so a typo such as "output" is not silently a
// function without outputs).
Result<SpecFile> ParseSpecFile(std::string_view json_text);

// One argument's text converted to the spec's type: int (decimal int64),
// double (finite), bool (true/false, yes/no, on/off, 1/0), string as is;
// numbers within the spec's min/max. InvalidArgument [ARGS_INVALID] naming
// the argument, the type wanted and the text given.
Result<api::ArgumentValue> ParseArgValue(const tasks::ArgSpec& arg, std::string_view text);
// Every `NAME=VALUE` of `task create --arg`, typed by `spec`. Refused with
// ARGS_INVALID naming the argument: a malformed pair, an argument the
// function does not take (listing those it does), one given twice, and a
// required argument (no default) left out.
Result<sdk::Arguments> ParseTaskArgs(const tasks::FunctionSpec& spec,
                                     const std::vector<std::string>& pairs);

// `SLOT=USER` (inputs, `many` false) or `SLOT=USER[,USER…]` (outputs).
// Users are not resolved here (a username or a user id). InvalidArgument
// [SLOT_BINDING_INVALID] naming `flag` for a malformed one.
struct SlotBinding {
  std::string slot;
  std::vector<std::string> users;  // in the order given, duplicates removed
};
Result<SlotBinding> ParseSlotBinding(std::string_view text, std::string_view flag, bool many);
// Whether `slot` can bind an input (or output) of `spec`: a plain slot by
// its name, a variadic one as `<name>.<party>`. InvalidArgument
// [SLOT_UNKNOWN] listing the slots the function has.
Status CheckSlot(const tasks::FunctionSpec& spec, std::string_view slot, bool input);
// "set.<party>" for a variadic slot, else its name; with " (optional)".
std::string SlotPattern(const tasks::SlotSpec& s);

// An argument value as JSON (string, integer, number, boolean; null unset)
// and as text ("\"id\"", "10", "0.5", "true").
nlohmann::json ArgValueJson(const api::ArgumentValue& v);
std::string ArgValueText(const api::ArgumentValue& v);

// --json objects. FunctionJson: function_id, hash, version, owner_user_id,
// kind, name, description, public, allowed_users, disabled,
// created_unix_ms, source_size, builtin_name, spec (+ source when set).
nlohmann::json SpecJson(const tasks::FunctionSpec& spec);
nlohmann::json FunctionJson(const tasks::FunctionVersion& f);
// task_id, state, digest, digest_verified (the digest recomputed here from
// what is shown: sdk::VerifyTaskDigest), missing (a list, empty when
// nothing is), version, function_id, function_hash, function_name,
// creator_user_id, description, args, inputs, outputs, participants,
// approvals, attempts, created_unix_ms, updated_unix_ms, end (null unless
// ended by a failure, cancel or rejection).
nlohmann::json TaskJson(const tasks::Task& t);
nlohmann::json EventJson(const tasks::TaskEvent& e);

// For people.
// "2024-05-01 12:00:00 UTC" (empty for 0).
std::string FormatUnixMs(int64_t unix_ms);
// The user id, with " (you)" when it is `self`.
std::string UserLabel(std::string_view user_id, std::string_view self);
// A function version, its spec and (when given) every version.
std::string FormatFunction(const tasks::FunctionVersion& f,
                           const std::vector<tasks::FunctionVersion>& versions = {});
// A task: state, function, digest (and whether it verifies), arguments,
// inputs, outputs (the caller's files), approvals, participants, what is
// missing and how it ended.
std::string FormatTask(const tasks::Task& t, std::string_view self_user_id);
// One line for `task wait`: "Queued: waiting for a worker to run it",
// "Failed: LUA_MEMORY_LIMIT: memory limit exceeded".
std::string WaitLine(const tasks::Task& t);
// "Failed: REASON: message (by u-…)" for an ended task; "" otherwise.
std::string EndText(const tasks::Task& t);

}  // namespace cloister::cli
