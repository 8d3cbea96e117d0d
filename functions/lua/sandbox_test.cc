// The escape/abuse suite (docs/design.md §6 known traps) and the `cloister` API,
// run both in-process and in a forked child: every refusal is asserted by
// its exact error reason, and the host stays healthy for the next run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "functions/lua/test_util.h"

namespace cloister::functions::lua {
namespace {

using ::testing::HasSubstr;
using testing::RunLua;
using testing::RunResult;
using testing::TestLimits;
using testing::TestSpec;

class SandboxTest : public ::testing::TestWithParam<bool> {
 protected:
  SandboxOptions Opts(LuaLimits l = TestLimits()) const {
    SandboxOptions o;
    o.limits = l;
    o.forked = GetParam();
    return o;
  }
  RunResult Run(std::string_view src, Inputs in = {}) { return RunLua(src, Opts(), std::move(in)); }
  // Limits for tests about memory, not time: a generous wall limit so a
  // loaded machine (or a sanitizer build) cannot turn the memory verdict
  // into TIME_LIMIT_EXCEEDED.
  static LuaLimits MemoryTestLimits() {
    LuaLimits l = TestLimits();
    l.wall_time_ms = 60'000;
    return l;
  }
  void ExpectReason(std::string_view src, std::string_view reason,
                    std::string_view message_part = "", LuaLimits limits = TestLimits()) {
    RunResult r = RunLua(src, Opts(limits), {});
    ASSERT_FALSE(r.status.ok()) << "ran to completion: " << src;
    EXPECT_EQ(r.reason(), reason) << r.status.ToString() << "\n  for: " << src;
    if (!message_part.empty()) {
      EXPECT_THAT(r.message(), HasSubstr(std::string(message_part)));
    }
    EXPECT_TRUE(r.outputs.empty());
  }
};

INSTANTIATE_TEST_SUITE_P(Modes, SandboxTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Forked" : "InProcess"; });

// --- files, commands, modules ---------------------------------------------

TEST_P(SandboxTest, NoFileAccess) {
  ExpectReason("io.open('/etc/passwd')", "LUA_RUNTIME_ERROR", "global 'io'");
  ExpectReason("dofile('/etc/passwd')", "LUA_RUNTIME_ERROR", "global 'dofile'");
  ExpectReason("loadfile('/etc/passwd')", "LUA_RUNTIME_ERROR", "global 'loadfile'");
  ExpectReason("require('os')", "LUA_RUNTIME_ERROR", "global 'require'");
}

TEST_P(SandboxTest, NoCommands) {
  ExpectReason("os.execute('id')", "LUA_RUNTIME_ERROR", "global 'os'");
  ExpectReason("io.popen('id')", "LUA_RUNTIME_ERROR", "global 'io'");
}

TEST_P(SandboxTest, NoDebugPackageOrRegistry) {
  ExpectReason("debug.getregistry()", "LUA_RUNTIME_ERROR", "global 'debug'");
  ExpectReason("package.loadlib('libc.so.6', 'system')", "LUA_RUNTIME_ERROR", "global 'package'");
  // The string metatable is locked: getmetatable("") is false.
  ExpectReason("local mt = getmetatable('') ; return mt.__index", "LUA_RUNTIME_ERROR",
               "boolean value");
  // Coroutines expose nothing either.
  ExpectReason("local co = coroutine.create(print) ; getmetatable(co).__index = 1",
               "LUA_RUNTIME_ERROR", "nil value");
  ExpectReason("return string.dump(print)", "LUA_RUNTIME_ERROR", "field 'dump'");
  ExpectReason("local s = ''; s.dump(function() end)", "LUA_RUNTIME_ERROR", "field 'dump'");
  ExpectReason("collectgarbage('stop')", "LUA_RUNTIME_ERROR", "not allowed");
  ExpectReason("collectgarbage('setpause', 1000)", "LUA_RUNTIME_ERROR", "not allowed");
}

TEST_P(SandboxTest, NoBytecode) {
  ExpectReason("local f, err = load('\\27Lua\\84\\0', 'x', 'b') ; error(err, 0)",
               "LUA_RUNTIME_ERROR", "binary chunks are not allowed");
  ExpectReason("local f, err = load('\\27LuaT\\0\\25\\147') ; error(err, 0)",
               "LUA_RUNTIME_ERROR", "binary chunks are not allowed");
  ExpectReason("local f, err = load(function() return nil end) ; error(err, 0)",
               "LUA_RUNTIME_ERROR", "only string chunks");
}

TEST_P(SandboxTest, TextLoadRunsInSandbox) {
  RunResult r = Run(
      "local f = assert(load('return x + 1', 'c', 't', {x = 41}))\n"
      "local g = assert(load('return io'))\n"
      "cloister.output('out', tostring(f()) .. ' ' .. tostring(g()))");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs["out"], "42 nil");
}

// --- instruction and time limits -------------------------------------------

TEST_P(SandboxTest, InfiniteLoops) {
  ExpectReason("while true do end", "INSTRUCTION_LIMIT_EXCEEDED", "instruction limit exceeded");
  ExpectReason("coroutine.wrap(function() while true do end end)()",
               "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("local t = setmetatable({}, {__index = function() while true do end end})\n"
               "return t.x",
               "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("string.gsub('abc', '.', function() while true do end end)",
               "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("local t = setmetatable({}, {__lt = function() while true do end end})\n"
               "table.sort({t, t, t})",
               "INSTRUCTION_LIMIT_EXCEEDED");
}

TEST_P(SandboxTest, PcallCannotSwallowLimits) {
  ExpectReason("while true do pcall(function() while true do end end) end",
               "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason(
      "while true do\n"
      "  local co = coroutine.create(function() while true do end end)\n"
      "  coroutine.resume(co)\n"
      "end",
      "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("while true do pcall(string.rep, 'x', 1e12) end", "MEMORY_LIMIT_EXCEEDED");
  ExpectReason(
      "local ok = pcall(function() while true do end end)\n"
      "cloister.output('out', 'survived')",
      "INSTRUCTION_LIMIT_EXCEEDED");
}

TEST_P(SandboxTest, PcallOfErrorInALoop) {
  // Raising is costly (Lua errors are C++ exceptions here), so keep it short.
  LuaLimits l = TestLimits();
  l.instructions = 200'000;
  RunResult r = RunLua("for i = 1, 1e12 do pcall(error, 'x') end", Opts(l));
  EXPECT_EQ(r.reason(), "INSTRUCTION_LIMIT_EXCEEDED") << r.status.ToString();
}

TEST_P(SandboxTest, WallTime) {
  LuaLimits l = TestLimits();
  l.instructions = 1'000'000'000'000ull;
  l.wall_time_ms = 100;
  RunResult r = RunLua("while true do end", Opts(l));
  EXPECT_EQ(r.reason(), "TIME_LIMIT_EXCEEDED") << r.status.ToString();
  EXPECT_LT(r.report.usage.wall_ms, 1000);
}

TEST_P(SandboxTest, PathologicalPatternsAreBounded) {
  ExpectReason("string.find(string.rep('a', 30000), '.-.-.-.-.-b')",
               "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("local s = string.rep('a', 5000)\n"
               "for i = 1, 1e6 do s:match('(a*)*b') end",
               "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("local s = string.rep('a', 1e6)\n"
               "for i = 1, 1e6 do s:find(string.rep('a', 1000) .. 'b', 1, true) end",
               "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("for w in string.rep('ab', 1e5):gmatch('(.-)-(.-)-(.-)c') do end",
               "INSTRUCTION_LIMIT_EXCEEDED");
}

TEST_P(SandboxTest, CFunctionLoopsAreCharged) {
  ExpectReason("local t = setmetatable({}, {__len = function() return 1e15 end})\n"
               "table.insert(t, 1, 'x')",
               "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("table.move({}, 1, 1e15, 2)", "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("local t = {} for i = 1, 1e5 do t[i] = i end\n"
               "for i = 1, 1e5 do table.insert(t, 1, i) end",
               "INSTRUCTION_LIMIT_EXCEEDED");
  ExpectReason("local s = string.rep('x', 4e6)\n"
               "for i = 1, 1e6 do local _ = s:upper() end",
               "INSTRUCTION_LIMIT_EXCEEDED");
}

// --- memory ----------------------------------------------------------------

TEST_P(SandboxTest, MemoryBombs) {
  ExpectReason("local s = string.rep('x', 1e9)", "MEMORY_LIMIT_EXCEEDED",
               "memory limit exceeded", MemoryTestLimits());
  ExpectReason("local s = string.rep('x', 1e6, string.rep('y', 1e3))", "MEMORY_LIMIT_EXCEEDED", "",
               MemoryTestLimits());
  ExpectReason("local t = {} for i = 1, 1e8 do t[i] = i end", "MEMORY_LIMIT_EXCEEDED", "",
               MemoryTestLimits());
  ExpectReason("local t = {} for i = 1, 1e8 do t[#t + 1] = {i} end", "MEMORY_LIMIT_EXCEEDED", "",
               MemoryTestLimits());
  ExpectReason("local s = 'x' while true do s = s .. s end", "MEMORY_LIMIT_EXCEEDED", "",
               MemoryTestLimits());
  ExpectReason("local parts = {} for i = 1, 1e8 do parts[i] = tostring(i) .. 'abcdefgh' end",
               "MEMORY_LIMIT_EXCEEDED", "",
               MemoryTestLimits());
}

TEST_P(SandboxTest, GarbageDoesNotCountAsLeak) {
  // 100 MB allocated in total, never more than ~1 MB live: must pass.
  RunResult r = RunLua(
      "for i = 1, 100 do local s = string.rep('x', 1e6) end\n"
      "cloister.output('out', 'ok')",
      Opts(MemoryTestLimits()), {});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_LT(r.report.usage.peak_memory_bytes, 16ull << 20);
}

// --- recursion -------------------------------------------------------------

TEST_P(SandboxTest, DeepRecursion) {
  ExpectReason("local function f(n) return 1 + f(n + 1) end f(1)", "CALL_DEPTH_EXCEEDED");
  ExpectReason("local function f(n) return 1 + f(n + 1) end pcall(f, 1) pcall(f, 1)",
               "CALL_DEPTH_EXCEEDED");
  ExpectReason("local t = setmetatable({}, {__index = function(t, k) return t[k] end})\n"
               "return t.x",
               "CALL_DEPTH_EXCEEDED");
  ExpectReason("local function g(s) return (s:gsub('.', g)) end g('ab')", "CALL_DEPTH_EXCEEDED");
  ExpectReason("local function f() return coroutine.wrap(f)() end f()", "CALL_DEPTH_EXCEEDED");
  ExpectReason("local s = 'return ' .. string.rep('(', 1e4) .. '1' .. string.rep(')', 1e4)\n"
               "local f, err = load(s) ; error(err, 0)",
               "CALL_DEPTH_EXCEEDED");
}

// --- outputs ---------------------------------------------------------------

TEST_P(SandboxTest, HugeOutputs) {
  ExpectReason("cloister.output('out', string.rep('x', 2e6))", "OUTPUT_LIMIT_EXCEEDED",
               "output limit exceeded");
  ExpectReason("local w = cloister.open_output('out')\n"
               "for i = 1, 1e6 do w:write(string.rep('y', 1000)) end",
               "OUTPUT_LIMIT_EXCEEDED");
  ExpectReason("for i = 1, 100 do cloister.output('o.' .. i, 'x') end",
               "OUTPUT_LIMIT_EXCEEDED");
  ExpectReason("local ok = pcall(cloister.output, 'out', string.rep('x', 2e6))\n"
               "cloister.output('a', 'partial')",
               "OUTPUT_LIMIT_EXCEEDED");
}

TEST_P(SandboxTest, NoPartialOutputOnError) {
  ExpectReason("cloister.output('out', 'partial') ; error('late failure')",
               "LUA_RUNTIME_ERROR", "late failure");
  ExpectReason("cloister.output('nope', 'x')", "LUA_RUNTIME_ERROR", "no output slot 'nope'");
}

// --- tampering ---------------------------------------------------------------

TEST_P(SandboxTest, StringMetatableAndGlobalsCannotLeak) {
  ExpectReason("string.upper = function() return 'evil' end", "LUA_RUNTIME_ERROR",
               "read-only table 'string'");
  ExpectReason("setmetatable(string, {})", "LUA_RUNTIME_ERROR", "protected metatable");
  ExpectReason("cloister.output = print", "LUA_RUNTIME_ERROR", "read-only table 'cloister'");
  ExpectReason("cloister.args.n = 5", "LUA_RUNTIME_ERROR", "read-only");
  // What a function can change (its own globals, rawset on a proxy) stays in
  // its own state; the next run starts fresh.
  RunResult tamper = Run(
      "rawset(string, 'upper', function() return 'evil' end)\n"
      "_G.tostring = function() return 'evil' end\n"
      "next = nil pairs = nil\n"
      "cloister.output('out', ('abc'):upper())");
  ASSERT_TRUE(tamper.status.ok()) << tamper.status.ToString();
  EXPECT_EQ(tamper.outputs["out"], "ABC");  // the metatable's table is untouched
  RunResult next = Run(
      "cloister.output('out', string.upper('abc') .. tostring(1) .. type(next))");
  ASSERT_TRUE(next.status.ok()) << next.status.ToString();
  EXPECT_EQ(next.outputs["out"], "ABC1function");
}

// --- error objects and finalizers -------------------------------------------

TEST_P(SandboxTest, ErrorObjectsAreNeverStringifiedByTheHost) {
  RunResult r = Run(
      "error(setmetatable({}, {__tostring = function() while true do end end}))");
  EXPECT_EQ(r.reason(), "LUA_RUNTIME_ERROR");
  EXPECT_EQ(r.message(), "(error object is a table value)");
  EXPECT_LT(r.report.usage.instructions, 1'000'000u);
  RunResult r2 = Run("error(setmetatable({}, {__index = function() while true do end end}))");
  EXPECT_EQ(r2.reason(), "LUA_RUNTIME_ERROR");
}

TEST_P(SandboxTest, NoFinalizers) {
  ExpectReason("setmetatable({}, {__gc = function() while true do end end})",
               "LUA_RUNTIME_ERROR", "__gc metamethods are not allowed");
  ExpectReason("error(setmetatable({}, {__gc = function() local t = {} while true do "
               "t[#t+1] = {} end end}))",
               "LUA_RUNTIME_ERROR", "__gc metamethods are not allowed");
  // Adding __gc after setmetatable does not mark the object (Lua semantics).
  RunResult r = Run(
      "local mt = {} ; local x = setmetatable({}, mt)\n"
      "mt.__gc = function() while true do end end\n"
      "x = nil ; collectgarbage() ; cloister.output('out', 'done')");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs["out"], "done");
}

TEST_P(SandboxTest, CloseMethodsRunUnderLimits) {
  ExpectReason("do local x <close> = setmetatable({}, {__close = function() while true do end "
               "end}) end",
               "INSTRUCTION_LIMIT_EXCEEDED");
}

// --- the cloister API --------------------------------------------------------

TEST_P(SandboxTest, InputsLinesAndOutputs) {
  RunResult r = Run(
      "local n = 0\n"
      "for line in cloister.lines('in') do n = n + 1 ; cloister.output('a', '[' .. line .. ']') end\n"
      "local w = cloister.open_output('out')\n"
      "w:write(#cloister.input('in'), ' bytes'):write(' ', n, ' lines')\n"
      "cloister.log('hello', 42, true)\n"
      "print('printed')",
      {{"in", "one\r\ntwo\n\nfour"}});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs["a"], "[one][two][][four]");
  EXPECT_EQ(r.outputs["out"], "14 bytes 4 lines");
  EXPECT_EQ(r.report.log, "hello\t42\ttrue\nprinted\n");
  EXPECT_GT(r.report.usage.peak_memory_bytes, 0u);
}

TEST_P(SandboxTest, MissingInputIsAnError) {
  ExpectReason("cloister.input('left')", "LUA_RUNTIME_ERROR", "no input 'left'");
}

TEST_P(SandboxTest, Args) {
  RunResult r = RunLua(
      "local keys = {} for k in pairs(cloister.args) do keys[#keys+1] = k end table.sort(keys)\n"
      "cloister.output('out', table.concat(keys, ',') .. ' ' .. math.type(cloister.args.n) ..\n"
      "  ' ' .. cloister.args.n * 2 .. ' ' .. cloister.args.name)",
      Opts(), {}, {{"n", "21"}});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs["out"], "n,name integer 42 world");
}

TEST_P(SandboxTest, Csv) {
  RunResult r = Run(
      "local rows, header = cloister.csv('in')\n"
      "local out = {table.concat(header, '|')}\n"
      "for row in rows do out[#out+1] = row.name .. '=' .. row.age end\n"
      "cloister.output('out', table.concat(out, ';'))",
      {{"in", "name,age\nalice,30\n\"bob, jr\",\"4\"\"2\"\r\n"}});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs["out"], "name|age;alice=30;bob, jr=4\"2");
  RunResult bad = Run("for row in cloister.csv('in') do end", {{"in", "a,b\n1,2,3\n"}});
  EXPECT_EQ(bad.reason(), "LUA_RUNTIME_ERROR");
  EXPECT_THAT(bad.message(), HasSubstr("csv:"));
}

