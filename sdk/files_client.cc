// The SDK's file calls: client-side encryption, resumable upload and
// download; see files_client.h.
#include "sdk/files_client.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <istream>
#include <thread>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "common/crypto/random.h"
#include "common/grpc_status.h"
#include "sdk/gateway_channel.h"
#include "common/sys/atomic_file.h"

namespace cloister::sdk {
namespace {

// A streaming call's deadline grows with what is left to move at this rate
// (a floor, not an estimate): a slow link finishes, a hung peer times out.
constexpr uint64_t kMinBytesPerSecond = 256u << 10;
constexpr std::chrono::milliseconds kMaxBackoff{5'000};
constexpr uint32_t kListPageSize = 1000;

std::chrono::milliseconds StreamTimeout(std::chrono::milliseconds base, uint64_t remaining) {
  return base + std::chrono::milliseconds(remaining * 1000 / kMinBytesPerSecond);
}

void Backoff(std::chrono::milliseconds initial, int attempt) {
  auto d = initial;
  for (int i = 1; i < attempt && d < kMaxBackoff; ++i) d *= 2;
  d = std::min(d, kMaxBackoff);
  // Jitter (up to +50%) so many clients cut off together do not return together.
  const auto jitter =
      d.count() > 1 ? crypto::RandomU64() % static_cast<uint64_t>(d.count() / 2 + 1) : 0;
  std::this_thread::sleep_for(d + std::chrono::milliseconds(jitter));
}

Error AfterRetries(const Error& e, int retries) {
  return retries > 0 ? e.WithContext("after " + std::to_string(retries) + " retries") : e;
}

}  // namespace

bool IsTransientFileError(Code code) {
  switch (code) {
    case Code::kUnavailable:
    case Code::kAborted:
    case Code::kCancelled:
    case Code::kDeadlineExceeded:
    case Code::kInternal:
      return true;
    default:
      return false;
  }
}

// ---- files_internal ----

namespace files_internal {

Result<CiphertextStream> CiphertextStream::Create(std::istream* in, uint64_t size, ByteView key,
                                                  files::EncryptOptions options) {
  CLOISTER_ASSIGN_OR_RETURN(files::FileEncryptor enc,
                            files::FileEncryptor::Create(key, size, std::move(options)));
  CiphertextStream s(in, std::move(enc));
  s.current_.assign(s.enc_.header_bytes().begin(), s.enc_.header_bytes().end());
  return s;
}

Status CiphertextStream::Refill() {
  const files::FileHeader& h = header();
  const uint64_t i = enc_.next_index();
  plain_.resize(h.chunk_plaintext_size(i));
  in_->read(reinterpret_cast<char*>(plain_.data()), static_cast<std::streamsize>(plain_.size()));
  if (static_cast<size_t>(in_->gcount()) != plain_.size())
    return FailedPrecondition("the input ended at chunk " + std::to_string(i) + " of " +
                                  std::to_string(h.chunk_count()) +
                                  ": it changed size while "
                                  "being uploaded",
                              kUploadSourceChanged);
  CLOISTER_ASSIGN_OR_RETURN(current_, enc_.SealChunk(plain_));
  Cleanse(plain_);
  pos_ = 0;
  if (enc_.next_index() == h.chunk_count()) {
    // One more byte would mean the input is longer than the header says.
    if (in_->peek() != std::char_traits<char>::eof())
      return FailedPrecondition("the input grew while being uploaded", kUploadSourceChanged);
    in_->clear();
  }
  return OkStatus();
}

Result<ByteView> CiphertextStream::Next(size_t max) {
  if (pos_ == current_.size()) {
    if (enc_.next_index() == header().chunk_count()) return ByteView();
    CLOISTER_RETURN_IF_ERROR(Refill());
  }
  const size_t n = std::min(max, current_.size() - pos_);
  ByteView out = ByteView(current_).subspan(pos_, n);
  hasher_->Update(out);
  pos_ += n;
  offset_ += n;
  return out;
}

Status CiphertextStream::Skip(uint64_t n) {
  while (n > 0) {
    CLOISTER_ASSIGN_OR_RETURN(ByteView piece,
                              Next(static_cast<size_t>(std::min<uint64_t>(n, 1u << 20))));
    if (piece.empty())
      return OutOfRange("skip past the end of the ciphertext", kUploadOffsetInvalid);
    n -= piece.size();
  }
  return OkStatus();
}

Result<crypto::Digest> CiphertextStream::Digest() {
  if (offset_ != size() || !hasher_)
    return FailedPrecondition("the ciphertext was not produced to its end");
  crypto::Digest d = hasher_->Finish();
  hasher_.reset();
  return d;
}

Status PlaintextSink::Add(uint64_t at, ByteView data) {
  if (!error_.ok()) return error_;
  if (at != offset_) {
    error_ = InvalidArgument("storage sent bytes at offset " + std::to_string(at) + ", expected " +
                                 std::to_string(offset_),
                             kDownloadOffsetMismatch);
    return error_;
  }
  pending_.insert(pending_.end(), data.begin(), data.end());
  offset_ += data.size();
  error_ = Consume();
  return error_;
}

Status PlaintextSink::Consume() {
  size_t used = 0;
  if (!dec_) {
    if (pending_.size() < files::kHeaderSize) return OkStatus();
    CLOISTER_ASSIGN_OR_RETURN(
        auto dec,
        files::FileDecryptor::Open(key_.view(), ByteView(pending_).first(files::kHeaderSize)));
    const std::string id = HexEncode(dec.header().file_id);
    if (id != file_id_)
      return InvalidArgument("storage served file " + id + " for " + file_id_, kFileIdMismatch);
    dec_.emplace(std::move(dec));
    used = files::kHeaderSize;
  }
  while (true) {
    const size_t left = pending_.size() - used;
    if (dec_->next_index() >= dec_->header().chunk_count()) {
      // Anything after the last chunk is an error of the format's own.
      if (left > 0)
        CLOISTER_RETURN_IF_ERROR(dec_->OpenChunk(ByteView(pending_).subspan(used)).status());
      break;
    }
    const uint64_t want = dec_->sealed_chunk_size(dec_->next_index());
    if (left < want) break;
    CLOISTER_ASSIGN_OR_RETURN(Bytes plain, dec_->OpenChunk(ByteView(pending_).subspan(used, want)));
    Status st = write_(plain);
    Cleanse(plain);
    CLOISTER_RETURN_IF_ERROR(st);
    used += want;
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
  return OkStatus();
}

Status PlaintextSink::Finish() {
  if (!error_.ok()) return error_;
  if (!dec_)
    return InvalidArgument(
        "the download ended inside the file header (" + std::to_string(offset_) + " bytes)",
        files::reason::kTruncated);
  return dec_->Finish();
}

}  // namespace files_internal

// ---- FilesClient ----

using files_internal::CiphertextStream;
using files_internal::PlaintextSink;

Result<std::unique_ptr<FilesClient>> FilesClient::Create(Client* client, ClientOptions options) {
  if (client == nullptr) return InvalidArgument("no client");
  CLOISTER_ASSIGN_OR_RETURN(auto channel, OpenGatewayChannel(options));
  return std::make_unique<FilesClient>(Key(), client, std::move(options), std::move(channel));
}

FilesClient::FilesClient(Key, Client* client, ClientOptions options,
                         std::shared_ptr<grpc::Channel> channel)
    : client_(client),
      options_(std::move(options)),
      channel_(std::move(channel)),
      storage_(filestore::Storage::NewStub(channel_)),
      keyvault_(keyvault::KeyVault::NewStub(channel_)) {}

Status FilesClient::Prepare(grpc::ClientContext& ctx, std::chrono::milliseconds timeout) {
  auto session = client_->session();
  if (!session) return Unauthenticated("not logged in", kNotLoggedIn);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (session->api_key.empty() && !session->refresh_token.empty() &&
      session->expires_unix - now < options_.refresh_margin.count()) {
    // As KeyVaultClient: any authenticated Client call refreshes a token
    // close to expiry (under the Client's mutex, once).
    CLOISTER_RETURN_IF_ERROR(client_->WhoAmI());
    session = client_->session();
    if (!session) return Unauthenticated("session ended", kNotLoggedIn);
  }
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!session->api_key.empty())
    ctx.AddMetadata("authorization", "ApiKey " + session->api_key);
  else
    ctx.AddMetadata("authorization", "Bearer " + session->token);
  return OkStatus();
}

template <typename Req, typename Resp, typename Fn>
Result<Resp> FilesClient::Invoke(const Req& req, Fn fn) {
  grpc::ClientContext ctx;
  CLOISTER_RETURN_IF_ERROR(Prepare(ctx, options_.call_timeout));
  Resp resp;
  CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(fn(&ctx, req, &resp)));
  return resp;
}

#define CLOISTER_FILES_STUB(stub, M)                                             \
  [this](grpc::ClientContext* stub_ctx, const auto& stub_req, auto* stub_resp) { \
    return stub->M(stub_ctx, stub_req, stub_resp);                               \
  }

Result<filestore::FileInfo> FilesClient::Upload(const std::string& path, const UploadOptions& opts,
                                                ProgressFn progress) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec) return ErrnoError(ec.value(), "upload " + path);
  if (!std::filesystem::is_regular_file(status))
    return InvalidArgument("upload " + path + ": not a regular file");
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return ErrnoError(ec.value(), "upload " + path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError(errno, "upload " + path + ": open");
  return UploadFrom(in, size, path, opts, progress);
}

