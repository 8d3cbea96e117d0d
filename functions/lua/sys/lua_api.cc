// Wraps the Lua 5.4 C API: the `cloister` table a Lua function sees — args,
// input/lines/csv, output/open_output, json, crypto, builtin, log, hex.
// Every entry point first checks that no limit has fired (CheckAlive) and
// charges its C work to the instruction budget. All host state lives in the
// Context (functions/lua/sys/lua_context.h); nothing here reads Lua globals,
// so a function that overwrites globals only fools itself.
#include <cstring>
#include <exception>
#include <map>
#include <string>

#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "functions/lua/sys/lua_context.h"

namespace cloister::functions::lua::sys {
namespace {

constexpr size_t kMaxCsvReaders = 256;
constexpr lua_Integer kMaxRandomBytes = 4096;
constexpr char kWriterMeta[] = "cloister.OutputWriter";

// Converts C++ exceptions (e.g. std::bad_alloc from host containers) into a
// Lua error; Lua's own errors are not std::exception and pass through.
template <typename F>
int Guarded(lua_State* L, F&& body) {
  std::string what;
  try {
    return body();
  } catch (const std::exception& e) {
    what = e.what();
  }
  return luaL_error(L, "internal error: %s", what.c_str());
}

std::string_view CheckView(lua_State* L, int idx) {
  size_t len = 0;
  const char* s = luaL_checklstring(L, idx, &len);
  return {s, len};
}

std::string_view InputOrRaise(lua_State* L, std::string_view name) {
  Result<std::string_view> in = Ctx(L)->rt->Input(name);
  if (!in.ok()) luaL_error(L, "%s", in.error().message().c_str());
  return *in;
}

// cloister.inputs() -> sorted array of the input names bound to this call.
int ApiInputs(lua_State* L) {
  CheckAlive(L);
  const Inputs& in = Ctx(L)->rt->inputs();
  lua_createtable(L, static_cast<int>(in.size()), 0);
  lua_Integer i = 1;
  for (const auto& [name, bytes] : in) {
    lua_pushlstring(L, name.data(), name.size());
    lua_rawseti(L, -2, i++);
  }
  return 1;
}

int ApiInput(lua_State* L) {
  CheckAlive(L);
  std::string_view data = InputOrRaise(L, CheckView(L, 1));
  Charge(L, data.size() / 64 + 1);
  lua_pushlstring(L, data.data(), data.size());
  return 1;
}

// Line iterator state: a view into the Runtime's input (which outlives the
// state), so no copy of the whole input enters Lua memory.
struct LineCursor {
  const char* data;
  size_t size;
  size_t pos;
};

int LinesNext(lua_State* L) {
  CheckAlive(L);
  auto* cur = static_cast<LineCursor*>(lua_touserdata(L, lua_upvalueindex(1)));
  if (cur->pos >= cur->size) return 0;
  const char* start = cur->data + cur->pos;
  const size_t left = cur->size - cur->pos;
  const void* nl = std::memchr(start, '\n', left);
  size_t len = nl != nullptr ? static_cast<size_t>(static_cast<const char*>(nl) - start) : left;
  cur->pos += len + (nl != nullptr ? 1 : 0);
  if (len > 0 && start[len - 1] == '\r') --len;
  Charge(L, len / 64 + 1);
  lua_pushlstring(L, start, len);
  return 1;
}

int ApiLines(lua_State* L) {
  CheckAlive(L);
  std::string_view data = InputOrRaise(L, CheckView(L, 1));
  auto* cur = static_cast<LineCursor*>(lua_newuserdatauv(L, sizeof(LineCursor), 0));
  *cur = LineCursor{data.data(), data.size(), 0};
  lua_pushcclosure(L, LinesNext, 1);
  return 1;
}

// Upvalues: 1 reader index in ctx->csv_readers, 2 header array.
int CsvNext(lua_State* L) {
  CheckAlive(L);
  return Guarded(L, [&] {
    Context* c = Ctx(L);
    auto idx = static_cast<size_t>(lua_tointeger(L, lua_upvalueindex(1)));
    builtin::CsvReader& r = *c->csv_readers.at(idx);
    Result<bool> more = r.Next();
    if (!more.ok()) return luaL_error(L, "csv: %s", more.error().message().c_str());
    if (!*more) return 0;
    auto fields = r.fields();
    Charge(L, fields.size() + 1);
    lua_createtable(L, 0, static_cast<int>(fields.size()));
    for (size_t i = 0; i < fields.size(); ++i) {
      lua_rawgeti(L, lua_upvalueindex(2), static_cast<lua_Integer>(i + 1));
      lua_pushlstring(L, fields[i].data(), fields[i].size());
      lua_rawset(L, -3);
    }
    return 1;
  });
}

// cloister.csv(name [, delimiter]) -> iterator of rows keyed by header,
// plus the header array as a second value.
int ApiCsv(lua_State* L) {
  CheckAlive(L);
  return Guarded(L, [&] {
    Context* c = Ctx(L);
    std::string_view data = InputOrRaise(L, CheckView(L, 1));
    builtin::CsvOptions opts;
    if (!lua_isnoneornil(L, 2)) {
      std::string_view d = CheckView(L, 2);
      if (d.size() != 1) return luaL_error(L, "csv: delimiter must be one character");
      opts.delimiter = d[0];
    }
    if (c->csv_readers.size() >= kMaxCsvReaders)
      return luaL_error(L, "csv: too many open readers (%d)", static_cast<int>(kMaxCsvReaders));
    Result<builtin::CsvReader> r = builtin::CsvReader::Open(data, opts);
    if (!r.ok()) return luaL_error(L, "csv: %s", r.error().message().c_str());
    c->csv_readers.push_back(std::make_unique<builtin::CsvReader>(std::move(*r)));
    const auto& header = c->csv_readers.back()->header();
    lua_pushinteger(L, static_cast<lua_Integer>(c->csv_readers.size() - 1));
    lua_createtable(L, static_cast<int>(header.size()), 0);
    for (size_t i = 0; i < header.size(); ++i) {
      lua_pushlstring(L, header[i].data(), header[i].size());
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    lua_pushvalue(L, -1);
    lua_insert(L, -3);  // header copy below the upvalues
    lua_pushcclosure(L, CsvNext, 2);
    lua_insert(L, -2);
    return 2;
  });
}

void WriteOutput(lua_State* L, std::string_view name, std::string_view bytes) {
  Context* c = Ctx(L);
  const LuaLimits& lim = c->opts->limits;
  if (c->output_names.find(name) == c->output_names.end()) {
    if (c->output_names.size() >= static_cast<size_t>(lim.max_outputs))
      RaiseFatal(L, Fatal::kOutput);
  }
  if (bytes.size() > lim.output_bytes - c->output_bytes) RaiseFatal(L, Fatal::kOutput);
  Charge(L, bytes.size() / 64 + 1);
  Status s = c->rt->Write(name, bytes);
  if (!s.ok()) {
    if (s.error().reason() == "OUTPUT_LIMIT_EXCEEDED") RaiseFatal(L, Fatal::kOutput);
    luaL_error(L, "%s", s.error().message().c_str());
  }
  c->output_bytes += bytes.size();
  if (c->output_names.find(name) == c->output_names.end()) c->output_names.emplace(name);
}

// cloister.output(name, bytes...): appends to an output.
int ApiOutput(lua_State* L) {
  CheckAlive(L);
  return Guarded(L, [&] {
    std::string_view name = CheckView(L, 1);
    const int n = lua_gettop(L);
    if (n < 2) WriteOutput(L, name, {});
    for (int i = 2; i <= n; ++i) WriteOutput(L, name, CheckView(L, i));
    return 0;
  });
}

// Writer userdata: the output name is its user value (a Lua string), so the
// userdata itself is plain bytes and needs no __gc.
int WriterWrite(lua_State* L) {
  CheckAlive(L);
  luaL_checkudata(L, 1, kWriterMeta);
  return Guarded(L, [&] {
    lua_getiuservalue(L, 1, 1);
    std::string name(CheckView(L, -1));
    lua_pop(L, 1);
    for (int i = 2; i <= lua_gettop(L); ++i) {
      if (lua_type(L, i) == LUA_TNUMBER) lua_tolstring(L, i, nullptr);  // like io.write
      WriteOutput(L, name, CheckView(L, i));
    }
    lua_settop(L, 1);
    return 1;  // allows w:write(a):write(b)
  });
}

int WriterClose(lua_State* L) {
  CheckAlive(L);
  luaL_checkudata(L, 1, kWriterMeta);
  return 0;
}

int ApiOpenOutput(lua_State* L) {
  CheckAlive(L);
  return Guarded(L, [&] {
    std::string_view name = CheckView(L, 1);
    WriteOutput(L, name, {});  // validates the slot and creates the output
    lua_newuserdatauv(L, 1, 1);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, kWriterMeta);
    return 1;
  });
}

int ApiSha256(lua_State* L) {
  CheckAlive(L);
  return Guarded(L, [&] {
    std::string_view data = CheckView(L, 1);
    Charge(L, data.size() / 16 + 1);
    const std::string hex = HexEncode(crypto::Sha256(data));
    lua_pushlstring(L, hex.data(), hex.size());
    return 1;
  });
}

int ApiHmac(lua_State* L) {
  CheckAlive(L);
  return Guarded(L, [&] {
    std::string_view key = CheckView(L, 1);
    std::string_view data = CheckView(L, 2);
    Charge(L, (key.size() + data.size()) / 16 + 1);
    const std::string hex = HexEncode(crypto::HmacSha256(AsBytes(key), AsBytes(data)));
    lua_pushlstring(L, hex.data(), hex.size());
    return 1;
  });
}

int ApiRandom(lua_State* L) {
  CheckAlive(L);
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0 && n <= kMaxRandomBytes, 1, "must be 0..4096 bytes");
  return Guarded(L, [&] {
    Bytes b = crypto::RandomBytes(static_cast<size_t>(n));
    lua_pushlstring(L, reinterpret_cast<const char*>(b.data()), b.size());
    return 1;
  });
}

int ApiHex(lua_State* L) {
  CheckAlive(L);
  return Guarded(L, [&] {
    std::string_view data = CheckView(L, 1);
    Charge(L, data.size() / 16 + 1);
    const std::string hex = HexEncode(AsBytes(data));
    lua_pushlstring(L, hex.data(), hex.size());
    return 1;
  });
}

// cloister.builtin(name, args, inputs) -> table of outputs. The built-in runs
// natively (trusted code): its memory is not charged to the Lua allocator
// and the in-process wall-time check only happens when it returns; in forked
// mode the parent still kills the child at the deadline.
int ApiBuiltin(lua_State* L) {
  CheckAlive(L);
  return Guarded(L, [&] {
    Context* c = Ctx(L);
    std::string name(CheckView(L, 1));
    if (!c->opts->builtins) return luaL_error(L, "builtin functions are not available here");
    const Function* fn = c->opts->builtins(name);
    if (fn == nullptr) return luaL_error(L, "no built-in function '%s'", name.c_str());
    std::map<std::string, ArgValue> args;
    Inputs inputs;
    uint64_t bytes = 0;
    if (!lua_isnoneornil(L, 2)) {
      luaL_checktype(L, 2, LUA_TTABLE);
      lua_pushnil(L);
      while (lua_next(L, 2) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) return luaL_error(L, "builtin: argument names must be strings");
        std::string key(lua_tostring(L, -2));
        switch (lua_type(L, -1)) {
          case LUA_TBOOLEAN: args[key] = ArgValue(lua_toboolean(L, -1) != 0); break;
          case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) args[key] = ArgValue(static_cast<int64_t>(lua_tointeger(L, -1)));
            else args[key] = ArgValue(static_cast<double>(lua_tonumber(L, -1)));
            break;
          case LUA_TSTRING: args[key] = ArgValue(std::string(CheckView(L, -1))); break;
          default: return luaL_error(L, "builtin: argument '%s' must be a string, number or boolean", key.c_str());
        }
        lua_pop(L, 1);
      }
    }
    if (!lua_isnoneornil(L, 3)) {
      luaL_checktype(L, 3, LUA_TTABLE);
      lua_pushnil(L);
      while (lua_next(L, 3) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
          return luaL_error(L, "builtin: inputs must map names to byte strings");
        std::string_view v = CheckView(L, -1);
        bytes += v.size();
        inputs.emplace(std::string(lua_tostring(L, -2)), std::string(v));
        lua_pop(L, 1);
      }
    }
    Charge(L, bytes / 16 + 1);
    Limits lim;
    lim.max_output_bytes = c->opts->limits.memory_bytes;
    lim.max_outputs = c->opts->limits.max_outputs;
    auto rt = Runtime::CreateTyped(fn->spec(), args, std::move(inputs), lim);
    if (!rt.ok()) return luaL_error(L, "builtin '%s': %s", name.c_str(), rt.error().ToString().c_str());
    Status s = OkStatus();
    {
      // Trusted native code: its CPU time is not the function's instructions.
      CpuExcluded excluded(c);
      s = fn->Run(**rt);
    }
    if (!s.ok()) return luaL_error(L, "builtin '%s': %s", name.c_str(), s.error().ToString().c_str());
    Outputs outputs = std::move(**rt).TakeOutputs();
    CheckAlive(L);
    if (MonotonicNs() >= c->deadline_ns) RaiseFatal(L, Fatal::kTime);
    lua_createtable(L, 0, static_cast<int>(outputs.size()));
    for (const auto& [k, v] : outputs) {
      lua_pushlstring(L, k.data(), k.size());
      lua_pushlstring(L, v.data(), v.size());
      lua_rawset(L, -3);
    }
    return 1;
  });
}

