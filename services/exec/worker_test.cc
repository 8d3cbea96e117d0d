// Unit tests of cloister-exec's task worker without a cluster: the lease →
// runtime conversion, one lease run end to end against an in-memory TaskIo
// (inputs encrypted as storage would hold them, outputs decrypted back with
// the keys registered for each owner), the failure mapping (limits, a
// forbidden call, substituted ciphertext, a wrong key, peers down), lost
// leases, isolation between Lua tasks, and the pool's claim loop.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <limits>
#include <mutex>
#include <thread>

#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "files/file_stream.h"
#include "services/exec/task_io.h"
#include "services/exec/task_lease.h"
#include "services/exec/task_runner.h"
#include "services/exec/task_worker.h"

namespace cloister::exec {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;

int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An encrypted file as a user's upload would leave it in storage, made with
// the files library directly (not the worker's own helpers).
struct SealedFile {
  std::string file_id;
  std::string ciphertext;
  SecretBytes key;
};
SealedFile Seal(std::string_view plaintext, uint32_t chunk_size = files::kMinChunkSize) {
  SealedFile f;
  f.key = SecretBytes::Random(files::kFileKeySize);
  files::EncryptOptions eo;
  eo.chunk_size = chunk_size;
  auto enc = *files::FileEncryptor::Create(f.key.view(), plaintext.size(), eo);
  f.file_id = HexEncode(enc.header().file_id);
  f.ciphertext = std::string(AsChars(enc.header_bytes()));
  size_t at = 0;
  for (uint64_t i = 0; i < enc.header().chunk_count(); ++i) {
    size_t n = enc.header().chunk_plaintext_size(i);
    f.ciphertext += AsChars(*enc.SealChunk(AsBytes(plaintext.substr(at, n))));
    at += n;
  }
  EXPECT_TRUE(enc.Finish().ok());
  return f;
}

Result<std::string> Open(ByteView key, std::string_view ct) {
  CLOISTER_ASSIGN_OR_RETURN(auto dec,
                            files::FileDecryptor::Open(key, AsBytes(ct.substr(0, files::kHeaderSize))));
  std::string out;
  size_t at = files::kHeaderSize;
  for (uint64_t i = 0; i < dec.header().chunk_count(); ++i) {
    size_t n = dec.sealed_chunk_size(i);
    CLOISTER_ASSIGN_OR_RETURN(Bytes p, dec.OpenChunk(AsBytes(ct.substr(at, n))));
    out += AsChars(p);
    at += n;
  }
  if (at != ct.size()) return DataLoss("trailing bytes");
  CLOISTER_RETURN_IF_ERROR(dec.Finish());
  return out;
}

std::string Sha(std::string_view b) { return std::string(AsChars(crypto::Sha256(b))); }

// The seam's in-memory side: storage, keyvault and the tasks queue as maps,
// every call recorded.
class FakeIo final : public TaskIo {
 public:
  struct Registered {
    std::string owner, slot;
    SecretBytes key;
    std::string grant;
  };
  struct Stored {
    OutputHeader header;
    std::string ciphertext;
    std::string grant;
  };

  // What storage and keyvault hold for an input, and what the lease names.
  void PutInput(const SealedFile& f) {
    std::lock_guard<std::mutex> l(mu);
    files[f.file_id] = f.ciphertext;
    keys[f.file_id] = f.key;
  }