Result<filestore::FileInfo> FilesClient::Upload(std::istream& in, uint64_t size,
                                                const UploadOptions& opts, ProgressFn progress) {
  return UploadFrom(in, size, "stream", opts, progress);
}

Result<filestore::FileInfo> FilesClient::UploadFrom(std::istream& in, uint64_t size,
                                                    const std::string& name,
                                                    const UploadOptions& opts,
                                                    const ProgressFn& progress) {
  const SecretBytes key = SecretBytes::Random(files::kFileKeySize);
  const std::streampos start = in.tellg();  // -1: cannot seek, so cannot resume
  auto created_stream =
      CiphertextStream::Create(&in, size, key.view(), {.chunk_size = opts.chunk_size});
  if (!created_stream.ok()) return created_stream.error().WithContext("upload " + name);
  CiphertextStream stream = *std::move(created_stream);
  const files::FileHeader header = stream.header();
  const std::string file_id = HexEncode(header.file_id);
  const uint64_t total = stream.size();
  auto named = [&](const Error& e) {
    return e.WithContext("upload " + name + " (file " + file_id + ")");
  };

  // 1. The key first: once the id exists anywhere, its owner holds its key.
  {
    keyvault::RegisterFileKeyRequest r;
    r.set_file_id(file_id);
    r.set_file_key(key.data(), key.size());
    auto reg = Invoke<keyvault::RegisterFileKeyRequest, keyvault::RegisterFileKeyResponse>(
        r, CLOISTER_FILES_STUB(keyvault_, RegisterFileKey));
    Cleanse(*r.mutable_file_key());
    if (!reg.ok()) return named(reg.error());
  }
  // Best-effort cleanup of a failed upload: the session, then the key (an
  // aborted session never becomes a file, so its key protects nothing).
  std::string upload_id;
  auto abandon = [&](const Error& e) -> Error {
    if (!upload_id.empty()) {
      filestore::AbortUploadRequest a;
      a.set_upload_id(upload_id);
      Invoke<filestore::AbortUploadRequest, filestore::AbortUploadResponse>(
          a, CLOISTER_FILES_STUB(storage_, AbortUpload))
          .status()
          .IgnoreError();
    }
    keyvault::DeleteFileKeyRequest d;
    d.set_file_id(file_id);
    Invoke<keyvault::DeleteFileKeyRequest, keyvault::DeleteFileKeyResponse>(
        d, CLOISTER_FILES_STUB(keyvault_, DeleteFileKey))
        .status()
        .IgnoreError();
    return named(e);
  };

  // 2. The session (reserves the quota).
  filestore::UploadSession session;
  {
    filestore::CreateUploadRequest r;
    r.set_file_id(file_id);
    r.set_size(total);
    r.set_description(opts.description);
    for (const auto& [k, v] : opts.labels) (*r.mutable_labels())[k] = v;
    auto created = Invoke<filestore::CreateUploadRequest, filestore::CreateUploadResponse>(
        r, CLOISTER_FILES_STUB(storage_, CreateUpload));
    if (!created.ok()) return abandon(created.error());
    session = created->session();
    upload_id = session.upload_id();
  }
  size_t message = std::max<size_t>(opts.max_message_bytes, 1);
  if (session.max_message_bytes() > 0)
    message = std::min<size_t>(message, session.max_message_bytes());

  // Resuming needs the ciphertext again from the durable offset. The
  // encryption is deterministic given (key, file id, plaintext), so we
  // re-run the encryptor from the start with the same id and skip to it,
  // rather than seek the plaintext to that chunk: CompleteUpload needs the
  // SHA-256 of every byte, and only a re-run can hash the prefix the server
  // already holds (the hasher cannot be rewound). It costs re-reading the
  // prefix once per resumption, which is rare, and it needs nothing of the
  // encryptor beyond its public, sequential API.
  std::optional<CiphertextStream> current(std::move(stream));
  auto reposition = [&](uint64_t to) -> Status {
    if (to > total)
      return OutOfRange(
          "storage holds " + std::to_string(to) + " of " + std::to_string(total) + " bytes",
          kUploadOffsetInvalid);
    if (current->offset() > to) {
      if (start == std::streampos(-1))
        return FailedPrecondition("the input cannot be re-read to resume", kUploadNotResumable);
      in.clear();
      in.seekg(start);
      if (!in)
        return FailedPrecondition("the input cannot be re-read to resume", kUploadNotResumable);
      CLOISTER_ASSIGN_OR_RETURN(
          CiphertextStream again,
          CiphertextStream::Create(&in, size, key.view(),
                                   {.chunk_size = opts.chunk_size, .file_id = header.file_id}));
      current.emplace(std::move(again));
    }
    return current->Skip(to - current->offset());
  };

  // 3. The ciphertext, resumed from GetUpload's `received` after a break.
  bool injected = false;
  auto send_once = [&]() -> Result<uint64_t> {
    grpc::ClientContext ctx;
    CLOISTER_RETURN_IF_ERROR(
        Prepare(ctx, StreamTimeout(options_.call_timeout, total - current->offset())));
    filestore::UploadChunksResponse resp;
    auto writer = storage_->UploadChunks(&ctx, &resp);
    filestore::UploadChunksRequest req;
    req.set_upload_id(upload_id);
    Status local;
    bool open = true;
    while (current->offset() < total) {
      const uint64_t at = current->offset();
      auto piece = current->Next(message);
      if (!piece.ok()) {
        local = piece.status();
        break;
      }
      req.set_offset(at);
      req.set_data(AsChars(*piece).data(), piece->size());
      if (!writer->Write(req)) {
        open = false;  // broken: Finish() says why
        break;
      }
      if (progress) progress(current->offset(), total);
      if (opts.fail_after_bytes_for_testing > 0 && !injected &&
          current->offset() >= opts.fail_after_bytes_for_testing) {
        injected = true;
        ctx.TryCancel();
        open = false;
        break;
      }
    }
    if (!local.ok())
      ctx.TryCancel();
    else if (open)
      writer->WritesDone();
    Status st = FromGrpcStatus(writer->Finish());
    if (!local.ok()) return local.error();
    CLOISTER_RETURN_IF_ERROR(st);
    return resp.session().received();
  };
  Status sent = [&]() -> Status {
    uint64_t received = session.received();
    for (int attempt = 0;; ++attempt) {
      if (attempt > 0) {
        Backoff(opts.initial_backoff, attempt);
        filestore::GetUploadRequest g;
        g.set_upload_id(upload_id);
        auto s = Invoke<filestore::GetUploadRequest, filestore::GetUploadResponse>(
            g, CLOISTER_FILES_STUB(storage_, GetUpload));
        if (!s.ok()) {
          if (!IsTransientFileError(s.code()) || attempt >= opts.max_retries)
            return AfterRetries(s.error(), attempt);
          continue;
        }
        received = s->session().received();
      }
      CLOISTER_RETURN_IF_ERROR(reposition(received));
      if (received == total) return OkStatus();  // all durable; the reply was lost
      if (progress) progress(received, total);
      auto r = send_once();
      if (r.ok() && *r == total) return OkStatus();
      Error e = r.ok() ? Aborted("the stream closed with " + std::to_string(*r) + " of " +
                                     std::to_string(total) + " bytes stored",
                                 kUploadIncomplete)
                       : r.error();
      if (!IsTransientFileError(e.code()) || attempt >= opts.max_retries)
        return AfterRetries(e, attempt);
    }
  }();
  if (!sent.ok()) return abandon(sent.error());
  auto digest = current->Digest();
  if (!digest.ok()) return abandon(digest.error());

  // 4. Complete. A reply lost after the server committed makes the retry
  // fail (the session is gone): the file is then looked up, not abandoned.
  filestore::CompleteUploadRequest c;
  c.set_upload_id(upload_id);
  c.set_sha256(digest->data(), digest->size());
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) Backoff(opts.initial_backoff, attempt);
    auto done = Invoke<filestore::CompleteUploadRequest, filestore::CompleteUploadResponse>(
        c, CLOISTER_FILES_STUB(storage_, CompleteUpload));
    if (done.ok()) return done->file();
    if (IsTransientFileError(done.code()) && attempt < opts.max_retries) continue;
    if (attempt > 0) {
      auto stat = Stat(file_id);
      if (stat.ok() && stat->sha256() == c.sha256()) return *stat;
    }
    return abandon(done.error());
  }
}

