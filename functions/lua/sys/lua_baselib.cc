// Wraps the Lua 5.4 C API: the safe base library. load takes text chunks
// only, collectgarbage only counts and collects (charged), setmetatable
// refuses __gc (Lua runs finalizers with hooks disabled), and print writes
// to the bounded task log (docs/design.md §6).
#include <cstring>
#include <string>

#include "functions/lua/sys/lua_context.h"

namespace cloister::functions::lua::sys {
namespace {

// load(chunk [, chunkname [, mode [, env]]]): strings only, text mode only.
int SafeLoad(lua_State* L) {
  CheckAlive(L);
  size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  if (s == nullptr || lua_type(L, 1) != LUA_TSTRING) {
    luaL_pushfail(L);
    lua_pushliteral(L, "load: only string chunks are allowed in the sandbox");
    return 2;
  }
  const char* mode = luaL_optstring(L, 3, "t");
  if (std::strcmp(mode, "t") != 0 || (len > 0 && s[0] == LUA_SIGNATURE[0])) {
    luaL_pushfail(L);
    lua_pushliteral(L, "load: binary chunks are not allowed in the sandbox");
    return 2;
  }
  Charge(L, len / 16 + 1);  // the compiler runs in C
  const char* name = luaL_optstring(L, 2, "=(load)");
  const bool has_env = !lua_isnone(L, 4);
  if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  if (has_env) {
    lua_pushvalue(L, 4);
    if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);
  }
  return 1;
}

int SafeCollectGarbage(lua_State* L) {
  CheckAlive(L);
  const char* opt = luaL_optstring(L, 1, "collect");
  if (std::strcmp(opt, "count") == 0) {
    const int kb = lua_gc(L, LUA_GCCOUNT);
    const int b = lua_gc(L, LUA_GCCOUNTB);
    lua_pushnumber(L, static_cast<lua_Number>(kb) + static_cast<lua_Number>(b) / 1024);
    return 1;
  }
  if (std::strcmp(opt, "collect") == 0) {
    Charge(L, Ctx(L)->mem_used / 64);
    lua_gc(L, LUA_GCCOLLECT);
    lua_pushinteger(L, 0);
    return 1;
  }
  if (std::strcmp(opt, "isrunning") == 0) {
    lua_pushboolean(L, lua_gc(L, LUA_GCISRUNNING));
    return 1;
  }
  return luaL_error(L, "collectgarbage('%s') is not allowed in the sandbox", opt);
}

// setmetatable without finalizers: a __gc present when the metatable is set
// is the only way an object gets marked for finalization.
int SafeSetMetatable(lua_State* L) {
  CheckAlive(L);
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "__gc metamethods are not allowed in the sandbox");
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

void AppendLog(Context* c, std::string_view line) {
  std::string& log = *c->log;
  const uint64_t cap = c->opts->limits.log_bytes;
  if (c->log_truncated) return;
  if (log.size() + line.size() + 1 > cap) {
    c->log_truncated = true;
    log += "[log truncated]\n";
    return;
  }
  log.append(line);
  log.push_back('\n');
}

}  // namespace

// print(...) and cloister.log(...): tab-separated tostring of the arguments
// into the bounded task log (never to the host's stdout).
int LuaLog(lua_State* L) {
  CheckAlive(L);
  const int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, nullptr);  // may run __tostring, under the limits
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  size_t len = 0;
  const char* s = lua_tolstring(L, -1, &len);
  AppendLog(Ctx(L), std::string_view(s, len));
  return 0;
}

void InstallBaseLib(lua_State* L, int g) {
  for (const char* name : {"dofile", "loadfile", "warn", "require", "collectgarbage", "load"}) {
    lua_pushnil(L);
    lua_setfield(L, g, name);
  }
  lua_pushcfunction(L, SafeLoad);
  lua_setfield(L, g, "load");
  lua_pushcfunction(L, SafeCollectGarbage);
  lua_setfield(L, g, "collectgarbage");
  lua_pushcfunction(L, LuaLog);
  lua_setfield(L, g, "print");
  lua_getfield(L, g, "setmetatable");
  lua_pushcclosure(L, SafeSetMetatable, 1);
  lua_setfield(L, g, "setmetatable");
}

}  // namespace cloister::functions::lua::sys