  Result<std::optional<tasks::TaskLease>> Claim(std::string_view worker_id,
                                                std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> l(mu);
    claim_ids.emplace_back(worker_id);
    if (queue.empty()) return std::optional<tasks::TaskLease>();
    tasks::TaskLease lease = queue.front();
    queue.pop_front();
    return std::optional<tasks::TaskLease>(std::move(lease));
  }
  Result<tasks::HeartbeatTaskResponse> Heartbeat(std::string_view, uint64_t) override {
    std::lock_guard<std::mutex> l(mu);
    ++heartbeats;
    if (heartbeat_error) return *heartbeat_error;
    tasks::HeartbeatTaskResponse r;
    r.set_lease_expires_unix_ms(WallMs() + 30'000);
    r.set_task_grant("grant-" + std::to_string(heartbeats + 1));
    return r;
  }
  Status Complete(const tasks::CompleteTaskRequest& req) override {
    std::lock_guard<std::mutex> l(mu);
    completes.push_back(req);
    if (complete_error) return *complete_error;
    return OkStatus();
  }
  Result<tasks::TaskState> Fail(const tasks::FailTaskRequest& req) override {
    std::lock_guard<std::mutex> l(mu);
    fails.push_back(req);
    return req.retryable() ? tasks::TASK_STATE_QUEUED : tasks::TASK_STATE_FAILED;
  }
  Result<SecretBytes> GetInputKey(std::string_view file_id, std::string_view owner,
                                  std::string_view grant) override {
    std::lock_guard<std::mutex> l(mu);
    key_requests.push_back(std::string(file_id) + "@" + std::string(owner));
    grants.emplace_back(grant);
    if (key_down > 0 && key_down--) return Unavailable("keyvault restarting");
    if (key_error) return *key_error;
    auto it = keys.find(std::string(file_id));
    if (it == keys.end()) return NotFound("no key", "FILE_KEY_NOT_FOUND");
    if (wrong_key) return SecretBytes::Random(files::kFileKeySize);
    return it->second;
  }
  Status RegisterOutputKey(std::string_view file_id, std::string_view owner,
                           std::string_view slot, ByteView key,
                           std::string_view grant) override {
    std::lock_guard<std::mutex> l(mu);
    if (register_down > 0 && register_down--) return Unavailable("keyvault restarting");
    if (register_error) return *register_error;
    registered[std::string(file_id)] =
        Registered{std::string(owner), std::string(slot), SecretBytes(key), std::string(grant)};
    return OkStatus();
  }
  Result<std::string> ReadInput(std::string_view file_id, std::string_view grant,
                                uint64_t max_bytes, const std::function<bool()>&) override {
    std::lock_guard<std::mutex> l(mu);
    reads.emplace_back(file_id);
    grants.emplace_back(grant);
    if (read_down > 0 && read_down--) return Unavailable("storage restarting");
    if (read_error) return *read_error;
    auto it = files.find(std::string(file_id));
    if (it == files.end()) return NotFound("no such file", "FILE_NOT_FOUND");
    if (it->second.size() > max_bytes) return ResourceExhausted("too big", "INPUT_TOO_LARGE");
    return it->second;
  }
  Status StoreOutput(const OutputHeader& h, std::string_view ct, std::string_view grant,
                     const std::function<bool()>&) override {
    std::lock_guard<std::mutex> l(mu);
    if (store_down > 0 && store_down--) return Unavailable("storage restarting");
    if (store_error) return *store_error;
    // What storage checks before the file becomes visible.
    if (h.size != ct.size() || h.sha256 != Sha(ct))
      return InvalidArgument("size or hash mismatch", "UPLOAD_HASH_MISMATCH");
    stored[h.file_id] = Stored{h, std::string(ct), std::string(grant)};
    return OkStatus();
  }

  std::mutex mu;
  std::deque<tasks::TaskLease> queue;
  std::map<std::string, std::string> files;
  std::map<std::string, SecretBytes> keys;
  std::map<std::string, Registered> registered;
  std::map<std::string, Stored> stored;
  std::vector<std::string> claim_ids, key_requests, reads, grants;
  std::vector<tasks::CompleteTaskRequest> completes;
  std::vector<tasks::FailTaskRequest> fails;
  int heartbeats = 0;
  bool wrong_key = false;
  std::optional<Error> heartbeat_error, complete_error, key_error, register_error, read_error,
      store_error;
  // The next N calls find the peer down (UNAVAILABLE), then it is back.
  int key_down = 0, register_down = 0, read_down = 0, store_down = 0;
};

tasks::SlotSpec SlotProto(std::string name, bool optional = false, bool variadic = false) {
  tasks::SlotSpec s;
  s.set_name(std::move(name));
  s.set_optional(optional);
  s.set_variadic(variadic);
  if (variadic) {
    s.set_min_count(0);
    s.set_max_count(64);
  } else {
    s.set_min_count(optional ? 0 : 1);
    s.set_max_count(1);
  }
  return s;
}

// A lease as cloister-tasks hands it out.
class LeaseBuilder {
 public:
  LeaseBuilder() {
    lease_.set_task_id("0123456789abcdef0123456789abcdef");
    lease_.set_fencing_token(7);
    lease_.set_lease_expires_unix_ms(WallMs() + 30'000);
    lease_.set_attempt(1);
    lease_.set_task_grant("grant-1");
    lease_.set_digest(std::string(64, 'a'));
  }
  LeaseBuilder& Builtin(std::string name) {
    lease_.set_kind(tasks::FUNCTION_KIND_BUILTIN);
    lease_.set_builtin_name(std::move(name));
    return *this;
  }
  // Lua with inputs "in" (optional), "left" (optional), outputs "out",
  // "extra" and variadic "o", args n (int, default 3) and name (string).
  LeaseBuilder& Lua(std::string source) {
    lease_.set_kind(tasks::FUNCTION_KIND_LUA);
    lease_.set_lua_source(std::move(source));
    tasks::FunctionSpec* s = lease_.mutable_spec();
    s->set_name("test");
    auto* n = s->add_args();
    n->set_name("n");
    n->set_type(tasks::ARG_TYPE_INT);
    n->mutable_default_value()->set_int_value(3);
    auto* nm = s->add_args();
    nm->set_name("name");
    nm->set_type(tasks::ARG_TYPE_STRING);
    nm->mutable_default_value()->set_string_value("world");
    *s->add_inputs() = SlotProto("in", true);
    *s->add_inputs() = SlotProto("left", true);
    *s->add_outputs() = SlotProto("out");
    *s->add_outputs() = SlotProto("extra", true);
    *s->add_outputs() = SlotProto("o", false, true);
    return *this;
  }
  LeaseBuilder& Limits(uint64_t memory, uint64_t instructions, uint64_t wall_ms) {
    auto* l = lease_.mutable_spec()->mutable_limits();
    l->set_memory_bytes(memory);
    l->set_instructions(instructions);
    l->set_wall_time_ms(wall_ms);
    return *this;
  }
  LeaseBuilder& Input(std::string slot, std::string owner, const SealedFile& f) {
    auto* in = lease_.add_inputs();
    in->set_slot(std::move(slot));
    in->set_owner_user_id(std::move(owner));
    in->set_file_id(f.file_id);
    in->set_ciphertext_sha256(Sha(f.ciphertext));
    return *this;
  }
  LeaseBuilder& Output(std::string slot, std::vector<std::string> owners) {
    auto* out = lease_.add_outputs();
    out->set_slot(std::move(slot));
    for (auto& o : owners) out->add_owner_user_ids(std::move(o));
    return *this;
  }
  LeaseBuilder& Arg(const std::string& name, int64_t v) {
    (*lease_.mutable_args())[name].set_int_value(v);
    return *this;
  }
  tasks::TaskLease& lease() { return lease_; }
  tasks::TaskLease Build() const { return lease_; }

 private:
  tasks::TaskLease lease_;
};

RunnerOptions TestOptions() {
  RunnerOptions o;
  o.output_chunk_size = files::kMinChunkSize;
  o.peer_wait = milliseconds(300);  // a peer that stays down is reported quickly
  return o;
}

TaskResult RunOnce(FakeIo& io, const tasks::TaskLease& lease, RunnerOptions opts = TestOptions()) {
  std::atomic<bool> stopping{false};
  TaskRunner runner(&io, std::move(opts));
  return runner.Run(lease, stopping);
}

// Each owner's copy of output `slot`, decrypted with the key registered for
// that owner.
std::map<std::string, std::string> OutputsOf(FakeIo& io, const std::string& slot) {
  std::map<std::string, std::string> out;
  EXPECT_EQ(io.completes.size(), 1u);
  if (io.completes.empty()) return out;
  for (const auto& c : io.completes[0].outputs()) {
    if (c.slot() != slot) continue;
    auto st = io.stored.find(c.file_id());
    auto reg = io.registered.find(c.file_id());
    EXPECT_NE(st, io.stored.end());
    EXPECT_NE(reg, io.registered.end());
    if (st == io.stored.end() || reg == io.registered.end()) continue;
    EXPECT_EQ(reg->second.owner, c.owner_user_id());
    EXPECT_EQ(reg->second.slot, slot);
    EXPECT_EQ(st->second.header.owner_user_id, c.owner_user_id());
    EXPECT_EQ(st->second.header.slot, slot);
    auto plain = Open(reg->second.key.view(), st->second.ciphertext);
    EXPECT_TRUE(plain.ok()) << plain.status().ToString();
    out[c.owner_user_id()] = plain.ok() ? *plain : "<undecryptable>";
  }
  return out;
}

// ---- lease → runtime ----

TEST(ExecTaskLease, SpecConversionKeepsTypesDefaultsBoundsAndSlots) {
  tasks::FunctionSpec p;
  p.set_name("f");
  auto* a = p.add_args();
  a->set_name("k");
  a->set_type(tasks::ARG_TYPE_DOUBLE);
  a->mutable_default_value()->set_double_value(0.5);
  a->mutable_min()->set_value(0);
  a->mutable_max()->set_value(1);
  auto* b = p.add_args();
  b->set_name("flag");
  b->set_type(tasks::ARG_TYPE_BOOL);  // no default: required
  *p.add_inputs() = SlotProto("data");
  *p.add_inputs() = SlotProto("set", false, true);
  p.mutable_inputs(1)->set_min_count(2);
  p.mutable_inputs(1)->set_max_count(8);
  *p.add_outputs() = SlotProto("model", true);

  auto s = SpecFromLease(p);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->name, "f");
  ASSERT_EQ(s->args.size(), 2u);
  EXPECT_EQ(s->args[0].type, functions::ArgType::kDouble);
  ASSERT_TRUE(s->args[0].default_value.has_value());
  EXPECT_EQ(std::get<double>(*s->args[0].default_value), 0.5);
  EXPECT_EQ(s->args[0].min, 0.0);
  EXPECT_EQ(s->args[0].max, 1.0);
  EXPECT_EQ(s->args[1].type, functions::ArgType::kBool);
  EXPECT_FALSE(s->args[1].default_value.has_value());
  ASSERT_EQ(s->inputs.size(), 2u);
  EXPECT_FALSE(s->inputs[0].variadic);
  EXPECT_TRUE(s->inputs[1].variadic);
  EXPECT_EQ(s->inputs[1].min_count, 2);
  EXPECT_EQ(s->inputs[1].max_count, 8);
  ASSERT_EQ(s->outputs.size(), 1u);
  EXPECT_TRUE(s->outputs[0].optional);
  // What the runtime then accepts: "set.<party>" names for the variadic slot.
  EXPECT_NE(functions::MatchSlot(s->inputs, "set.bob"), nullptr);
}

TEST(ExecTaskLease, MalformedSpecIsLeaseInvalid) {
  tasks::FunctionSpec p;
  p.set_name("f");
  p.add_args()->set_name("x");  // ARG_TYPE_UNSPECIFIED
  auto s = SpecFromLease(p);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().reason(), reason::kLeaseInvalid);
  EXPECT_THAT(s.error().message(), HasSubstr("spec.args[0]"));

