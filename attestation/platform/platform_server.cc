// Accept loop, per-connection measurement and request dispatch of
// cloister-platform; see platform_server.h.
#include "attestation/platform/platform_server.h"

#include <unistd.h>

#include "attestation/platform/protocol.h"
#include "common/logging.h"

namespace cloister::attestation {
namespace {

std::string Prefix(const crypto::Digest& d) { return HexEncode(ByteView(d)).substr(0, 16); }

std::string_view OpName(const PlatformRequest& r) {
  switch (r.kind_case()) {
    case PlatformRequest::kQuote: return "quote";
    case PlatformRequest::kSealingKey: return "sealing_key";
    case PlatformRequest::kExtend: return "extend";
    case PlatformRequest::kReadLog: return "read_log";
    case PlatformRequest::kIdentity: return "identity";
    case PlatformRequest::kSetConfig: return "set_config";
    case PlatformRequest::kCounter: return r.counter().advance() ? "counter_advance" : "counter_read";
    case PlatformRequest::KIND_NOT_SET: break;
  }
  return "unknown";
}

// Sends `resp` and wipes the serialized copy (it may hold a sealing key).
Status SendResponse(int fd, PlatformResponse& resp) {
  std::string out;
  if (!resp.SerializeToString(&out)) return Internal("cannot serialize platform response");
  Status s = WriteFrame(fd, AsBytes(out));
  Cleanse(out);
  if (resp.has_sealing_key()) Cleanse(*resp.mutable_sealing_key()->mutable_key());
  return s;
}

void SendError(int fd, const Error& e) {
  PlatformResponse resp;
  *resp.mutable_error() = ErrorToProto(e);
  SendResponse(fd, resp).IgnoreError();  // best effort: the peer may be gone
}

}  // namespace

Result<std::unique_ptr<PlatformServer>> PlatformServer::Create(PlatformServerOptions options,
                                                               PlatformService& service,
                                                               Measurer& measurer) {
  options.allow_uids.push_back(::geteuid());
  CLOISTER_ASSIGN_OR_RETURN(sys::UniqueFd fd,
                            sys::ListenUnix(options.socket_path, 128, 0660, options.socket_group));
  CLOISTER_ASSIGN_OR_RETURN(sys::WakePipe wake, sys::WakePipe::Create());
  return std::make_unique<PlatformServer>(PrivateTag(), std::move(options), service, measurer,
                                          std::move(fd), std::move(wake));
}

PlatformServer::PlatformServer(PrivateTag, PlatformServerOptions options, PlatformService& service,
                               Measurer& measurer, sys::UniqueFd listen_fd, sys::WakePipe wake)
    : options_(std::move(options)),
      service_(service),
      measurer_(measurer),
      listen_fd_(std::move(listen_fd)),
      wake_(std::move(wake)) {}

PlatformServer::~PlatformServer() {
  Shutdown();
  Reap(true);
}

void PlatformServer::Shutdown() {
  stopping_ = true;
  wake_.Notify();
}

void PlatformServer::Reap(bool all) {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (all) sys::ShutdownBoth((*it)->fd.get());  // wakes a blocked read
      if (all || (*it)->done) {
        if (--per_uid_[(*it)->peer.uid] == 0) per_uid_.erase((*it)->peer.uid);
        finished.splice(finished.end(), conns_, it++);
      } else {
        ++it;
      }
    }
  }
  // Join outside the lock; the fd closes only after its thread is gone, so
  // a shutdown() above can never hit a recycled fd number.
  for (auto& c : finished)
    if (c->thread.joinable()) c->thread.join();
}

