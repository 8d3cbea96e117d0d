// Wraps the Lua 5.4 C API: cloister.json.encode/decode. Decoding streams
// nlohmann-json SAX events straight into Lua tables (so the result is
// charged to the Lua allocator); encoding walks tables with rawget/next only
// (no user metamethods run), with a depth bound that also stops cycles, and
// builds the text in a host buffer capped by the memory the function has left.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "functions/lua/sys/lua_context.h"
#include "common/json_escape.h"

namespace cloister::functions::lua::sys {
namespace {

constexpr int kMaxDepth = 128;

void PushNull(lua_State* L) { lua_pushlightuserdata(L, nullptr); }

bool IsNull(lua_State* L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == nullptr;
}

void AppendEscaped(std::string& out, const char* s, size_t len) {
  out.push_back('"');
  AppendJsonEscaped(out, std::string_view(s, len));
  out.push_back('"');
}

class Encoder {
 public:
  explicit Encoder(lua_State* L) : L_(L) {}

  void Encode(int idx, int depth) {
    idx = lua_absindex(L_, idx);
    if (depth > kMaxDepth) luaL_error(L_, "json.encode: nesting deeper than %d (or a cycle)", kMaxDepth);
    Charge(L_, 1);
    CheckSize();
    switch (lua_type(L_, idx)) {
      case LUA_TNIL: out_ += "null"; return;
      case LUA_TBOOLEAN: out_ += lua_toboolean(L_, idx) ? "true" : "false"; return;
      case LUA_TNUMBER: return Number(idx);
      case LUA_TSTRING: {
        size_t len = 0;
        const char* s = lua_tolstring(L_, idx, &len);
        Charge(L_, len / 64);
        AppendEscaped(out_, s, len);
        return;
      }
      case LUA_TTABLE: return Table(idx, depth);
      case LUA_TLIGHTUSERDATA:
        if (IsNull(L_, idx)) {
          out_ += "null";
          return;
        }
        [[fallthrough]];
      default:
        luaL_error(L_, "json.encode: cannot encode a %s value", luaL_typename(L_, idx));
    }
  }

  std::string& out() { return out_; }

 private:
  void Number(int idx) {
    if (lua_isinteger(L_, idx)) {
      out_ += std::to_string(lua_tointeger(L_, idx));
      return;
    }
    const double d = lua_tonumber(L_, idx);
    if (!std::isfinite(d)) luaL_error(L_, "json.encode: cannot encode NaN or infinity");
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.17g", d);
    out_ += buf;
  }

  void Table(int idx, int depth) {
    const lua_Unsigned n = lua_rawlen(L_, idx);
    lua_Unsigned count = 0;
    bool all_keys_ok = true;
    lua_pushnil(L_);
    while (lua_next(L_, idx) != 0) {
      ++count;
      Charge(L_, 1);
      const int kt = lua_type(L_, -2);
      if (kt != LUA_TSTRING && !(kt == LUA_TNUMBER && lua_isinteger(L_, -2))) all_keys_ok = false;
      lua_pop(L_, 1);
    }
    if (count == 0) {
      out_ += "[]";
      return;
    }
    luaL_checkstack(L_, 4, "json.encode: too deep");
    if (count == n) {
      out_.push_back('[');
      for (lua_Unsigned i = 1; i <= n; ++i) {
        if (i > 1) out_.push_back(',');
        lua_rawgeti(L_, idx, static_cast<lua_Integer>(i));
        Encode(-1, depth + 1);
        lua_pop(L_, 1);
      }
      out_.push_back(']');
      return;
    }
    if (!all_keys_ok) luaL_error(L_, "json.encode: object keys must be strings or integers");
    // Sorted keys: equal tables always encode to equal bytes.
    std::vector<std::string> keys;
    keys.reserve(static_cast<size_t>(count));
    lua_pushnil(L_);
    while (lua_next(L_, idx) != 0) {
      lua_pop(L_, 1);
      lua_pushvalue(L_, -1);
      size_t len = 0;
      const char* k = lua_tolstring(L_, -1, &len);  // a copy: no effect on next()
      keys.emplace_back(k, len);
      lua_pop(L_, 1);
    }
    std::sort(keys.begin(), keys.end());
    out_.push_back('{');
    bool first = true;
    for (const std::string& k : keys) {
      if (!first) out_.push_back(',');
      first = false;
      AppendEscaped(out_, k.data(), k.size());
      out_.push_back(':');
      // Integer keys were stringified; look them up by their original type.
      lua_pushlstring(L_, k.data(), k.size());
      if (lua_rawget(L_, idx) == LUA_TNIL) {
        lua_pop(L_, 1);
        lua_pushinteger(L_, static_cast<lua_Integer>(std::stoll(k)));
        lua_rawget(L_, idx);
      }
      Encode(-1, depth + 1);
      lua_pop(L_, 1);
    }
    out_.push_back('}');
  }