  tasks::FunctionSpec q;
  q.set_name("f");
  auto* a = q.add_args();
  a->set_name("x");
  a->set_type(tasks::ARG_TYPE_DOUBLE);
  a->mutable_default_value()->set_double_value(std::numeric_limits<double>::infinity());
  EXPECT_EQ(SpecFromLease(q).error().reason(), reason::kLeaseInvalid);

  tasks::FunctionSpec v;
  v.set_name("f");
  *v.add_inputs() = SlotProto("set", false, true);
  v.mutable_inputs(0)->set_min_count(5);
  v.mutable_inputs(0)->set_max_count(2);
  EXPECT_EQ(SpecFromLease(v).error().reason(), reason::kLeaseInvalid);
}

TEST(ExecTaskLease, ArgsConvertTypedValues) {
  google::protobuf::Map<std::string, api::ArgumentValue> m;
  m["s"].set_string_value("x");
  m["i"].set_int_value(-4);
  m["d"].set_double_value(2.5);
  m["b"].set_bool_value(true);
  auto args = ArgsFromLease(m);
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  EXPECT_EQ(std::get<std::string>(args->at("s")), "x");
  EXPECT_EQ(std::get<int64_t>(args->at("i")), -4);
  EXPECT_EQ(std::get<double>(args->at("d")), 2.5);
  EXPECT_EQ(std::get<bool>(args->at("b")), true);

  m["empty"];  // no value set
  EXPECT_EQ(ArgsFromLease(m).error().reason(), reason::kLeaseInvalid);
}

TEST(ExecTaskLease, LuaLimitsDefaultForZeroAndClampToCaps) {
  const functions::lua::LuaLimits defaults;
  auto zero = LuaLimitsFromLease(tasks::LuaLimits(), functions::lua::ClusterMaxima());
  EXPECT_EQ(zero.memory_bytes, defaults.memory_bytes);
  EXPECT_EQ(zero.instructions, defaults.instructions);
  EXPECT_EQ(zero.wall_time_ms, defaults.wall_time_ms);
  EXPECT_EQ(zero.output_bytes, defaults.output_bytes);
  EXPECT_EQ(zero.max_outputs, defaults.max_outputs);

  // A function cannot ask for more than the cluster allows…
  tasks::LuaLimits greedy;
  greedy.set_memory_bytes(uint64_t{1} << 40);
  greedy.set_instructions(uint64_t{1} << 60);
  greedy.set_wall_time_ms(uint64_t{1} << 40);
  greedy.set_output_bytes(uint64_t{1} << 40);
  greedy.set_max_outputs(4'000'000'000u);
  const auto max = functions::lua::ClusterMaxima();
  auto g = LuaLimitsFromLease(greedy, max);
  EXPECT_EQ(g.memory_bytes, max.memory_bytes);
  EXPECT_EQ(g.instructions, max.instructions);
  EXPECT_EQ(g.wall_time_ms, max.wall_time_ms);
  EXPECT_EQ(g.output_bytes, max.output_bytes);
  EXPECT_EQ(g.max_outputs, max.max_outputs);

  // …nor less than the sandbox needs to start; and a lower operator cap wins.
  tasks::LuaLimits tiny;
  tiny.set_memory_bytes(1);
  tiny.set_instructions(1);
  auto t = LuaLimitsFromLease(tiny, max);
  EXPECT_EQ(t.memory_bytes, functions::lua::MinimumLimits().memory_bytes);
  EXPECT_EQ(t.instructions, functions::lua::MinimumLimits().instructions);
  functions::lua::LuaLimits caps = max;
  caps.memory_bytes = 8 << 20;
  EXPECT_EQ(LuaLimitsFromLease(tasks::LuaLimits(), caps).memory_bytes, 8u << 20);
}

TEST(ExecTaskLease, PrepareFunctionPicksBuiltinOrFreshSandboxedLua) {
  auto echo = PrepareFunction(LeaseBuilder().Builtin("echo").Build(), {});
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_EQ(echo->fn->spec().name, "echo");
  EXPECT_EQ(echo->lua, nullptr);

  auto missing = PrepareFunction(LeaseBuilder().Builtin("no_such_fn").Build(), {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().reason(), reason::kBuiltinUnknown);

  LeaseBuilder lb;
  lb.Lua("cloister.output('out', 'x')").Limits(2 << 20, 5000, 70);
  PrepareOptions forked;
  forked.forked_lua = true;
  auto lua = PrepareFunction(lb.Build(), forked);
  ASSERT_TRUE(lua.ok()) << lua.status().ToString();
  ASSERT_NE(lua->lua, nullptr);
  EXPECT_TRUE(lua->lua->options().forked);
  EXPECT_EQ(lua->lua->options().limits.memory_bytes, 2u << 20);
  EXPECT_EQ(lua->lua->options().limits.instructions, 5000u);
  EXPECT_EQ(lua->lua->options().limits.wall_time_ms, 70u);
  EXPECT_EQ(lua->limits.max_output_bytes, lua->lua->options().limits.output_bytes);
  // Two preparations are two functions: no object is shared between tasks.
  auto again = PrepareFunction(lb.Build(), forked);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->lua.get(), lua->lua.get());

  auto syntax = PrepareFunction(LeaseBuilder().Lua("this is not lua (").Build(), {});
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().reason(), "LUA_SYNTAX_ERROR");

  tasks::TaskLease none = LeaseBuilder().Build();  // FUNCTION_KIND_UNSPECIFIED
  EXPECT_EQ(PrepareFunction(none, {}).error().reason(), reason::kLeaseInvalid);
}

// ---- the file format in memory ----

TEST(ExecTaskCrypto, EncryptAndDecryptRoundTripManyChunksAndEmpty) {
  for (std::string plain : {std::string(), std::string("x"), std::string(5000, 'q')}) {
    SecretBytes key = SecretBytes::Random(32);
    files::FileId id{};
    crypto::FillRandom(id);
    auto ct = EncryptOutput(key.view(), id, plain, files::kMinChunkSize);
    ASSERT_TRUE(ct.ok()) << ct.status().ToString();
    auto back = DecryptInput(key.view(), *ct, HexEncode(id));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, plain);
    // Cut or extended, it is refused rather than partly released.
    EXPECT_FALSE(DecryptInput(key.view(), ct->substr(0, ct->size() - 1), HexEncode(id)).ok());
    EXPECT_FALSE(DecryptInput(key.view(), *ct + "z", HexEncode(id)).ok());
  }
}