TEST_P(SandboxTest, Json) {
  RunResult r = Run(
      "local v = cloister.json.decode('{\"a\":[1,2.5,\"x\",true,null],\"b\":{\"c\":-3}}')\n"
      "assert(v.a[5] == cloister.json.null and v.b.c == -3 and math.type(v.a[1]) == 'integer')\n"
      "cloister.output('out', cloister.json.encode({z = 1, a = {1, 2, 'q\"\\n'}, e = {}}))");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs["out"], "{\"a\":[1,2,\"q\\\"\\n\"],\"e\":[],\"z\":1}");
  ExpectReason("local t = {} t.self = t cloister.json.encode(t)", "LUA_RUNTIME_ERROR",
               "nesting deeper");
  ExpectReason("cloister.json.decode(string.rep('[', 1000))", "LUA_RUNTIME_ERROR",
               "nesting deeper");
  ExpectReason("cloister.json.decode('{bad')", "LUA_RUNTIME_ERROR", "json.decode");
  ExpectReason("cloister.json.encode({f = print})", "LUA_RUNTIME_ERROR", "cannot encode");
}

TEST_P(SandboxTest, Crypto) {
  RunResult r = Run(
      "cloister.output('out', cloister.crypto.sha256('abc'))\n"
      "cloister.output('a', cloister.crypto.hmac('key', 'data'))\n"
      "local r1, r2 = cloister.crypto.random(16), cloister.crypto.random(16)\n"
      "assert(#r1 == 16 and r1 ~= r2)\n"
      "cloister.output('b', cloister.hex('\\1\\255'))");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs["out"], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(r.outputs["a"],
            HexEncode(crypto::HmacSha256(AsBytes(std::string_view("key")),
                                         AsBytes(std::string_view("data")))));
  EXPECT_EQ(r.outputs["b"], "01ff");
  ExpectReason("cloister.crypto.random(1e9)", "LUA_RUNTIME_ERROR", "0..4096");
}