Status PlatformServer::Run() {
  LOG_INFO("platform serving", {{"socket", options_.socket_path},
                                {"platform_id", Prefix(service_.platform_id())}});
  Status result = OkStatus();
  while (!stopping_) {
    auto accepted = sys::AcceptUnix(listen_fd_.get(), wake_.read_fd(), 1000);
    Reap(false);
    if (!accepted.ok()) {
      result = accepted.error();
      LOG_ERROR("accept failed", {{"error", accepted.error().ToString()}});
      break;
    }
    if (!accepted->valid()) continue;
    auto conn = std::make_unique<Connection>();
    conn->fd = *std::move(accepted);
    auto cred = sys::GetPeerCred(conn->fd.get());
    if (!cred.ok()) {
      LOG_WARN("connection without peer credentials", {{"error", cred.error().ToString()}});
      SendError(conn->fd.get(), cred.error());
      continue;
    }
    conn->peer = *cred;
    if (!Allowed(conn->peer)) {
      LOG_WARN("platform peer refused: not an allowed service account",
               {{"pid", conn->peer.pid}, {"uid", conn->peer.uid}, {"gid", conn->peer.gid},
                {"reason", kPeerNotAllowed}});
      SendError(conn->fd.get(),
                PermissionDenied("uid " + std::to_string(conn->peer.uid) + " / gid " +
                                     std::to_string(conn->peer.gid) +
                                     " may not use this platform (see cloister-platform "
                                     "--allow-uid / --allow-gid)",
                                 kPeerNotAllowed));
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (conns_.size() >= options_.max_connections ||
        per_uid_[conn->peer.uid] >= options_.max_connections_per_uid) {
      if (per_uid_[conn->peer.uid] == 0) per_uid_.erase(conn->peer.uid);
      LOG_WARN("connection refused: too many connections",
               {{"pid", conn->peer.pid}, {"uid", conn->peer.uid}, {"open", conns_.size()}});
      SendError(conn->fd.get(), ResourceExhausted("platform connection limit reached",
                                                  kTooManyConnections));
      continue;
    }
    ++per_uid_[conn->peer.uid];
    Connection& ref = *conn;
    conns_.push_back(std::move(conn));
    ref.thread = std::thread([this, &ref] {
      Serve(ref);
      // EOF for the peer now; the fd itself is closed by Reap after join.
      sys::ShutdownBoth(ref.fd.get());
      ref.done = true;
    });
  }
  Reap(true);
  ::unlink(options_.socket_path.c_str());
  LOG_INFO("platform stopped", {{"socket", options_.socket_path}});
  return result;
}

bool PlatformServer::Allowed(const sys::PeerCred& peer) const {
  for (uid_t u : options_.allow_uids)
    if (u == peer.uid) return true;
  for (gid_t g : options_.allow_gids)
    if (g == peer.gid) return true;
  return false;
}

Result<CallerIdentity> PlatformServer::Recheck(const CallerIdentity& bound,
                                               const sys::PidFd& pidfd) {
  auto code = measurer_.Inspect(bound.pid, [this](const crypto::Digest& d) {
    return service_.IsLibraryReference(d);
  });
  // Only now is it known that /proc/<pid> was still the connected process.
  if (!pidfd.Alive())
    return Aborted("the process that opened this session is gone", kPeerChanged);
  if (!code.ok()) return code.error();
  if (code->exe != bound.measurement)
    return PermissionDenied("the process runs another executable (" +
                                HexEncode(ByteView(code->exe)).substr(0, 16) +
                                ") than the one measured when it connected",
                            kMeasureExeChanged);
  CallerIdentity now = bound;
  now.code_digest = code->code_digest;
  return now;
}

void PlatformServer::Serve(Connection& conn) {
  const int fd = conn.fd.get();
  const pid_t pid = conn.peer.pid;
  // A handle on the connecting PROCESS (not its pid number), and the
  // writer's pid on every message from now on.
  auto pidfd = sys::PidFd::ForPeer(fd, pid);
  Status passcred = sys::EnablePassCred(fd);
  // Measure the executable now and bind it to this connection; everything
  // else is re-inspected per request.
  Result<CallerIdentity> caller = Internal("not measured");
  if (!pidfd.ok()) {
    caller = pidfd.error();
  } else if (!passcred.ok()) {
    caller = passcred.error();
  } else {
    auto measured = measurer_.Measure(pid);
    if (measured.ok() && !pidfd->Alive())
      measured = Aborted("the process that connected is gone", kPeerChanged);
    caller = measured.ok() ? Result<CallerIdentity>(service_.Identify(pid, conn.peer.uid, *measured))
                           : Result<CallerIdentity>(measured.error());
  }
  std::string who = "-";
  if (caller.ok()) {
    who = Prefix(caller->measurement);
    LOG_INFO("platform session", {{"pid", pid}, {"uid", conn.peer.uid}, {"measurement", who},
                                  {"enclave", caller->name.empty() ? "(unknown)" : caller->name},
                                  {"debug", caller->debug ? "true" : "false"}});
  } else {
    LOG_WARN("cannot measure peer", {{"pid", pid}, {"uid", conn.peer.uid},
                                     {"error", caller.error().ToString()}});
  }

  while (!stopping_) {
    auto frame = ReadFrame(fd, -1, options_.frame_timeout_ms, pid);
    if (!frame.ok()) {
      if (frame.error().reason() == sys::kSenderNotPeer) {
        LOG_WARN("platform request refused: written by another process than the one that "
                 "connected; closing connection",
                 {{"pid", pid}, {"measurement", who}, {"reason", sys::kSenderNotPeer},
                  {"error", frame.error().message()}});
        SendError(fd, frame.error());
      } else if (frame.error().reason() != sys::kConnectionClosed) {
        LOG_WARN("bad frame; closing connection",
                 {{"pid", pid}, {"measurement", who}, {"error", frame.error().ToString()}});
        SendError(fd, frame.error());
      }
      return;
    }
    PlatformRequest req;
    if (!req.ParseFromArray(frame->data(), static_cast<int>(frame->size()))) {
      LOG_WARN("malformed request; closing connection", {{"pid", pid}, {"measurement", who}});
      SendError(fd, InvalidArgument("request is not a PlatformRequest", kMessageMalformed));
      return;
    }
    if (!caller.ok()) {
      // Every request on an unmeasurable connection fails the same way.
      SendError(fd, caller.error());
      return;
    }
    PlatformResponse resp;
    // Counters too: a process that changed since connect must not move (or
    // read) the counters of the product it was measured as.
    const bool identity_bearing =
        req.has_quote() || req.has_sealing_key() || req.has_extend() || req.has_counter();
    if (identity_bearing) {
      auto now = Recheck(*caller, *pidfd);
      if (!now.ok()) {
        LOG_WARN("platform request refused: caller failed re-inspection",
                 {{"op", OpName(req)}, {"pid", pid}, {"uid", conn.peer.uid}, {"measurement", who},
                  {"reason", now.error().reason()}, {"error", now.error().message()}});
        *resp.mutable_error() = ErrorToProto(now.error());
        if (!SendResponse(fd, resp).ok()) return;
        continue;
      }
      resp = service_.Handle(*now, conn.launch_log, req);
    } else {
      resp = service_.Handle(*caller, conn.launch_log, req);
    }
    const bool ok = !resp.has_error();
    LOG_INFO("platform request",
             {{"op", OpName(req)}, {"pid", pid}, {"measurement", who},
              {"outcome", ok ? std::string("ok") : resp.error().reason().empty()
                                                       ? std::string("error")
                                                       : resp.error().reason()}});
    if (!SendResponse(fd, resp).ok()) return;
  }
}

}  // namespace cloister::attestation
