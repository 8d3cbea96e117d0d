// The budgeted Lua pattern functions (string.find/match/gmatch/gsub),
// installed by InstallStringLib (lua_strlib.cc). Each is a lua_CFunction with
// the standard library's contract, plus a charge per match step; see
// lua_pattern.cc for the algorithm's origin and the cost model.
//
//   static const luaL_Reg kFns[] = {{"find", StrFind}, {"gsub", StrGsub}, ...};
#pragma once

#include <lua.hpp>

namespace cloister::functions::lua::sys {

int StrFind(lua_State* L);
int StrMatch(lua_State* L);
int GMatch(lua_State* L);
int StrGsub(lua_State* L);

}  // namespace cloister::functions::lua::sys
