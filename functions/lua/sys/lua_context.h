// Wraps the Lua 5.4 C API: the per-invocation accounting context shared by
// the sandbox's C functions (allocator, hook, wrapped libraries, bindings).
// Internal to functions/lua/sys; nothing outside sees lua_State.
//
// Errors: liblua5.4-c++ is linked (Lua compiled as C++), so lua_error throws
// a C++ exception instead of longjmp; RAII objects in lua_CFunctions are
// destroyed correctly when an error unwinds them. C++ exceptions must still
// not escape a lua_CFunction (Lua would turn them into a broken error status),
// so bindings catch std::exception and convert it to a Lua error.
#pragma once

#include <lua.hpp>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "functions/builtin/csv.h"
#include "functions/lua/sandbox_options.h"
#include "functions/runtime.h"

namespace cloister::functions::lua::sys {

// Why the invocation must end. Once set it never goes back to kNone: the
// hook then fires on every instruction and raises again, so pcall cannot
// swallow a limit.
enum class Fatal { kNone, kMemory, kInstructions, kTime, kOutput, kCallDepth, kClosing };

struct Context {
  lua_State* main = nullptr;
  // Allocator accounting.
  uint64_t mem_used = 0;
  uint64_t mem_peak = 0;
  uint64_t mem_limit = 0;
  // A growth was refused; if the very next growth is not Lua's retry of the
  // same size after its emergency GC, the refusal becomes fatal.
  bool refused_pending = false;
  size_t refused_size = 0;
  // Instruction accounting: hook ticks * interval + charged C work.
  uint64_t instructions = 0;
  uint64_t instr_limit = 0;
  int hook_interval = 1000;
  uint64_t charge_pending = 0;  // charged work not yet checked
  int64_t start_ns = 0;
  int64_t deadline_ns = 0;
  int max_depth = 0;
  Fatal fatal = Fatal::kNone;
  // Host side.
  Runtime* rt = nullptr;
  const SandboxOptions* opts = nullptr;
  std::string* log = nullptr;
  bool log_truncated = false;
  uint64_t output_bytes = 0;
  std::set<std::string, std::less<>> output_names;
  // CSV iterators live here (not in Lua userdata) so no __gc is needed.
  std::vector<std::unique_ptr<builtin::CsvReader>> csv_readers;
};

inline Context* Ctx(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<Context*>(ud);
}

int64_t MonotonicNs();
const char* FatalMessage(Fatal f);

// Sets `f` (if none yet), makes the hook fire on every instruction, raises.
[[noreturn]] void RaiseFatal(lua_State* L, Fatal f);
// Raises if a limit has already fired; call at every C entry point.
void CheckAlive(lua_State* L);
// Charges `units` of C work to the instruction budget; checks limits and the
// clock every few thousand units (and raises when exceeded).
void Charge(lua_State* L, uint64_t units);

// Bytes the allocator would still grant. With `collect`, first runs a full
// GC so garbage does not count (call only where a GC step is allowed).
uint64_t MemoryLeft(lua_State* L, bool collect);

// Library installers (each leaves the stack balanced).
// Replaces find/match/gmatch/gsub/rep with budgeted versions, removes dump,
// wraps linear-time string/utf8 functions with per-byte charging.
void InstallStringLib(lua_State* L);
// Replaces table.insert/remove/move/concat/unpack/sort with charged versions.
void InstallTableLib(lua_State* L);
// Pushes the `cloister` table (read-only proxy).
void PushCloisterApi(lua_State* L);
// Pushes the `cloister.json` table.
void PushJsonLib(lua_State* L);
// Pushes a read-only proxy of the table at `idx`.
void PushReadOnlyProxy(lua_State* L, int idx, const char* name);

// Error as text without running any metamethod (__tostring is user code).
std::string SafeErrorText(lua_State* L, int idx);

}  // namespace cloister::functions::lua::sys

namespace cloister::functions::lua::sys {
// print()/cloister.log(): appends a line to the bounded task log.
int LuaLog(lua_State* L);
}  // namespace cloister::functions::lua::sys