// ---- running leases ----

TEST(ExecTaskRunner, BuiltinOutputGoesToEveryOwnerUnderItsOwnKey) {
  FakeIo io;
  SealedFile in = Seal(std::string(3000, 'd') + "end");  // three chunks
  io.PutInput(in);
  auto lease = LeaseBuilder()
                   .Builtin("echo")
                   .Input("data", "u-alice", in)
                   .Output("data", {"u-alice", "u-bob"})
                   .Build();
  TaskResult r = RunOnce(io, lease);
  EXPECT_EQ(r.outcome, Outcome::kSucceeded) << r.reason;
  EXPECT_TRUE(io.fails.empty());
  ASSERT_EQ(io.completes.size(), 1u);
  const auto& c = io.completes[0];
  EXPECT_EQ(c.task_id(), lease.task_id());
  EXPECT_EQ(c.fencing_token(), 7u);
  ASSERT_EQ(c.outputs_size(), 2);
  EXPECT_NE(c.outputs(0).file_id(), c.outputs(1).file_id());
  auto outs = OutputsOf(io, "data");
  EXPECT_EQ(outs["u-alice"], std::string(3000, 'd') + "end");
  EXPECT_EQ(outs["u-bob"], std::string(3000, 'd') + "end");
  // Each copy has its own fresh key: one owner's key opens no other copy.
  const auto& ka = io.registered[c.outputs(0).file_id()].key;
  const auto& kb = io.registered[c.outputs(1).file_id()].key;
  EXPECT_FALSE(ConstantTimeEqual(ka.view(), kb.view()));
  EXPECT_FALSE(Open(ka.view(), io.stored[c.outputs(1).file_id()].ciphertext).ok());
  // The input's key was asked for its owner, with the lease's grant.
  EXPECT_THAT(io.key_requests, ::testing::ElementsAre(in.file_id + "@u-alice"));
  EXPECT_EQ(io.grants.front(), "grant-1");
  // The stored header names the file id inside the ciphertext.
  for (const auto& [id, s] : io.stored) {
    auto h = files::FileHeader::Decode(AsBytes(s.ciphertext.substr(0, files::kHeaderSize)));
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(HexEncode(h->file_id), id);
    EXPECT_THAT(s.header.description, HasSubstr(lease.task_id()));
  }
}

TEST(ExecTaskRunner, BuiltinWithVariadicSlotsSeesPartyNames) {
  FakeIo io;
  SealedFile a = Seal("1\n2\n3\n");
  SealedFile b = Seal("2\n3\n4\n");
  io.PutInput(a);
  io.PutInput(b);
  auto lease = LeaseBuilder()
                   .Builtin("psi")
                   .Input("set.alice", "u-alice", a)
                   .Input("set.bob", "u-bob", b)
                   .Output("result.alice", {"u-alice"})
                   .Output("result.bob", {"u-bob"})
                   .Build();
  TaskResult r = RunOnce(io, lease);
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.reason;
  EXPECT_EQ(OutputsOf(io, "result.alice")["u-alice"], "2\n3\n");
  EXPECT_EQ(OutputsOf(io, "result.bob")["u-bob"], "2\n3\n");
}