  void CheckSize() {
    if (out_.size() > MemoryLeft(L_, false) && out_.size() > MemoryLeft(L_, true))
      RaiseFatal(L_, Fatal::kMemory);
  }

  lua_State* L_;
  std::string out_;
};

int JsonEncode(lua_State* L) {
  CheckAlive(L);
  luaL_checkany(L, 1);
  std::string err;
  try {
    Encoder enc(L);
    enc.Encode(1, 0);
    lua_pushlstring(L, enc.out().data(), enc.out().size());
    return 1;
  } catch (const std::exception& e) {  // host allocation failures only
    err = e.what();
  }
  return luaL_error(L, "json.encode: %s", err.c_str());
}

// SAX handler building Lua values on the Lua stack. Containers stay on the
// stack while open; frames_ remembers array indexes.
class LuaSax {
 public:
  explicit LuaSax(lua_State* L) : L_(L) {}
  using number_integer_t = nlohmann::json::number_integer_t;
  using number_unsigned_t = nlohmann::json::number_unsigned_t;
  using number_float_t = nlohmann::json::number_float_t;
  using string_t = nlohmann::json::string_t;
  using binary_t = nlohmann::json::binary_t;

  bool null() { PushNull(L_); return Add(); }
  bool boolean(bool v) { lua_pushboolean(L_, v); return Add(); }
  bool number_integer(number_integer_t v) { lua_pushinteger(L_, v); return Add(); }
  bool number_unsigned(number_unsigned_t v) {
    if (v <= static_cast<number_unsigned_t>(LUA_MAXINTEGER)) lua_pushinteger(L_, static_cast<lua_Integer>(v));
    else lua_pushnumber(L_, static_cast<lua_Number>(v));
    return Add();
  }
  bool number_float(number_float_t v, const string_t&) { lua_pushnumber(L_, v); return Add(); }
  bool string(string_t& s) {
    Charge(L_, s.size() / 64);
    lua_pushlstring(L_, s.data(), s.size());
    return Add();
  }
  bool binary(binary_t&) { error_ = "binary values are not supported"; return false; }
  bool start_object(std::size_t) { return Open(false); }
  bool key(string_t& k) { lua_pushlstring(L_, k.data(), k.size()); return true; }
  bool end_object() { frames_.pop_back(); return Add(); }
  bool start_array(std::size_t) { return Open(true); }
  bool end_array() { frames_.pop_back(); return Add(); }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& e) {
    error_ = e.what();
    (void)pos;
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool array;
    lua_Integer next;
  };
  bool Open(bool array) {
    if (frames_.size() >= static_cast<size_t>(kMaxDepth)) {
      error_ = "nesting deeper than " + std::to_string(kMaxDepth);
      return false;
    }
    luaL_checkstack(L_, 4, "json.decode: too deep");
    lua_newtable(L_);
    frames_.push_back({array, 1});
    return true;
  }
  bool Add() {
    Charge(L_, 1);
    if (frames_.empty()) return true;  // the root value stays on the stack
    Frame& f = frames_.back();
    if (f.array) lua_rawseti(L_, -2, f.next++);
    else lua_rawset(L_, -3);
    return true;
  }
  lua_State* L_;
  std::vector<Frame> frames_;
  std::string error_;
};

int JsonDecode(lua_State* L) {
  CheckAlive(L);
  size_t len = 0;
  const char* s = luaL_checklstring(L, 1, &len);
  const int top = lua_gettop(L);
  std::string err;
  try {
    LuaSax sax(L);
    const bool ok = nlohmann::json::sax_parse(s, s + len, &sax);
    if (ok && lua_gettop(L) == top + 1) return 1;
    err = sax.error().empty() ? "invalid JSON" : sax.error();
  } catch (const std::exception& e) {
    err = e.what();
  }
  lua_settop(L, top);
  return luaL_error(L, "json.decode: %s", err.c_str());
}

}  // namespace

void PushJsonLib(lua_State* L) {
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, JsonEncode);
  lua_setfield(L, -2, "encode");
  lua_pushcfunction(L, JsonDecode);
  lua_setfield(L, -2, "decode");
  PushNull(L);
  lua_setfield(L, -2, "null");
}

}  // namespace cloister::functions::lua::sys