Status FilesClient::Download(const std::string& file_id, const std::string& out_path,
                             ProgressFn progress, const DownloadOptions& opts) {
  auto named = [&](const Error& e) {
    return e.WithContext("download " + file_id + " to " + out_path);
  };
  keyvault::GetFileKeyRequest kr;
  kr.set_file_id(file_id);
  auto got = Invoke<keyvault::GetFileKeyRequest, keyvault::GetFileKeyResponse>(
      kr, CLOISTER_FILES_STUB(keyvault_, GetFileKey));
  if (!got.ok()) return named(got.error());
  SecretBytes key(AsBytes(got->file_key()));
  Cleanse(*got->mutable_file_key());

  // The temporary file (0600, beside out_path) is removed by the writer's
  // destructor unless Commit renamed it: every early return leaves nothing.
  auto out = sys::AtomicFileWriter::Create(out_path, 0600);
  if (!out.ok()) return named(out.error());
  PlaintextSink sink(std::move(key), file_id, [&](ByteView b) { return out->Append(b); });
  // The size sets the first stream's deadline (the header, which says it
  // too, has not arrived yet). Best effort: without it the default applies.
  auto info = Stat(file_id);
  const uint64_t expected = info.ok() ? info->size() : 0;

  bool injected = false;
  auto receive_once = [&]() -> Status {
    grpc::ClientContext ctx;
    const uint64_t size = sink.total() ? sink.total() : expected;
    const uint64_t left = size > sink.offset() ? size - sink.offset() : 0;
    CLOISTER_RETURN_IF_ERROR(Prepare(ctx, StreamTimeout(options_.call_timeout, left)));
    filestore::DownloadRequest req;
    req.set_file_id(file_id);
    req.set_offset(sink.offset());
    auto reader = storage_->Download(&ctx, req);
    filestore::DownloadResponse m;
    Status local;
    bool cancelled = false;
    while (reader->Read(&m)) {
      local = sink.Add(m.offset(), AsBytes(m.data()));
      if (!local.ok()) break;
      if (progress) progress(sink.offset(), sink.total() ? sink.total() : expected);
      if (opts.fail_after_bytes_for_testing > 0 && !injected &&
          sink.offset() >= opts.fail_after_bytes_for_testing) {
        injected = true;
        cancelled = true;
        break;
      }
    }
    if (!local.ok() || cancelled) ctx.TryCancel();
    Status st = FromGrpcStatus(reader->Finish());
    if (!local.ok()) return local;
    return st;
  };
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) Backoff(opts.initial_backoff, attempt);
    const uint64_t before = sink.offset();
    Status st = receive_once();
    // A decryption or write failure is final: resuming past it would skip a chunk.
    if (!sink.error().ok()) return named(sink.error().error());
    // Every byte arrived (a break after the last one needs no resumption).
    if (sink.total() > 0 && sink.offset() >= sink.total()) break;
    if (st.ok()) {
      // A stream that ended early but moved forward is resumed; one that
      // made no progress is what storage has: the format says what is wrong.
      if (sink.offset() == before || attempt >= opts.max_retries) break;
      continue;
    }
    if (!IsTransientFileError(st.code()) || attempt >= opts.max_retries)
      return named(AfterRetries(st.error(), attempt));
  }
  // Only now, after the last chunk authenticated, does the file appear.
  if (Status st = sink.Finish(); !st.ok()) return named(st.error());
  if (Status st = out->Commit(); !st.ok()) return named(st.error());
  return OkStatus();
}