TEST(ExecTaskRunner, LuaSeesArgsAndInputsAndUnwrittenOutputIsAnEmptyFile) {
  FakeIo io;
  SealedFile in = Seal("abc");
  io.PutInput(in);
  LeaseBuilder lb;
  lb.Lua("local s = cloister.input('in')\n"
         "cloister.output('out', string.rep(s, cloister.args.n), '|', cloister.args.name,\n"
         "                '|', table.concat(cloister.inputs(), ','))")
      .Input("in", "u-alice", in)
      .Output("out", {"u-alice", "u-carol"})
      .Output("extra", {"u-bob"})
      .Arg("n", 2);
  (*lb.lease().mutable_args())["name"].set_string_value("zed");
  // An optional input the task left unbound comes with no file: not fetched.
  auto* unbound = lb.lease().add_inputs();
  unbound->set_slot("left");
  unbound->set_owner_user_id("u-bob");
  TaskResult r = RunOnce(io, lb.Build());
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.reason;
  EXPECT_EQ(io.reads.size(), 1u);
  auto out = OutputsOf(io, "out");
  EXPECT_EQ(out["u-alice"], "abcabc|zed|in");
  EXPECT_EQ(out["u-carol"], "abcabc|zed|in");
  // Every owner always gets a file, empty when the function wrote nothing.
  auto extra = OutputsOf(io, "extra");
  ASSERT_EQ(extra.count("u-bob"), 1u);
  EXPECT_EQ(extra["u-bob"], "");
  EXPECT_EQ(io.completes[0].outputs_size(), 3);
}

TEST(ExecTaskRunner, TwoLuaTasksInARowShareNoState) {
  for (bool forked : {false, true}) {
    SCOPED_TRACE(forked ? "forked" : "in-process");
    RunnerOptions opts = TestOptions();
    opts.forked_lua = forked;
    FakeIo first;
    auto one = LeaseBuilder()
                   .Lua("leaked = 'secret'; _G.x = 1\n"
                        "pcall(function() string.leaked = 'secret' end)\n"
                        "cloister.output('out', 'set')")
                   .Output("out", {"u-a"})
                   .Build();
    ASSERT_EQ(RunOnce(first, one, opts).outcome, Outcome::kSucceeded);
    FakeIo second;
    auto two = LeaseBuilder()
                   .Lua("cloister.output('out', tostring(leaked), ',', tostring(string.leaked),"
                        " ',', tostring(x))")
                   .Output("out", {"u-a"})
                   .Build();
    ASSERT_EQ(RunOnce(second, two, opts).outcome, Outcome::kSucceeded);
    EXPECT_EQ(OutputsOf(second, "out")["u-a"], "nil,nil,nil");
  }
}

struct LimitCase {
  const char* name;
  const char* source;
  uint64_t memory, instructions, wall_ms;
  const char* reason;
  const char* message;
};

TEST(ExecTaskRunner, LuaLimitsFailWithTheRuntimeReasonAndNoRetry) {
  const LimitCase cases[] = {
      {"memory", "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1024) .. i end", 1 << 20,
       0, 0, "MEMORY_LIMIT_EXCEEDED", "memory limit (1048576 bytes)"},
      {"instructions", "local i = 0 while true do i = i + 1 end", 0, 100'000, 0,
       "INSTRUCTION_LIMIT_EXCEEDED", "instruction limit (100000)"},
      {"wall time", "local i = 0 while true do i = i + 1 end", 0, uint64_t{1} << 40, 100,
       "TIME_LIMIT_EXCEEDED", "wall-time limit (100 ms)"},
  };
  for (const LimitCase& c : cases) {
    SCOPED_TRACE(c.name);
    FakeIo io;
    auto lease = LeaseBuilder()
                     .Lua(c.source)
                     .Limits(c.memory, c.instructions, c.wall_ms)
                     .Output("out", {"u-a"})
                     .Build();
    TaskResult r = RunOnce(io, lease);
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    ASSERT_EQ(io.fails.size(), 1u);
    EXPECT_EQ(io.fails[0].reason(), c.reason);
    EXPECT_FALSE(io.fails[0].retryable());
    EXPECT_EQ(io.fails[0].fencing_token(), 7u);
    EXPECT_THAT(io.fails[0].message(), HasSubstr(c.message));
    EXPECT_TRUE(io.completes.empty());
    EXPECT_TRUE(io.stored.empty());  // a failed function publishes nothing
  }
}

TEST(ExecTaskRunner, ForbiddenSystemCallIsSandboxViolationAndTheWorkerGoesOn) {
  RunnerOptions opts = TestOptions();
  opts.forked_lua = true;
  opts.unsafe_test_syscall_fn = [] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) close(fd);
  };
  FakeIo io;
  auto lease =
      LeaseBuilder().Lua("cloister._test_syscall()").Output("out", {"u-a"}).Build();
  TaskResult r = RunOnce(io, lease, opts);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  ASSERT_EQ(io.fails.size(), 1u);
  EXPECT_EQ(io.fails[0].reason(), "SANDBOX_VIOLATION");
  EXPECT_THAT(io.fails[0].message(), HasSubstr("socket"));
  EXPECT_FALSE(io.fails[0].retryable());
  // This process (the worker) is unharmed and runs the next task.
  FakeIo next;
  auto ok = LeaseBuilder().Lua("cloister.output('out', 'fine')").Output("out", {"u-a"}).Build();
  EXPECT_EQ(RunOnce(next, ok, opts).outcome, Outcome::kSucceeded);
  EXPECT_EQ(OutputsOf(next, "out")["u-a"], "fine");
}

