// Wraps the Lua 5.4 C API: the budgeted table library. insert, remove,
// move, concat and unpack are re-implemented with a charge per element
// moved, because a user __len may return 2^50 and the C loops never reach
// the count hook; table.sort keeps the original quicksort with a charged
// comparator (docs/design.md §6).
#include "functions/lua/sys/lua_context.h"

namespace cloister::functions::lua::sys {
namespace {

lua_Integer LenOf(lua_State* L, int idx) {
  luaL_checktype(L, idx, LUA_TTABLE);
  return luaL_len(L, idx);  // may call __len (Lua code, hooked)
}

int TabInsert(lua_State* L) {
  CheckAlive(L);
  lua_Integer pos;
  lua_Integer e = LenOf(L, 1);
  e = static_cast<lua_Integer>(static_cast<lua_Unsigned>(e) + 1u);
  switch (lua_gettop(L)) {
    case 2:
      pos = e;
      break;
    case 3: {
      pos = luaL_checkinteger(L, 2);
      luaL_argcheck(L, static_cast<lua_Unsigned>(pos) - 1u < static_cast<lua_Unsigned>(e), 2,
                    "position out of bounds");
      for (lua_Integer i = e; i > pos; i--) {
        Charge(L, 1);
        lua_geti(L, 1, i - 1);
        lua_seti(L, 1, i);
      }
      break;
    }
    default:
      return luaL_error(L, "wrong number of arguments to 'insert'");
  }
  lua_seti(L, 1, pos);
  return 0;
}

int TabRemove(lua_State* L) {
  CheckAlive(L);
  lua_Integer size = LenOf(L, 1);
  lua_Integer pos = luaL_optinteger(L, 2, size);
  if (pos != size)
    luaL_argcheck(L, static_cast<lua_Unsigned>(pos) - 1u <= static_cast<lua_Unsigned>(size), 2,
                  "position out of bounds");
  lua_geti(L, 1, pos);
  for (; pos < size; pos++) {
    Charge(L, 1);
    lua_geti(L, 1, pos + 1);
    lua_seti(L, 1, pos);
  }
  lua_pushnil(L);
  lua_seti(L, 1, pos);
  return 1;
}

int TabMove(lua_State* L) {
  CheckAlive(L);
  lua_Integer f = luaL_checkinteger(L, 2);
  lua_Integer e = luaL_checkinteger(L, 3);
  lua_Integer t = luaL_checkinteger(L, 4);
  int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, tt, LUA_TTABLE);
  if (e >= f) {
    luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
    lua_Integer n = e - f + 1;
    luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
    if (t > e || t > f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
      for (lua_Integer i = 0; i < n; i++) {
        Charge(L, 1);
        lua_geti(L, 1, f + i);
        lua_seti(L, tt, t + i);
      }
    } else {
      for (lua_Integer i = n - 1; i >= 0; i--) {
        Charge(L, 1);
        lua_geti(L, 1, f + i);
        lua_seti(L, tt, t + i);
      }
    }
  }
  lua_pushvalue(L, tt);
  return 1;
}

int TabConcat(lua_State* L) {
  CheckAlive(L);
  luaL_Buffer b;
  lua_Integer last = LenOf(L, 1);
  size_t lsep;
  const char* sep = luaL_optlstring(L, 2, "", &lsep);
  lua_Integer i = luaL_optinteger(L, 3, 1);
  last = luaL_optinteger(L, 4, last);
  luaL_buffinit(L, &b);
  for (; i <= last; i++) {
    Charge(L, 1);
    lua_geti(L, 1, i);
    if (!lua_isstring(L, -1))
      return luaL_error(L, "invalid value (at index %I) in table for 'concat'",
                        static_cast<LUAI_UACINT>(i));
    Charge(L, lua_rawlen(L, -1) / 64);
    luaL_addvalue(&b);
    if (i == last) break;  // also avoids overflow of i at LUA_MAXINTEGER
    luaL_addlstring(&b, sep, lsep);
  }
  luaL_pushresult(&b);
  return 1;
}

int TabUnpack(lua_State* L) {
  CheckAlive(L);
  lua_Integer i = luaL_optinteger(L, 2, 1);
  lua_Integer e = lua_isnoneornil(L, 3) ? luaL_len(L, 1) : luaL_checkinteger(L, 3);
  if (i > e) return 0;
  lua_Unsigned n = static_cast<lua_Unsigned>(e) - static_cast<lua_Unsigned>(i);
  if (n >= static_cast<unsigned int>(INT_MAX) || !lua_checkstack(L, static_cast<int>(++n)))
    return luaL_error(L, "too many results to unpack");
  Charge(L, n);
  for (; i < e; i++) lua_geti(L, 1, i);
  lua_geti(L, 1, e);
  return static_cast<int>(n);
}

// table.sort runs the original quicksort with a charged comparator: each
// comparison costs one unit whether it is the default '<' or a Lua function.
int SortCompare(lua_State* L) {
  Charge(L, 1);
  if (lua_isnil(L, lua_upvalueindex(1))) {
    lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

int TabSort(lua_State* L) {
  CheckAlive(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));  // original sort
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, SortCompare, 1);
  lua_call(L, 2, 0);
  return 0;
}

}  // namespace

void InstallTableLib(lua_State* L) {
  lua_getglobal(L, LUA_TABLIBNAME);
  const int lib = lua_gettop(L);
  static const luaL_Reg kCharged[] = {{"insert", TabInsert}, {"remove", TabRemove},
                                      {"move", TabMove},     {"concat", TabConcat},
                                      {"unpack", TabUnpack}, {nullptr, nullptr}};
  luaL_setfuncs(L, kCharged, 0);
  lua_getfield(L, lib, "sort");
  lua_pushcclosure(L, TabSort, 1);
  lua_setfield(L, lib, "sort");
  lua_pop(L, 1);
}

}  // namespace cloister::functions::lua::sys