Result<filestore::ListFilesResponse> FilesClient::List(uint32_t page_size,
                                                       std::string_view page_token) {
  filestore::ListFilesRequest r;
  r.set_page_size(page_size);
  r.set_page_token(std::string(page_token));
  return Invoke<filestore::ListFilesRequest, filestore::ListFilesResponse>(
      r, CLOISTER_FILES_STUB(storage_, ListFiles));
}

Result<std::vector<filestore::FileInfo>> FilesClient::ListAll() {
  std::vector<filestore::FileInfo> out;
  std::string token;
  std::vector<std::string> seen;
  while (true) {
    CLOISTER_ASSIGN_OR_RETURN(auto page, List(kListPageSize, token));
    for (auto& f : *page.mutable_files()) out.push_back(std::move(f));
    if (page.next_page_token().empty()) return out;
    // A token seen before would loop forever.
    if (std::find(seen.begin(), seen.end(), page.next_page_token()) != seen.end())
      return InvalidArgument("storage repeated a page token", kListPagingBroken);
    seen.push_back(page.next_page_token());
    token = page.next_page_token();
  }
}

Result<filestore::FileInfo> FilesClient::Stat(std::string_view file_id) {
  filestore::StatFileRequest r;
  r.set_file_id(std::string(file_id));
  auto resp = Invoke<filestore::StatFileRequest, filestore::StatFileResponse>(
      r, CLOISTER_FILES_STUB(storage_, StatFile));
  if (!resp.ok()) return resp.error().WithContext("stat " + std::string(file_id));
  return resp->file();
}

Status FilesClient::Delete(std::string_view file_id) {
  filestore::DeleteFileRequest r;
  r.set_file_id(std::string(file_id));
  auto resp = Invoke<filestore::DeleteFileRequest, filestore::DeleteFileResponse>(
      r, CLOISTER_FILES_STUB(storage_, DeleteFile));
  if (!resp.ok()) return resp.error().WithContext("delete " + std::string(file_id));
  return OkStatus();
}

#undef CLOISTER_FILES_STUB

}  // namespace cloister::sdk