TEST(ExecTaskRunner, FailureMessagesNeverQuoteInputData) {
  // A Lua error carrying the input…
  FakeIo io;
  SealedFile in = Seal("SECRET-ROW-42");
  io.PutInput(in);
  auto lua = LeaseBuilder()
                 .Lua("error('bad row: ' .. cloister.input('in'))")
                 .Input("in", "u-a", in)
                 .Output("out", {"u-a"})
                 .Build();
  RunOnce(io, lua);
  ASSERT_EQ(io.fails.size(), 1u);
  EXPECT_EQ(io.fails[0].reason(), "LUA_RUNTIME_ERROR");
  EXPECT_THAT(io.fails[0].message(), Not(HasSubstr("SECRET")));
  EXPECT_FALSE(io.fails[0].retryable());

  // …and a built-in whose own error quotes a CSV cell.
  FakeIo io2;
  SealedFile csv = Seal("y,x\n1,SECRET-CELL\n2,3\n");
  io2.PutInput(csv);
  auto lease = LeaseBuilder()
                   .Builtin("linreg_train")
                   .Input("data", "u-a", csv)
                   .Output("model", {"u-a"})
                   .Output("metrics", {"u-a"})
                   .Build();
  (*lease.mutable_args())["label"].set_string_value("y");
  RunOnce(io2, lease);
  ASSERT_EQ(io2.fails.size(), 1u);
  EXPECT_EQ(io2.fails[0].reason(), "CSV_BAD_VALUE");
  EXPECT_THAT(io2.fails[0].message(), Not(HasSubstr("SECRET")));
  EXPECT_LE(io2.fails[0].message().size(), kMaxFailureMessageBytes);
}

TEST(ExecTaskRunner, SubstitutedCiphertextIsRefusedBeforeAnyKeyOrDecryption) {
  // Storage serves a valid file of the same owner, just not the approved one.
  FakeIo io;
  SealedFile approved = Seal("approved data");
  SealedFile other = Seal("other data");
  io.PutInput(approved);
  io.keys[approved.file_id] = other.key;
  io.files[approved.file_id] = other.ciphertext;
  auto lease = LeaseBuilder()
                   .Builtin("echo")
                   .Input("data", "u-a", approved)
                   .Output("data", {"u-a"})
                   .Build();
  TaskResult r = RunOnce(io, lease);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  ASSERT_EQ(io.fails.size(), 1u);
  EXPECT_EQ(io.fails[0].reason(), reason::kInputIntegrity);
  EXPECT_FALSE(io.fails[0].retryable());
  EXPECT_TRUE(io.key_requests.empty());  // not even the key was fetched
  EXPECT_TRUE(io.stored.empty());

  // One flipped byte of the approved file: the same refusal.
  FakeIo io2;
  io2.PutInput(approved);
  io2.files[approved.file_id][files::kHeaderSize + 2] ^= 0x01;
  RunOnce(io2, lease);
  ASSERT_EQ(io2.fails.size(), 1u);
  EXPECT_EQ(io2.fails[0].reason(), reason::kInputIntegrity);
  EXPECT_TRUE(io2.key_requests.empty());
}

TEST(ExecTaskRunner, ApprovedBytesUnderAnotherFileIdAreRefused) {
  // The approved hash is of a file whose header names another id than the
  // lease's file: the bytes are someone else's file.
  FakeIo io;
  SealedFile real = Seal("data");
  SealedFile label = Seal("x");
  io.files[label.file_id] = real.ciphertext;
  io.keys[label.file_id] = real.key;
  LeaseBuilder lb;
  lb.Builtin("echo").Output("data", {"u-a"});
  auto* in = lb.lease().add_inputs();
  in->set_slot("data");
  in->set_owner_user_id("u-a");
  in->set_file_id(label.file_id);
  in->set_ciphertext_sha256(Sha(real.ciphertext));
  RunOnce(io, lb.Build());
  ASSERT_EQ(io.fails.size(), 1u);
  EXPECT_EQ(io.fails[0].reason(), reason::kInputIntegrity);
}

TEST(ExecTaskRunner, WrongKeyFailsToDecrypt) {
  FakeIo io;
  SealedFile in = Seal("data");
  io.PutInput(in);
  io.wrong_key = true;
  auto lease =
      LeaseBuilder().Builtin("echo").Input("data", "u-a", in).Output("data", {"u-a"}).Build();
  TaskResult r = RunOnce(io, lease);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  ASSERT_EQ(io.fails.size(), 1u);
  EXPECT_EQ(io.fails[0].reason(), reason::kInputDecrypt);
  EXPECT_THAT(io.fails[0].message(), HasSubstr("FILE_CHUNK_AUTH_FAILED"));
  EXPECT_FALSE(io.fails[0].retryable());
  EXPECT_TRUE(io.stored.empty());
}

TEST(ExecTaskRunner, InputsPastTheClusterMaximumAreRefused) {
  FakeIo io;
  SealedFile a = Seal(std::string(600, 'a'));
  SealedFile b = Seal(std::string(600, 'b'));
  io.PutInput(a);
  io.PutInput(b);
  RunnerOptions opts = TestOptions();
  // Each fits alone; together they do not.
  opts.max_input_bytes = a.ciphertext.size() + b.ciphertext.size() - 1;
  auto lease = LeaseBuilder()
                   .Builtin("psi")
                   .Input("set.a", "u-a", a)
                   .Input("set.b", "u-b", b)
                   .Output("result.a", {"u-a"})
                   .Output("result.b", {"u-b"})
                   .Build();
  RunOnce(io, lease, opts);
  ASSERT_EQ(io.fails.size(), 1u);
  EXPECT_EQ(io.fails[0].reason(), reason::kInputTooLarge);
  EXPECT_FALSE(io.fails[0].retryable());
}

