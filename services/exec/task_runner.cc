// Running one task lease; see task_runner.h. Failures and their messages
// are in task_failures.cc, input decryption and output encryption in
// task_crypto.cc.
#include "services/exec/task_runner.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <variant>

#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/logging.h"
#include "common/secret.h"
#include "files/file_stream.h"
#include "functions/lua/lua_function.h"
#include "services/exec/task_failures_detail.h"
#include "services/exec/task_lease.h"

namespace cloister::exec {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using detail::Capped;
using detail::IsReason;
using detail::IsTransient;

constexpr const char* kLeaseLost = "LEASE_LOST";
constexpr const char* kTaskCanceled = "TASK_CANCELED";
constexpr size_t kMaxOwnersPerSlot = 64;
constexpr int kMaxSlots = 1024;
constexpr milliseconds kMaxHeartbeatInterval{60'000};
constexpr milliseconds kDefaultLease{30'000};

int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsLeaseRefusal(const Error& e) {
  return e.code() == Code::kFailedPrecondition &&
         (e.reason() == kLeaseLost || e.reason() == kTaskCanceled);
}

TaskFailure Failure(const char* reason, std::string message, bool retryable = false) {
  return TaskFailure{reason, Capped(message), retryable};
}

// Keeps one lease alive: a heartbeat every lease/3 on its own thread, the
// newest task grant, and the verdict once the lease is lost. Heartbeats stop
// when it is destroyed.
class LeaseKeeper {
 public:
  LeaseKeeper(TaskIo* io, const tasks::TaskLease& lease, milliseconds min_interval)
      : io_(io), task_id_(lease.task_id()), token_(lease.fencing_token()),
        grant_(lease.task_grant()), last_renewed_(Clock::now()) {
    const int64_t left = lease.lease_expires_unix_ms() - WallMs();
    // A clock that disagrees with tasks' would make `left` meaningless;
    // tasks' default lease is then the best guess.
    lease_ = left > 0 ? milliseconds(left) : kDefaultLease;
    interval_ = std::clamp(lease_ / 3, min_interval, kMaxHeartbeatInterval);
    thread_ = std::thread([this] { Loop(); });
  }
  ~LeaseKeeper() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  std::string grant() const {
    std::lock_guard<std::mutex> l(mu_);
    return grant_;
  }
  bool lost() const { return lost_.load(); }
  std::string lost_reason() const {
    std::lock_guard<std::mutex> l(mu_);
    return lost_reason_;
  }
  // One heartbeat now (before the outputs are stored, so a task canceled
  // while its function ran stores nothing). False iff the lease is lost.
  bool Renew() {
    Beat();
    return !lost();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      if (cv_.wait_for(l, interval_, [this] { return stop_; })) break;
      l.unlock();
      Beat();
      l.lock();
      if (lost_.load()) break;
    }
  }

  void Beat() {
    if (lost_.load()) return;
    auto r = io_->Heartbeat(task_id_, token_);
    std::lock_guard<std::mutex> l(mu_);
    if (r.ok()) {
      if (!r->task_grant().empty()) grant_ = r->task_grant();
      last_renewed_ = Clock::now();
      failing_ = false;
      return;
    }
    if (IsLeaseRefusal(r.error())) {
      MarkLostLocked(r.error().reason());
      return;
    }
    if (!failing_) {
      LOG_WARN("task heartbeat failed; retrying",
               {{"task_id", task_id_}, {"error", r.error().ToString()}});
      failing_ = true;
    }
    // Nobody renewed it for a whole lease: tasks has expired it by now.
    if (Clock::now() - last_renewed_ >= lease_) MarkLostLocked("LEASE_EXPIRED");
  }

  void MarkLostLocked(std::string why) {
    lost_reason_ = std::move(why);
    lost_.store(true);
  }

  TaskIo* io_;
  const std::string task_id_;
  const uint64_t token_;
  milliseconds lease_{};
  milliseconds interval_{};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string grant_;              // guarded by mu_
  Clock::time_point last_renewed_; // guarded by mu_
  bool failing_ = false;           // guarded by mu_
  bool stop_ = false;              // guarded by mu_
  std::string lost_reason_;        // guarded by mu_
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

// Why a run ended early without a failure to report.
struct Abandoned {};

template <typename T>
using Step = std::variant<T, TaskFailure, Abandoned>;

// One attempt at a lease: its steps and what they share.
class Attempt {
 public:
  Attempt(TaskIo* io, const RunnerOptions& opts, const tasks::TaskLease& lease,
          LeaseKeeper& keeper, const std::atomic<bool>& stopping)
      : io_(io), opts_(opts), lease_(lease), keeper_(keeper), stopping_(stopping) {}

  bool aborted() const { return keeper_.lost() || stopping_.load(); }

  // Calls `fn` again while its peer is unreachable (UNAVAILABLE), with
  // backoff, for up to opts_.peer_wait, unless the attempt is abandoned.
  template <typename Fn>
  auto WhilePeerDown(Fn&& fn) -> decltype(fn()) {
    const auto deadline = std::chrono::steady_clock::now() + opts_.peer_wait;
    milliseconds pause{100};
    bool logged = false;
    while (true) {
      auto r = fn();
      if (r.ok() || r.code() != Code::kUnavailable || aborted() ||
          std::chrono::steady_clock::now() + pause > deadline)
        return r;
      if (!logged) {
        LOG_WARN("a peer is unreachable; waiting for it within the attempt",
                 {{"task_id", lease_.task_id()}});
        logged = true;
      }
      for (auto until = std::chrono::steady_clock::now() + pause;
           std::chrono::steady_clock::now() < until && !aborted();)
        std::this_thread::sleep_for(milliseconds(20));
      pause = std::min(pause * 2, milliseconds(2000));
    }
  }

  Step<functions::Inputs> FetchInputs() {
    functions::Inputs inputs;
    uint64_t used = 0;
    const std::function<bool()> aborted_fn = [this] { return aborted(); };
    for (const tasks::LeasedInput& in : lease_.inputs()) {
      // An optional slot the task left unbound has no file.
      if (in.file_id().empty()) continue;
      if (aborted()) return Abandoned{};
      const std::string slot = in.slot().substr(0, 64);
      if (in.slot().empty() || inputs.count(in.slot()))
        return Failure(reason::kLeaseInvalid, "lease input slot '" + slot + "' is empty or repeated");
      if (in.ciphertext_sha256().size() != crypto::kSha256Size)
        return Failure(reason::kLeaseInvalid, "lease input `" + slot + "` has no SHA-256");
      const uint64_t budget = opts_.max_input_bytes - used;
      auto ct = WhilePeerDown([&] {
        return io_->ReadInput(in.file_id(), keeper_.grant(), budget, aborted_fn);
      });
      if (!ct.ok()) {
        if (aborted()) return Abandoned{};
        if (ct.error().reason() == reason::kInputTooLarge) return TooLarge(slot);
        return Prefixed(PeerFailure("storage", ct.error()), slot);
      }
      if (ct->size() > budget) return TooLarge(slot);
      used += ct->size();
      // The approved file, byte for byte, before anything else touches it:
      // no key is even asked for a substituted or altered ciphertext.
      const crypto::Digest d = crypto::Sha256(*ct);
      if (!ConstantTimeEqual(d, AsBytes(in.ciphertext_sha256())))
        return Failure(reason::kInputIntegrity,
                       "input `" + slot +
                           "`: the fetched ciphertext's SHA-256 is not the one approved");
      auto key = WhilePeerDown(
          [&] { return io_->GetInputKey(in.file_id(), in.owner_user_id(), keeper_.grant()); });
      if (!key.ok()) {
        if (aborted()) return Abandoned{};
        return Prefixed(PeerFailure("keyvault", key.error()), slot);
      }
      if (key->size() != files::kFileKeySize)
        return Failure(reason::kInputKey, "input `" + slot + "`: keyvault returned a key of " +
                                              std::to_string(key->size()) + " bytes");
      auto plain = DecryptInput(key->view(), *ct, in.file_id());
      if (!plain.ok())
        return Failure(plain.error().reason() == reason::kInputIntegrity ? reason::kInputIntegrity
                                                                         : reason::kInputDecrypt,
                       "input `" + slot + "`: " + plain.error().message());
      inputs.emplace(in.slot(), *std::move(plain));
    }
    return inputs;
  }

  Step<functions::Outputs> RunFunction(functions::Inputs inputs) {
    PrepareOptions popts;
    popts.forked_lua = opts_.forked_lua;
    popts.lua_caps = opts_.lua_caps;
    popts.unsafe_test_syscall_fn = opts_.unsafe_test_syscall_fn;
    auto fn = PrepareFunction(lease_, popts);
    if (!fn.ok()) {
      // A built-in this exec lacks, a bad lease, or a syntax error in the
      // approved source: words about code, never about data.
      const Error& e = fn.error();
      return TaskFailure{IsReason(e.reason()) ? e.reason() : reason::kLeaseInvalid,
                         Capped(e.message()), false};
    }
    auto args = ArgsFromLease(lease_.args());
    if (!args.ok()) return Failure(reason::kLeaseInvalid, args.error().message());
    auto rt = functions::Runtime::CreateTyped(fn->fn->spec(), *args, std::move(inputs),
                                              fn->limits);
    if (!rt.ok()) {
      // Names of arguments and slots, bounds from the spec: no input bytes.
      const Error& e = rt.error();
      return TaskFailure{IsReason(e.reason()) ? e.reason() : reason::kBindingInvalid,
                         Capped(e.message()), false};
    }
    Status st;
    if (fn->lua) {
      functions::lua::RunReport report;
      st = fn->lua->RunWithReport(**rt, &report);
      // Usage is counts, not content; the function's log may quote data,
      // so it is not kept (there is no channel in the contract for it).
      usage_ = report.usage;
      Cleanse(report.log);
    } else {
      st = fn->fn->Run(**rt);
    }
    if (!st.ok()) return FunctionFailure(st.error(), RunLimits{fn->limits, fn->lua_limits});
    return std::move(**rt).TakeOutputs();
  }

  Step<std::vector<tasks::CompletedOutput>> StoreOutputs(functions::Outputs& outputs) {
    std::set<std::string> seen;
    if (lease_.outputs_size() > kMaxSlots)
      return Failure(reason::kLeaseInvalid, "lease has too many output slots");
    // A slot the function did not write is an empty file: every owner
    // always gets one.
    static const std::string kEmpty;
    struct Copy {
      const tasks::LeasedOutput* out;
      const std::string* owner;
      const std::string* plain;
    };
    std::vector<Copy> copies;
    for (const tasks::LeasedOutput& out : lease_.outputs()) {
      const std::string slot = out.slot().substr(0, 64);
      if (out.slot().empty() || !seen.insert(out.slot()).second ||
          out.owner_user_ids().empty() ||
          static_cast<size_t>(out.owner_user_ids_size()) > kMaxOwnersPerSlot)
        return Failure(reason::kLeaseInvalid, "lease output slot '" + slot +
                                                  "' is empty, repeated or has no owners");
      auto it = outputs.find(out.slot());
      const std::string* plain = it == outputs.end() ? &kEmpty : &it->second;
      for (const std::string& owner : out.owner_user_ids()) copies.push_back({&out, &owner, plain});
    }
    // The copies are independent (each its own key, id and stream): store
    // a few at once, so a task's latency is not the sum of its copies'.
    constexpr size_t kParallelCopies = 4;
    std::vector<tasks::CompletedOutput> done;
    done.reserve(copies.size());
    for (size_t at = 0; at < copies.size(); at += kParallelCopies) {
      if (aborted()) return Abandoned{};
      const size_t end = std::min(copies.size(), at + kParallelCopies);
      std::vector<Step<tasks::CompletedOutput>> results(end - at);
      std::vector<std::thread> threads;
      for (size_t i = at + 1; i < end; ++i)
        threads.emplace_back([&, i] {
          results[i - at] = StoreCopy(*copies[i].out, *copies[i].owner, *copies[i].plain);
        });
      results[0] = StoreCopy(*copies[at].out, *copies[at].owner, *copies[at].plain);
      for (auto& t : threads) t.join();
      // In copy order: the first failure is the one reported.
      for (auto& r : results) {
        if (auto* f = std::get_if<TaskFailure>(&r)) return *f;
        if (std::holds_alternative<Abandoned>(r)) return Abandoned{};
        done.push_back(std::get<tasks::CompletedOutput>(std::move(r)));
      }
    }
    return done;
  }

  // One owner's copy of one output slot. A key and a file id of its own for
  // every copy: no owner can read, delete or re-share another's. A copy
  // whose peer was down is made again from scratch (new key, new id): what
  // reached a peer before the fault is never reused.
  Step<tasks::CompletedOutput> StoreCopy(const tasks::LeasedOutput& out, const std::string& owner,
                                         const std::string& plain) {
    const std::function<bool()> aborted_fn = [this] { return aborted(); };
    const std::string slot = out.slot().substr(0, 64);
    if (aborted()) return Abandoned{};
    std::string file_id;
    std::optional<TaskFailure> failed;
    const char* peer = "keyvault";  // the one the last fault came from
    Status st = WhilePeerDown([&]() -> Status {
      SecretBytes key = SecretBytes::Random(files::kFileKeySize);
      files::FileId id{};
      crypto::FillRandom(id);
      auto ct = EncryptOutput(key.view(), id, plain, opts_.output_chunk_size);
      if (!ct.ok()) {
        failed = Failure(reason::kOutputEncrypt, "output `" + slot + "`: " + ct.error().ToString());
        return OkStatus();
      }
      file_id = HexEncode(id);
      peer = "keyvault";
      if (Status reg =
              io_->RegisterOutputKey(file_id, owner, out.slot(), key.view(), keeper_.grant());
          !reg.ok()) {
        if (reg.code() != Code::kUnavailable)
          failed = Prefixed(PeerFailure("keyvault", reg.error()), slot);
        return reg;
      }
      const crypto::Digest d = crypto::Sha256(*ct);
      OutputHeader h;
      h.slot = out.slot();
      h.owner_user_id = owner;
      h.file_id = file_id;
      h.size = ct->size();
      h.sha256 = std::string(AsChars(d));
      h.description = ("output `" + slot + "` of task " + lease_.task_id()).substr(0, 1024);
      peer = "storage";
      Status stored = io_->StoreOutput(h, *ct, keeper_.grant(), aborted_fn);
      if (!stored.ok() && stored.code() != Code::kUnavailable)
        failed = Prefixed(PeerFailure("storage", stored.error()), slot);
      return stored;
    });
    if (aborted()) return Abandoned{};
    if (failed) return *failed;
    if (!st.ok()) return Prefixed(PeerFailure(peer, st.error()), slot);
    tasks::CompletedOutput c;
    c.set_slot(out.slot());
    c.set_owner_user_id(owner);
    c.set_file_id(file_id);
    return c;
  }

  const functions::lua::Usage& usage() const { return usage_; }

 private:
  static TaskFailure TooLarge(const std::string& slot) {
    return Failure(reason::kInputTooLarge,
                   "input `" + slot + "` would take the task past its input limit");
  }
  static TaskFailure Prefixed(TaskFailure f, const std::string& slot) {
    f.message = Capped("slot `" + slot + "`: " + f.message);
    return f;
  }

  TaskIo* io_;
  const RunnerOptions& opts_;
  const tasks::TaskLease& lease_;
  LeaseKeeper& keeper_;
  const std::atomic<bool>& stopping_;
  functions::lua::Usage usage_;
};

// Sends a completion or failure, again on a transient error while the
// lease lasts.
template <typename Fn>
Status Report(const RunnerOptions& opts, const LeaseKeeper& keeper, Fn send) {
  milliseconds pause{200};
  Status st = OkStatus();
  for (int i = 0; i < std::max(1, opts.report_attempts); ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(pause);
      pause *= 2;
    }
    st = send();
    if (st.ok() || !IsTransient(st.code()) || keeper.lost()) return st;
  }
  return st;
}

}  // namespace

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kSucceeded: return "succeeded";
    case Outcome::kFailed: return "failed";
    case Outcome::kRequeued: return "requeued";
    case Outcome::kLeaseLost: return "lease_lost";
    case Outcome::kRefused: return "refused";
    case Outcome::kStopped: return "stopped";
    case Outcome::kUnreported: return "unreported";
  }
  return "?";
}

