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
  CLOISTER_ASSIGN_OR_RETURN(sys::UniqueFd fd, sys::ListenUnix(options.socket_path, 128, 0666));
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

void PlatformServer::Serve(Connection& conn) {
  const int fd = conn.fd.get();
  const pid_t pid = conn.peer.pid;
  // Measure ONCE, now: the identity is bound to this connection for its
  // lifetime, so an enclave may drop dumpability after connecting.
  auto measured = measurer_.Measure(pid);
  Result<CallerIdentity> caller = measured.ok()
                                      ? Result<CallerIdentity>(service_.Identify(pid, conn.peer.uid, *measured))
                                      : Result<CallerIdentity>(measured.error());
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
    auto frame = ReadFrame(fd, -1, options_.frame_timeout_ms);
    if (!frame.ok()) {
      if (frame.error().reason() != sys::kConnectionClosed) {
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
    PlatformResponse resp = service_.Handle(*caller, req);
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