TEST(ExecTaskRunner, PeerFaultsAreRetryableWhereSensible) {
  SealedFile in = Seal("data");
  auto lease =
      LeaseBuilder().Builtin("echo").Input("data", "u-a", in).Output("data", {"u-a"}).Build();
  struct Case {
    const char* name;
    std::function<void(FakeIo&)> inject;
    const char* reason;
    bool retryable;
  };
  const Case cases[] = {
      {"storage down", [](FakeIo& io) { io.read_error = Unavailable("connection refused"); },
       "STORAGE_UNAVAILABLE", true},
      {"keyvault slow", [](FakeIo& io) { io.key_error = DeadlineExceeded("deadline"); },
       "KEYVAULT_DEADLINE_EXCEEDED", true},
      {"file gone", [](FakeIo& io) { io.read_error = NotFound("absent", "FILE_NOT_FOUND"); },
       "FILE_NOT_FOUND", false},
      {"grant refused",
       [](FakeIo& io) { io.key_error = PermissionDenied("not named", "TASK_GRANT_NOT_NAMED"); },
       "TASK_GRANT_NOT_NAMED", false},
      {"store down", [](FakeIo& io) { io.store_error = Unavailable("gone"); },
       "STORAGE_UNAVAILABLE", true},
      {"register down", [](FakeIo& io) { io.register_error = Unavailable("gone"); },
       "KEYVAULT_UNAVAILABLE", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeIo io;
    io.PutInput(in);
    c.inject(io);
    TaskResult r = RunOnce(io, lease);
    ASSERT_EQ(io.fails.size(), 1u);
    EXPECT_EQ(io.fails[0].reason(), c.reason);
    EXPECT_EQ(io.fails[0].retryable(), c.retryable);
    EXPECT_EQ(r.outcome, c.retryable ? Outcome::kRequeued : Outcome::kFailed);
    EXPECT_TRUE(io.completes.empty());
  }
}

TEST(ExecTaskRunner, APeerRestartingCostsAPauseNotAnAttempt) {
  SealedFile in = Seal("data");
  auto lease = LeaseBuilder()
                   .Builtin("echo")
                   .Input("data", "u-a", in)
                   .Output("data", {"u-a", "u-b"})
                   .Build();
  FakeIo io;
  io.PutInput(in);
  io.read_down = 2;
  io.key_down = 1;
  io.register_down = 1;
  io.store_down = 1;
  RunnerOptions opts = TestOptions();
  opts.peer_wait = milliseconds(10'000);
  TaskResult r = RunOnce(io, lease, opts);
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  EXPECT_TRUE(io.fails.empty());
  ASSERT_EQ(io.completes.size(), 1u);
  // One stored copy per owner: the copy whose key or store call met a down
  // peer was made again under a new key and id, never half-reused.
  EXPECT_EQ(io.stored.size(), 2u);
  for (const auto& c : io.completes[0].outputs()) EXPECT_TRUE(io.stored.count(c.file_id()));
}

TEST(ExecTaskRunner, LostOrCanceledLeaseDropsTheResult) {
  for (const char* why : {"LEASE_LOST", "TASK_CANCELED"}) {
    SCOPED_TRACE(why);
    FakeIo io;
    io.heartbeat_error = FailedPrecondition("gone", why);
    auto lease =
        LeaseBuilder().Lua("cloister.output('out', 'result')").Output("out", {"u-a"}).Build();
    TaskResult r = RunOnce(io, lease);
    EXPECT_EQ(r.outcome, Outcome::kLeaseLost);
    EXPECT_EQ(r.reason, why);
    // Learned by the heartbeat before storing: nothing reaches an owner,
    // nothing is reported.
    EXPECT_GE(io.heartbeats, 1);
    EXPECT_TRUE(io.stored.empty());
    EXPECT_TRUE(io.registered.empty());
    EXPECT_TRUE(io.completes.empty());
    EXPECT_TRUE(io.fails.empty());
  }
}

TEST(ExecTaskRunner, HeartbeatsRunDuringTheFunctionAndRenewTheGrant) {
  RunnerOptions opts = TestOptions();
  // The function sleeps in C for 700 ms; the lease is 600 ms (beat every 200).
  opts.unsafe_test_syscall_fn = [] { std::this_thread::sleep_for(milliseconds(700)); };
  FakeIo io;
  LeaseBuilder lb;
  lb.Lua("cloister._test_syscall() cloister.output('out', 'late')").Output("out", {"u-a"});
  lb.lease().set_lease_expires_unix_ms(WallMs() + 600);
  TaskResult r = RunOnce(io, lb.Build(), opts);
  ASSERT_EQ(r.outcome, Outcome::kSucceeded) << r.reason;
  EXPECT_GE(io.heartbeats, 3);  // ≥ 2 during the run + 1 before storing
  // Outputs went out under the newest grant, not the claim's.
  ASSERT_EQ(io.registered.size(), 1u);
  EXPECT_NE(io.registered.begin()->second.grant, "grant-1");
  EXPECT_EQ(io.stored.begin()->second.grant, io.registered.begin()->second.grant);
}

TEST(ExecTaskRunner, LeaseLostWhileTheFunctionRunsIsDropped) {
  RunnerOptions opts = TestOptions();
  opts.unsafe_test_syscall_fn = [] { std::this_thread::sleep_for(milliseconds(500)); };
  FakeIo io;
  io.heartbeat_error = FailedPrecondition("canceled", "TASK_CANCELED");
  LeaseBuilder lb;
  lb.Lua("cloister._test_syscall() cloister.output('out', 'x')").Output("out", {"u-a"});
  lb.lease().set_lease_expires_unix_ms(WallMs() + 300);
  TaskResult r = RunOnce(io, lb.Build(), opts);
  EXPECT_EQ(r.outcome, Outcome::kLeaseLost);
  EXPECT_EQ(io.heartbeats, 1);  // the periodic one; no renewal is tried once lost
  EXPECT_TRUE(io.stored.empty());
  EXPECT_TRUE(io.completes.empty());
  EXPECT_TRUE(io.fails.empty());
}

TEST(ExecTaskRunner, RefusedCompletionIsLoggedAndDropped) {
  FakeIo io;
  io.complete_error = FailedPrecondition("lease lost", "LEASE_LOST");
  auto lease = LeaseBuilder().Lua("cloister.output('out', 'x')").Output("out", {"u-a"}).Build();
  TaskResult r = RunOnce(io, lease);
  EXPECT_EQ(r.outcome, Outcome::kRefused);
  EXPECT_EQ(r.reason, "LEASE_LOST");
  EXPECT_EQ(io.completes.size(), 1u);  // not retried: the refusal is final
  EXPECT_TRUE(io.fails.empty());
}

TEST(ExecTaskRunner, TransientCompletionErrorIsRetried) {
  FakeIo io;
  io.complete_error = Unavailable("tasks restarting");
  auto lease = LeaseBuilder().Lua("cloister.output('out', 'x')").Output("out", {"u-a"}).Build();
  RunnerOptions opts = TestOptions();
  opts.report_attempts = 2;
  TaskResult r = RunOnce(io, lease, opts);
  EXPECT_EQ(r.outcome, Outcome::kUnreported);
  EXPECT_EQ(io.completes.size(), 2u);
}

TEST(ExecTaskRunner, StoppingWorkerHandsTheTaskBack) {
  FakeIo io;
  SealedFile in = Seal("data");
  io.PutInput(in);
  auto lease =
      LeaseBuilder().Builtin("echo").Input("data", "u-a", in).Output("data", {"u-a"}).Build();
  std::atomic<bool> stopping{true};
  TaskRunner runner(&io, TestOptions());
  TaskResult r = runner.Run(lease, stopping);
  EXPECT_EQ(r.outcome, Outcome::kStopped);
  ASSERT_EQ(io.fails.size(), 1u);
  EXPECT_EQ(io.fails[0].reason(), reason::kWorkerStopping);
  EXPECT_TRUE(io.fails[0].retryable());
  EXPECT_TRUE(io.reads.empty());
}

// ---- failure mapping ----

TEST(ExecTaskFailure, FunctionErrorsKeepStableReasons) {
  RunLimits lim;
  lim.lua = functions::lua::LuaLimits{};
  auto f = FunctionFailure(ResourceExhausted("x", "MEMORY_LIMIT_EXCEEDED"), lim);
  EXPECT_EQ(f.reason, "MEMORY_LIMIT_EXCEEDED");
  EXPECT_FALSE(f.retryable);
  EXPECT_EQ(FunctionFailure(Aborted("boom"), lim).reason, reason::kFunctionError);
  EXPECT_EQ(FunctionFailure(InvalidArgument("m", "lower_case"), lim).reason,
            reason::kFunctionError);  // not a stable reason: replaced
  EXPECT_TRUE(FunctionFailure(Internal("x", "SANDBOX_SETUP_FAILED"), lim).retryable);
  auto big = FunctionFailure(PermissionDenied(std::string(5000, 's'), "SANDBOX_VIOLATION"), lim);
  EXPECT_LE(big.message.size(), kMaxFailureMessageBytes);
}

TEST(ExecTaskFailure, MessagesAreMadeTextTheTasksServiceAccepts) {
  // Control bytes and invalid UTF-8 become '?'; \n, \t and real UTF-8 stay.
  EXPECT_EQ(SanitizeFailureMessage("a\x01" "b\x7f" "c\n\td"), "a?b?c\n\td");
  EXPECT_EQ(SanitizeFailureMessage("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(SanitizeFailureMessage("\xff\xc3"), "??");         // stray and truncated
  EXPECT_EQ(SanitizeFailureMessage("\xc0\xaf"), "??");         // overlong '/'
  EXPECT_EQ(SanitizeFailureMessage("\xed\xa0\x80"), "???");    // a surrogate
  EXPECT_EQ(SanitizeFailureMessage("\xf4\x90\x80\x80"), "????");  // past U+10FFFF
  // The cut never splits a character.
  std::string long_text(kMaxFailureMessageBytes - 1, 'x');
  long_text += "\xc3\xa9tail";
  const std::string cut = SanitizeFailureMessage(long_text);
  EXPECT_EQ(cut, std::string(kMaxFailureMessageBytes - 1, 'x'));
}

TEST(ExecTaskFailure, PeerErrorsNameThePeer) {
  auto f = PeerFailure("storage", Unavailable("down"));
  EXPECT_EQ(f.reason, "STORAGE_UNAVAILABLE");
  EXPECT_TRUE(f.retryable);
  EXPECT_THAT(f.message, HasSubstr("storage"));
  auto g = PeerFailure("keyvault", PermissionDenied("expired", "TASK_GRANT_EXPIRED"));
  EXPECT_EQ(g.reason, "TASK_GRANT_EXPIRED");
  EXPECT_TRUE(g.retryable);
  EXPECT_FALSE(PeerFailure("storage", DataLoss("x")).retryable);
}

// ---- the pool ----

TEST(ExecWorkerPool, ClampWorkers) {
  EXPECT_EQ(ClampWorkers(-3), 0);
  EXPECT_EQ(ClampWorkers(0), 0);
  EXPECT_EQ(ClampWorkers(1), 1);
  EXPECT_EQ(ClampWorkers(64), 64);
  EXPECT_EQ(ClampWorkers(1000), 64);
}

TEST(ExecWorkerPool, ClaimsRunsAndStopsCleanly) {
  FakeIo io;
  for (int i = 0; i < 3; ++i) {
    LeaseBuilder lb;
    lb.Lua("cloister.output('out', 'task " + std::to_string(i) + "')").Output("out", {"u-a"});
    lb.lease().set_task_id(std::string(31, 'a') + std::to_string(i));
    io.queue.push_back(lb.Build());
  }
  WorkerPoolOptions opts;
  opts.workers = 2;
  opts.name = "host-1";
  opts.runner = TestOptions();
  WorkerPool pool(&io, opts);
  pool.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    {
      std::lock_guard<std::mutex> l(io.mu);
      if (io.completes.size() == 3) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(milliseconds(5));
  }
  const auto stop_start = std::chrono::steady_clock::now();
  EXPECT_TRUE(pool.Stop(std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, std::chrono::seconds(2));
  auto c = pool.Counters();
  EXPECT_EQ(c["claims"], 3u);
  EXPECT_EQ(c["succeeded"], 3u);
  EXPECT_EQ(c["running"], 0u);
  std::lock_guard<std::mutex> l(io.mu);
  for (const auto& id : io.claim_ids)
    EXPECT_TRUE(id == "host-1/0" || id == "host-1/1") << id;
}

TEST(ExecWorkerPool, IdleWorkersBackOffInsteadOfSpinning) {
  FakeIo io;
  WorkerPoolOptions opts;
  opts.workers = 1;
  opts.name = "w";
  WorkerPool pool(&io, opts);
  pool.Start();
  std::this_thread::sleep_for(milliseconds(700));
  EXPECT_TRUE(pool.Stop(std::chrono::seconds(5)));
  // 50 + 100 + 200 + 400 ms of sleep: about five claims, never hundreds.
  std::lock_guard<std::mutex> l(io.mu);
  EXPECT_GE(io.claim_ids.size(), 3u);
  EXPECT_LE(io.claim_ids.size(), 6u);
}

TEST(ExecWorkerPool, DefaultWorkerNameIsHostAndPid) {
  const std::string name = DefaultWorkerName();
  EXPECT_THAT(name, ::testing::EndsWith("-" + std::to_string(::getpid())));
  EXPECT_LE(name.size(), 128u);
}

}  // namespace
}  // namespace cloister::exec
