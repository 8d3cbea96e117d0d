// Wraps the Lua 5.4 C API: the budgeted string library. find/match/gmatch/
// gsub come from the pattern matcher (lua_pattern.h); string.rep checks its
// result size against the memory left; linear string and utf8 functions are
// charged per byte; string.dump is removed. The string metatable is locked
// (CVE-2022-24735) and the global `string` is a read-only proxy
// (docs/design.md §6).
#include <cstring>

#include "functions/lua/sys/lua_context.h"
#include "functions/lua/sys/lua_pattern.h"

namespace cloister::functions::lua::sys {
namespace {

// string.rep with the result size checked against the memory that is left
// before anything is built, and the copy charged per 64 bytes.
int StrRep(lua_State* L) {
  CheckAlive(L);
  size_t l, lsep;
  const char* s = luaL_checklstring(L, 1, &l);
  lua_Integer n = luaL_checkinteger(L, 2);
  const char* sep = luaL_optlstring(L, 3, "", &lsep);
  if (n <= 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  const uint64_t unit = static_cast<uint64_t>(l) + lsep;
  // Garbage does not count: collect only when the cheap check fails.
  if (unit != 0 && static_cast<uint64_t>(n) > MemoryLeft(L, false) / unit &&
      static_cast<uint64_t>(n) > MemoryLeft(L, true) / unit)
    RaiseFatal(L, Fatal::kMemory);
  const uint64_t total = unit * static_cast<uint64_t>(n);
  if (l + lsep == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  const size_t totallen = static_cast<size_t>(total) - lsep;
  Charge(L, totallen / 64 + static_cast<uint64_t>(n) / 32);
  luaL_Buffer b;
  char* p = luaL_buffinitsize(L, &b, totallen);
  while (n-- > 1) {
    std::memcpy(p, s, l);
    p += l;
    if (lsep > 0) {
      std::memcpy(p, sep, lsep);
      p += lsep;
    }
  }
  std::memcpy(p, s, l);
  luaL_pushresultsize(&b, totallen);
  return 1;
}

// Generic wrapper: charges the bytes of all string arguments, then calls
// the original C function (upvalue 1). For upper/lower/reverse/byte/format
// and utf8.*, whose cost is linear in their inputs.
int ChargedCall(lua_State* L) {
  CheckAlive(L);
  const int n = lua_gettop(L);
  uint64_t bytes = 0;
  for (int i = 1; i <= n; ++i)
    if (lua_type(L, i) == LUA_TSTRING) bytes += lua_rawlen(L, i);
  Charge(L, 1 + bytes / 16);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

void WrapCharged(lua_State* L, int lib, const char* name) {
  lua_getfield(L, lib, name);
  if (!lua_iscfunction(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  lua_pushcclosure(L, ChargedCall, 1);
  lua_setfield(L, lib, name);
}

}  // namespace

void InstallStringLib(lua_State* L) {
  lua_getglobal(L, LUA_STRLIBNAME);
  const int lib = lua_gettop(L);
  static const luaL_Reg kBudgeted[] = {{"find", StrFind},   {"match", StrMatch},
                                       {"gmatch", GMatch},  {"gsub", StrGsub},
                                       {"rep", StrRep},     {nullptr, nullptr}};
  luaL_setfuncs(L, kBudgeted, 0);
  lua_pushnil(L);
  lua_setfield(L, lib, "dump");
  for (const char* name : {"upper", "lower", "reverse", "byte", "format", "sub", "char",
                           "pack", "unpack"})
    WrapCharged(L, lib, name);

  lua_getglobal(L, LUA_UTF8LIBNAME);
  const int utf8 = lua_gettop(L);
  for (const char* name : {"char", "codepoint", "len", "offset", "codes"})
    WrapCharged(L, utf8, name);
  PushReadOnlyProxy(L, utf8, "utf8");
  lua_setglobal(L, LUA_UTF8LIBNAME);
  lua_pop(L, 1);

  // The string metatable's __index keeps the real table (unreachable from
  // Lua); getmetatable("") returns false, and `string` is a read-only proxy.
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1)) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  PushReadOnlyProxy(L, lib, "string");
  lua_setglobal(L, LUA_STRLIBNAME);
  lua_pop(L, 1);
}

}  // namespace cloister::functions::lua::sys