int ApiTestSyscall(lua_State* L) {
  CheckAlive(L);
  Ctx(L)->opts->unsafe_test_syscall_fn();
  return 0;
}

void PushArgs(lua_State* L, const Args& args) {
  lua_createtable(L, 0, static_cast<int>(args.values().size()));
  for (const auto& [name, value] : args.values()) {
    lua_pushlstring(L, name.data(), name.size());
    if (auto* s = std::get_if<std::string>(&value)) lua_pushlstring(L, s->data(), s->size());
    else if (auto* i = std::get_if<int64_t>(&value)) lua_pushinteger(L, *i);
    else if (auto* d = std::get_if<double>(&value)) lua_pushnumber(L, *d);
    else lua_pushboolean(L, std::get<bool>(value));
    lua_rawset(L, -3);
  }
  PushReadOnlyProxy(L, -1, "cloister.args");
  lua_remove(L, -2);
}

}  // namespace

void PushCloisterApi(lua_State* L) {
  Context* c = Ctx(L);
  // Writer methods.
  luaL_newmetatable(L, kWriterMeta);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, WriterWrite);
  lua_setfield(L, -2, "write");
  lua_pushcfunction(L, WriterClose);
  lua_setfield(L, -2, "close");
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);

  lua_createtable(L, 0, 16);
  const int api = lua_gettop(L);
  static const luaL_Reg kFuncs[] = {
      {"input", ApiInput},   {"inputs", ApiInputs},         {"lines", ApiLines},           {"csv", ApiCsv},
      {"output", ApiOutput}, {"open_output", ApiOpenOutput}, {"builtin", ApiBuiltin},
      {"log", LuaLog},       {"hex", ApiHex},               {nullptr, nullptr}};
  luaL_setfuncs(L, kFuncs, 0);
  PushArgs(L, c->rt->args());
  lua_setfield(L, api, "args");
  lua_createtable(L, 0, 3);
  static const luaL_Reg kCrypto[] = {
      {"sha256", ApiSha256}, {"hmac", ApiHmac}, {"random", ApiRandom}, {nullptr, nullptr}};
  luaL_setfuncs(L, kCrypto, 0);
  PushReadOnlyProxy(L, -1, "cloister.crypto");
  lua_setfield(L, api, "crypto");
  lua_pop(L, 1);
  PushJsonLib(L);
  PushReadOnlyProxy(L, -1, "cloister.json");
  lua_setfield(L, api, "json");
  lua_pop(L, 1);
  if (c->opts->unsafe_test_syscall_fn) {
    lua_pushcfunction(L, ApiTestSyscall);
    lua_setfield(L, api, "_test_syscall");
  }
  PushReadOnlyProxy(L, api, "cloister");
  lua_remove(L, api);
}

}  // namespace cloister::functions::lua::sys
