// Wraps the Lua 5.4 C API: the tracked coroutine library. The tick arms the
// hook of ctx.current, so every way into a coroutine's VM (resume, a wrap
// function, close running __close handlers) marks it as current for its
// duration. Same semantics as Lua 5.4.4's lcorolib.
#include "functions/lua/sys/lua_context.h"

namespace cloister::functions::lua::sys {
namespace {

class Running {
 public:
  Running(Context* c, lua_State* co)
      : c_(c), prev_(c->current.exchange(co, std::memory_order_relaxed)) {}
  ~Running() { c_->current.store(prev_, std::memory_order_relaxed); }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

 private:
  Context* c_;
  lua_State* prev_;
};

// lcorolib's auxresume: results (>= 0) or -1 with the error on L's top.
int AuxResume(lua_State* L, lua_State* co, int narg) {
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  lua_xmove(L, co, narg);
  int nres = 0;
  int status;
  {
    Running running(Ctx(L), co);
    status = lua_resume(co, L, narg, &nres);
  }
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, nres);
    return nres;
  }
  lua_xmove(co, L, 1);
  return -1;
}

int CoResume(lua_State* L) {
  CheckAlive(L);
  lua_State* co = lua_tothread(L, 1);
  luaL_argexpected(L, co != nullptr, 1, "coroutine");
  const int r = AuxResume(L, co, lua_gettop(L) - 1);
  if (r < 0) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(r + 1));
  return r + 1;
}

// The function coroutine.wrap returns (upvalue 1: the coroutine).
int CoWrapCall(lua_State* L) {
  CheckAlive(L);
  lua_State* co = lua_tothread(L, lua_upvalueindex(1));
  const int r = AuxResume(L, co, lua_gettop(L));
  if (r >= 0) return r;
  int stat = lua_status(co);
  if (stat != LUA_OK && stat != LUA_YIELD) {  // error in the coroutine
    {
      Running running(Ctx(L), co);  // closing runs its __close handlers
      stat = lua_resetthread(co);
    }
    lua_xmove(co, L, 1);
  }
  if (stat != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

int CoWrap(lua_State* L) {
  CheckAlive(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State* co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, CoWrapCall, 1);
  return 1;
}

// coroutine.close(co) (upvalue 1: the original), which runs __close
// handlers on co.
int CoClose(lua_State* L) {
  CheckAlive(L);
  lua_State* co = lua_tothread(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  Running running(Ctx(L), co != nullptr ? co : L);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

}  // namespace

void InstallCoroutineLib(lua_State* L) {
  lua_getglobal(L, LUA_COLIBNAME);
  lua_pushcfunction(L, CoResume);
  lua_setfield(L, -2, "resume");
  lua_pushcfunction(L, CoWrap);
  lua_setfield(L, -2, "wrap");
  lua_getfield(L, -1, "close");
  lua_pushcclosure(L, CoClose, 1);
  lua_setfield(L, -2, "close");
  lua_pop(L, 1);
}

}  // namespace cloister::functions::lua::sys