TEST_P(SandboxTest, LogIsBounded) {
  RunResult r = Run("for i = 1, 1e4 do print(string.rep('x', 100)) end");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_LE(r.report.log.size(), TestLimits().log_bytes + 64);
  EXPECT_THAT(r.report.log, HasSubstr("[log truncated]"));
}

// A fake built-in: "upper" uppercases input "in" into output "out".
class UpperFunction : public Function {
 public:
  UpperFunction() {
    spec_.name = "upper";
    spec_.args = {{"suffix", ArgType::kString, ArgValue(std::string()), "", {}, {}}};
    spec_.inputs = {{"in", "", false, false, 1, 1}};
    spec_.outputs = {{"out", "", false, false, 1, 1}};
  }
  const FunctionSpec& spec() const override { return spec_; }
  Status Run(Runtime& rt) const override {
    CLOISTER_ASSIGN_OR_RETURN(std::string_view in, rt.Input("in"));
    std::string s(in);
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CLOISTER_ASSIGN_OR_RETURN(std::string suffix, rt.args().GetString("suffix"));
    return rt.Write("out", s + suffix);
  }

 private:
  FunctionSpec spec_;
};

TEST_P(SandboxTest, Builtin) {
  static const UpperFunction kUpper;
  SandboxOptions o = Opts();
  o.builtins = [](std::string_view name) -> const Function* {
    return name == "upper" ? &kUpper : nullptr;
  };
  RunResult r = RunLua(
      "local out = cloister.builtin('upper', {suffix = '!'}, {['in'] = 'abc'})\n"
      "cloister.output('out', out.out)",
      o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs["out"], "ABC!");
  RunResult missing = RunLua("cloister.builtin('nope', {}, {})", o);
  EXPECT_EQ(missing.reason(), "LUA_RUNTIME_ERROR");
  EXPECT_THAT(missing.message(), HasSubstr("no built-in function 'nope'"));
  RunResult bad = RunLua("cloister.builtin('upper', {}, {})", o);
  EXPECT_EQ(bad.reason(), "LUA_RUNTIME_ERROR");
  EXPECT_THAT(bad.message(), HasSubstr("requires input 'in'"));
  RunResult none = Run("cloister.builtin('upper', {}, {})");
  EXPECT_THAT(none.message(), HasSubstr("not available"));
}