TaskResult TaskRunner::Run(const tasks::TaskLease& lease,
                           const std::atomic<bool>& stopping) const {
  const auto start = Clock::now();
  TaskResult result;
  std::optional<TaskFailure> failure;
  std::vector<tasks::CompletedOutput> outputs;
  functions::lua::Usage usage;
  {
    LeaseKeeper keeper(io_, lease, opts_.min_heartbeat_interval);
    Attempt attempt(io_, opts_, lease, keeper, stopping);
    bool abandoned = false;
    auto inputs = attempt.FetchInputs();
    if (auto* f = std::get_if<TaskFailure>(&inputs)) failure = *f;
    else if (std::holds_alternative<Abandoned>(inputs)) abandoned = true;
    std::optional<functions::Outputs> produced;
    if (!failure && !abandoned) {
      auto out = attempt.RunFunction(std::get<functions::Inputs>(std::move(inputs)));
      usage = attempt.usage();
      if (auto* f = std::get_if<TaskFailure>(&out)) failure = *f;
      else produced = std::get<functions::Outputs>(std::move(out));
    }
    // Learn of a cancel or a lost lease before anything is stored for the
    // owners (a run is never interrupted; its result is just dropped).
    if (produced && !attempt.aborted() && keeper.Renew()) {
      auto stored = attempt.StoreOutputs(*produced);
      if (auto* f = std::get_if<TaskFailure>(&stored)) failure = *f;
      else if (std::holds_alternative<Abandoned>(stored)) abandoned = true;
      else outputs = std::get<std::vector<tasks::CompletedOutput>>(std::move(stored));
    } else if (produced) {
      abandoned = true;
    }
    if (produced)
      for (auto& [name, bytes] : *produced) Cleanse(bytes);

    if (keeper.lost()) {
      result.outcome = Outcome::kLeaseLost;
      result.reason = keeper.lost_reason();
    } else if (abandoned || (failure && stopping.load() && failure->retryable)) {
      // Stopping: hand the task back at once rather than after the lease.
      result.outcome = Outcome::kStopped;
      result.reason = reason::kWorkerStopping;
      tasks::FailTaskRequest req;
      req.set_task_id(lease.task_id());
      req.set_fencing_token(lease.fencing_token());
      req.set_reason(reason::kWorkerStopping);
      req.set_message("the worker shut down while running the task");
      req.set_retryable(true);
      auto st = Report(opts_, keeper, [&] { return io_->Fail(req).status(); });
      if (!st.ok())
        LOG_WARN("task not handed back; its lease will expire",
                 {{"task_id", lease.task_id()}, {"error", st.ToString()}});
    } else if (failure) {
      result.reason = failure->reason;
      tasks::FailTaskRequest req;
      req.set_task_id(lease.task_id());
      req.set_fencing_token(lease.fencing_token());
      req.set_reason(failure->reason);
      req.set_message(failure->message);
      req.set_retryable(failure->retryable);
      tasks::TaskState state = tasks::TASK_STATE_UNSPECIFIED;
      auto st = Report(opts_, keeper, [&]() -> Status {
        CLOISTER_ASSIGN_OR_RETURN(state, io_->Fail(req));
        return OkStatus();
      });
      if (st.ok()) {
        result.outcome =
            state == tasks::TASK_STATE_QUEUED ? Outcome::kRequeued : Outcome::kFailed;
      } else if (IsLeaseRefusal(st.error())) {
        result.outcome = Outcome::kRefused;
        result.reason = st.error().reason();
      } else {
        result.outcome = Outcome::kUnreported;
        LOG_WARN("task failure not reported; its lease will expire",
                 {{"task_id", lease.task_id()}, {"error", st.ToString()}});
      }
    } else {
      tasks::CompleteTaskRequest req;
      req.set_task_id(lease.task_id());
      req.set_fencing_token(lease.fencing_token());
      for (auto& o : outputs) *req.add_outputs() = std::move(o);
      result.outputs_stored = static_cast<size_t>(req.outputs_size());
      auto st = Report(opts_, keeper, [&] { return io_->Complete(req); });
      if (st.ok()) {
        result.outcome = Outcome::kSucceeded;
      } else if (IsLeaseRefusal(st.error())) {
        // Canceled or taken over while we stored: the result is dropped.
        result.outcome = Outcome::kRefused;
        result.reason = st.error().reason();
      } else {
        result.outcome = Outcome::kUnreported;
        result.reason = st.error().reason();
        LOG_WARN("task completion not reported; its lease will expire",
                 {{"task_id", lease.task_id()}, {"error", st.ToString()}});
      }
    }
  }  // the heartbeats stop here
  result.duration_ms =
      std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  LOG_INFO("task done", {{"task_id", lease.task_id()},
                         {"attempt", lease.attempt()},
                         {"outcome", OutcomeName(result.outcome)},
                         {"reason", result.reason},
                         {"duration_ms", result.duration_ms},
                         {"outputs", result.outputs_stored},
                         {"instructions", usage.instructions},
                         {"peak_memory_bytes", usage.peak_memory_bytes}});
  return result;
}

}  // namespace cloister::exec