TEST_P(SandboxTest, RuntimeErrorsCarryLineNumbers) {
  ExpectReason("local x = 1\nerror('boom')", "LUA_RUNTIME_ERROR", "function:2: boom");
}

// --- compile-time checks and identity ----------------------------------------

TEST(LuaFunctionTest, SyntaxErrorNamesLine) {
  auto fn = LuaFunction::Create(TestSpec(), "local x = 1\nlocal y = = 2\n");
  ASSERT_FALSE(fn.ok());
  EXPECT_EQ(fn.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(fn.error().reason(), "LUA_SYNTAX_ERROR");
  EXPECT_THAT(fn.error().message(), HasSubstr("line 2: unexpected symbol near '='"));
}

TEST(LuaFunctionTest, BinarySourceIsRejected) {
  auto fn = LuaFunction::Create(TestSpec(), std::string("\x1bLua\x54\x00", 6));
  ASSERT_FALSE(fn.ok());
  EXPECT_EQ(fn.error().reason(), "LUA_SYNTAX_ERROR");
}

TEST(LuaFunctionTest, IdIsSha256OfSource) {
  auto fn = LuaFunction::Create(TestSpec(), "return 1");
  ASSERT_TRUE(fn.ok());
  EXPECT_EQ((*fn)->id(), HexEncode(crypto::Sha256(std::string_view("return 1"))));
  EXPECT_EQ((*fn)->id().size(), 64u);
}

TEST(LuaFunctionTest, ArgumentsAreValidatedBeforeRunning) {
  auto fn = LuaFunction::Create(TestSpec(), "cloister.output('out', 'ran')");
  ASSERT_TRUE(fn.ok());
  auto out = Invoke(**fn, {{"n", "not a number"}}, {});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code(), Code::kInvalidArgument);
  auto ok = Invoke(**fn, {}, {});
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->at("out"), "ran");
}

TEST(LimitsTest, ClampCapsAndRaises) {
  LuaLimits want;
  want.memory_bytes = 100ull << 30;
  want.instructions = 1;
  want.call_depth = 1'000'000;
  LuaLimits eff = Clamp(want, ClusterMaxima());
  EXPECT_EQ(eff.memory_bytes, ClusterMaxima().memory_bytes);
  EXPECT_EQ(eff.instructions, MinimumLimits().instructions);
  EXPECT_EQ(eff.call_depth, ClusterMaxima().call_depth);
}

TEST(LimitsTest, TinyMemoryLimitFailsCleanly) {
  SandboxOptions o;
  o.limits = TestLimits();
  o.limits.memory_bytes = 8 << 10;  // below what the libraries need
  RunResult r = RunLua("return 1", o);
  EXPECT_EQ(r.reason(), "MEMORY_LIMIT_EXCEEDED");
}

}  // namespace
}  // namespace cloister::functions::lua
