// Unit tests of StorageCore over a real SQLite file and a temp data dir,
// with real Cloister-format ciphertext: input limits, quota (nothing
// stored after a refusal), stream rules, resume (also after a restart with
// a part file longer than the durable offset), completion checks, access,
// paging, deletion order, collection of expired sessions and orphans.
#include "services/storage/storage_core.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include "common/crypto/random.h"
#include "common/fs.h"
#include "files/file_stream.h"
#include "services/common/audit_log.h"

namespace cloister::storage_service {
namespace {

namespace fs = std::filesystem;

const Caller kAlice = services::MakeCallerForTesting({.user_id = "u-alice"});
const Caller kBob = services::MakeCallerForTesting({.user_id = "u-bob"});
const Caller kAdmin = services::MakeCallerForTesting({.user_id = "u-admin", .admin = true});

// A real encrypted file (file_stream.h), in memory: tests keep them small.
struct Cipher {
  Bytes bytes;
  std::string file_id;
};

Cipher MakeCipher(size_t plaintext_size, uint32_t chunk_size = 1024) {
  Bytes key = crypto::RandomBytes(32);
  auto enc = files::FileEncryptor::Create(key, plaintext_size, {.chunk_size = chunk_size});
  EXPECT_TRUE(enc.ok()) << enc.error().ToString();
  Bytes plain = crypto::RandomBytes(plaintext_size);
  Bytes out(enc->header_bytes().begin(), enc->header_bytes().end());
  size_t off = 0;
  for (uint64_t i = 0; i < enc->header().chunk_count(); ++i) {
    const size_t n = enc->header().chunk_plaintext_size(i);
    auto sealed = enc->SealChunk(ByteView(plain).subspan(off, n));
    EXPECT_TRUE(sealed.ok());
    out.insert(out.end(), sealed->begin(), sealed->end());
    off += n;
  }
  EXPECT_TRUE(enc->Finish().ok());
  return {std::move(out), HexEncode(enc->header().file_id)};
}

std::string Sha(ByteView b) {
  auto d = crypto::Sha256(b);
  return std::string(d.begin(), d.end());
}

filestore::UploadChunksRequest Msg(const std::string& upload_id, uint64_t offset,
                                   ByteView data) {
  filestore::UploadChunksRequest m;
  m.set_upload_id(upload_id);
  m.set_offset(offset);
  m.set_data(std::string(AsChars(data)));
  return m;
}

template <typename T>
void ExpectError(const Result<T>& r, Code code, std::string_view reason) {
  ASSERT_FALSE(r.ok()) << "expected " << reason;
  EXPECT_EQ(r.code(), code) << r.error().ToString();
  EXPECT_EQ(r.error().reason(), reason) << r.error().ToString();
}
void ExpectError(const Status& s, Code code, std::string_view reason) {
  ASSERT_FALSE(s.ok()) << "expected " << reason;
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_EQ(s.error().reason(), reason) << s.ToString();
}

class StorageCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("storage-core-" + crypto::RandomId());
    fs::create_directories(dir_ / "data");
    Reopen();
  }
  void TearDown() override {
    core_.reset();
    fs::remove_all(dir_);
  }
  // A new core on the same dir and database: a restart (no in-memory state).
  void Reopen(StorageOptions options = {}) {
    core_.reset();
    KeyShredder shredder = [this](const std::string& file_id, const std::string& owner) -> Status {
      shredded_.push_back(file_id + "/" + owner);
      if (shred_fails_) return Unavailable("keyvault down", "TEST_KEYVAULT_DOWN");
      return OkStatus();
    };
    auto core = StorageCore::Open((dir_ / "data").string(), "sqlite://" + (dir_ / "storage.db").string(),
                                  shredder, audit_, options, [this] { return now_; });
    ASSERT_TRUE(core.ok()) << core.error().ToString();
    core_ = *std::move(core);
  }

  std::string PartPath(const std::string& upload_id) const {
    return (dir_ / "data" / "uploads" / (upload_id + ".part")).string();
  }
  std::string BlobPath(const std::string& file_id) const {
    return (dir_ / "data" / "blobs" / file_id.substr(0, 2) / file_id).string();
  }
  size_t CountParts() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_ / "data" / "uploads")) n += e.is_regular_file();
    return n;
  }

  Result<filestore::CreateUploadResponse> Create(const Caller& c, const std::string& file_id,
                                                 uint64_t size, std::string description = "",
                                                 Labels labels = {}) {
    filestore::CreateUploadRequest r;
    r.set_file_id(file_id);
    r.set_size(size);
    r.set_description(description);
    for (const auto& [k, v] : labels) (*r.mutable_labels())[k] = v;
    return core_->CreateUpload(c, r);
  }
  std::string MustCreate(const Caller& c, const Cipher& f) {
    auto r = Create(c, f.file_id, f.bytes.size());
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? r->session().upload_id() : "";
  }
  // Streams bytes [from, to) of `data` in messages of `piece` bytes.
  Result<filestore::UploadSession> Send(const Caller& c, const std::string& upload_id,
                                        ByteView data, uint64_t from, uint64_t to,
                                        size_t piece = 1000) {
    auto chunk = [&](uint64_t off) { return data.subspan(off, std::min<uint64_t>(piece, to - off)); };
    CLOISTER_ASSIGN_OR_RETURN(auto stream, core_->OpenUploadStream(c, Msg(upload_id, from, chunk(from))));
    for (uint64_t off = from + chunk(from).size(); off < to; off += chunk(off).size())
      CLOISTER_RETURN_IF_ERROR(stream->Append(Msg(upload_id, off, chunk(off))));
    return stream->Finish();
  }
  Result<filestore::CompleteUploadResponse> Complete(const Caller& c, const std::string& upload_id,
                                                     const std::string& sha) {
    filestore::CompleteUploadRequest r;
    r.set_upload_id(upload_id);
    r.set_sha256(sha);
    return core_->CompleteUpload(c, r);
  }
  filestore::FileInfo Store(const Caller& c, const Cipher& f) {
    const std::string id = MustCreate(c, f);
    auto s = Send(c, id, f.bytes, 0, f.bytes.size());
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    auto done = Complete(c, id, Sha(f.bytes));
    EXPECT_TRUE(done.ok()) << done.error().ToString();
    return done.ok() ? done->file() : filestore::FileInfo();
  }
  Result<filestore::StatFileResponse> Stat(const Caller& c, const std::string& file_id) {
    filestore::StatFileRequest r;
    r.set_file_id(file_id);
    return core_->StatFile(c, r);
  }
  Result<filestore::DeleteFileResponse> Delete(const Caller& c, const std::string& file_id) {
    filestore::DeleteFileRequest r;
    r.set_file_id(file_id);
    return core_->DeleteFile(c, r);
  }
  Result<filestore::ListFilesResponse> List(const Caller& c, uint32_t page_size = 0,
                                            const std::string& token = "") {
    filestore::ListFilesRequest r;
    r.set_page_size(page_size);
    r.set_page_token(token);
    return core_->ListFiles(c, r);
  }
  Result<filestore::GetUploadResponse> GetUpload(const Caller& c, const std::string& upload_id) {
    filestore::GetUploadRequest r;
    r.set_upload_id(upload_id);
    return core_->GetUpload(c, r);
  }
  // The whole download from `offset`, checking the pieces' shape.
  Result<Bytes> Download(const Caller& c, const std::string& file_id, uint64_t offset = 0,
                         filestore::FileInfo* info = nullptr, size_t* pieces = nullptr) {
    CLOISTER_ASSIGN_OR_RETURN(auto reader, core_->OpenDownload(c, file_id, offset));
    Bytes out;
    size_t n = 0;
    for (;;) {
      CLOISTER_ASSIGN_OR_RETURN(auto piece, reader->Next());
      if (!piece) break;
      EXPECT_EQ(piece->has_file(), n == 0);
      EXPECT_EQ(piece->offset(), offset + out.size());
      EXPECT_LE(piece->data().size(), kDownloadPieceBytes);
      if (n == 0 && info != nullptr) *info = piece->file();
      out.insert(out.end(), piece->data().begin(), piece->data().end());
      ++n;
    }
    if (pieces != nullptr) *pieces = n;
    return out;
  }

  fs::path dir_;
  int64_t now_ = 1'700'000'000;
  services::AuditLog* audit_ = nullptr;
  bool shred_fails_ = false;
  std::vector<std::string> shredded_;
  std::unique_ptr<StorageCore> core_;
};

// ---- the happy path ----

TEST_F(StorageCoreTest, StoresListsAndDownloadsAFile) {
  // 1.5 MiB of plaintext: the download comes in two pieces of ≤ 1 MiB.
  Cipher f = MakeCipher(1536 * 1024, 64 * 1024);
  const std::string id = MustCreate(kAlice, f);
  auto s = Send(kAlice, id, f.bytes, 0, f.bytes.size(), 1 << 20);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->received(), f.bytes.size());
  auto done = Complete(kAlice, id, Sha(f.bytes));
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  EXPECT_EQ(done->file().file_id(), f.file_id);
  EXPECT_EQ(done->file().owner_user_id(), "u-alice");
  EXPECT_EQ(done->file().size(), f.bytes.size());
  EXPECT_EQ(done->file().plaintext_size(), 1536u * 1024);
  EXPECT_EQ(done->file().chunk_size(), 64u * 1024);
  EXPECT_EQ(done->file().chunk_count(), 24u);
  EXPECT_EQ(done->file().sha256(), Sha(f.bytes));
  EXPECT_EQ(done->file().created_unix(), now_);

  filestore::FileInfo info;
  size_t pieces = 0;
  auto got = Download(kAlice, f.file_id, 0, &info, &pieces);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, f.bytes);
  EXPECT_EQ(pieces, 2u);
  EXPECT_EQ(info.file_id(), f.file_id);

  // Resuming a broken download: from an offset, the tail.
  auto tail = Download(kAlice, f.file_id, 1000);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, Bytes(f.bytes.begin() + 1000, f.bytes.end()));
  // At the end: one message with the metadata and no data.
  auto end = Download(kAlice, f.file_id, f.bytes.size(), nullptr, &pieces);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->empty());
  EXPECT_EQ(pieces, 1u);
  ExpectError(core_->OpenDownload(kAlice, f.file_id, f.bytes.size() + 1), Code::kOutOfRange,
              reason::kOffsetOutOfRange);

  auto list = List(kAlice);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->files_size(), 1);
  EXPECT_EQ(list->files(0).file_id(), f.file_id);
  EXPECT_TRUE(list->next_page_token().empty());

  auto counters = core_->Counters();
  EXPECT_EQ(counters["uploads_started"], 1u);
  EXPECT_EQ(counters["uploads_completed"], 1u);
  EXPECT_EQ(counters["bytes_received"], f.bytes.size());
  EXPECT_EQ(counters["bytes_sent"], 2 * f.bytes.size() - 1000);
  EXPECT_EQ(counters["refusals"], 1u);  // the out-of-range offset
  for (const char* name : {"uploads_collected", "files_deleted"}) EXPECT_EQ(counters.count(name), 1u);
}

TEST_F(StorageCoreTest, KeepsDescriptionAndLabelsAndPrivateModes) {
  Cipher f = MakeCipher(10);
  auto r = Create(kAlice, f.file_id, f.bytes.size(), "census 2024", {{"dept", "stats"}, {"v", "2"}});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const std::string id = r->session().upload_id();
  EXPECT_EQ(r->session().max_message_bytes(), kMaxMessageBytes);
  EXPECT_EQ(r->session().expires_unix(), now_ + 86400);
  EXPECT_EQ(fs::status(PartPath(id)).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 0, f.bytes.size()).ok());
  ASSERT_TRUE(Complete(kAlice, id, Sha(f.bytes)).ok());
  auto st = Stat(kAlice, f.file_id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->file().description(), "census 2024");
  ASSERT_EQ(st->file().labels_size(), 2);
  EXPECT_EQ(st->file().labels().at("dept"), "stats");
  auto list = List(kAlice);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->files_size(), 1);
  EXPECT_EQ(list->files(0).labels().at("v"), "2");
  EXPECT_EQ(fs::status(BlobPath(f.file_id)).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  for (const char* d : {"uploads", "blobs"})
    EXPECT_EQ(fs::status(dir_ / "data" / d).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(fs::path(BlobPath(f.file_id)).parent_path()).permissions() & fs::perms::all,
            fs::perms::owner_all);
  EXPECT_FALSE(fs::exists(PartPath(id)));
}

// ---- CreateUpload's rules ----

TEST_F(StorageCoreTest, CreateUploadValidatesItsInput) {
  Cipher f = MakeCipher(10);
  ExpectError(Create(kAlice, "ABCDEF0123456789ABCDEF0123456789", 100), Code::kInvalidArgument,
              reason::kFileIdInvalid);
  ExpectError(Create(kAlice, f.file_id.substr(1), 100), Code::kInvalidArgument, reason::kFileIdInvalid);
  ExpectError(Create(kAlice, "../" + f.file_id.substr(3), 100), Code::kInvalidArgument,
              reason::kFileIdInvalid);
  ExpectError(Create(kAlice, f.file_id, 55), Code::kInvalidArgument, reason::kSizeInvalid);
  EXPECT_TRUE(Create(kAlice, MakeCipher(0).file_id, 56).ok());
  ExpectError(Create(kAlice, f.file_id, 100, std::string(1025, 'd')), Code::kInvalidArgument,
              reason::kDescriptionTooLong);
  EXPECT_TRUE(Create(kAlice, MakeCipher(1).file_id, 100, std::string(1024, 'd')).ok());
  Labels many;
  for (int i = 0; i < 33; ++i) many["k" + std::to_string(i)] = "v";
  ExpectError(Create(kAlice, f.file_id, 100, "", many), Code::kInvalidArgument, reason::kLabelsInvalid);
  ExpectError(Create(kAlice, f.file_id, 100, "", {{"", "v"}}), Code::kInvalidArgument,
              reason::kLabelsInvalid);
  ExpectError(Create(kAlice, f.file_id, 100, "", {{std::string(65, 'k'), "v"}}),
              Code::kInvalidArgument, reason::kLabelsInvalid);
  ExpectError(Create(kAlice, f.file_id, 100, "", {{"k", std::string(257, 'v')}}),
              Code::kInvalidArgument, reason::kLabelsInvalid);
  many.erase("k0");
  many.erase("k1");
  many[std::string(64, 'k')] = std::string(256, 'v');
  EXPECT_TRUE(Create(kAlice, f.file_id, 100, "", many).ok());
  ExpectError(Create(Caller::Anonymous(), MakeCipher(2).file_id, 100), Code::kUnauthenticated,
              reason::kUnauthenticated);
}

TEST_F(StorageCoreTest, RefusesAFileIdStoredOrInAnOpenSession) {
  Cipher f = MakeCipher(10);
  const std::string id = MustCreate(kAlice, f);
  ExpectError(Create(kAlice, f.file_id, f.bytes.size()), Code::kAlreadyExists, reason::kFileExists);
  ExpectError(Create(kBob, f.file_id, f.bytes.size()), Code::kAlreadyExists, reason::kFileExists);
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 0, f.bytes.size()).ok());
  ASSERT_TRUE(Complete(kAlice, id, Sha(f.bytes)).ok());
  ExpectError(Create(kBob, f.file_id, f.bytes.size()), Code::kAlreadyExists, reason::kFileExists);
}

TEST_F(StorageCoreTest, QuotaBytesRefusalStoresNothing) {
  Reopen({.quota_bytes = 1000});
  Cipher a = MakeCipher(500);  // 40 + 500 + 16 = 556 bytes
  Cipher b = MakeCipher(500);
  ASSERT_EQ(a.bytes.size(), 556u);
  const std::string id = MustCreate(kAlice, a);
  ASSERT_EQ(CountParts(), 1u);
  auto refused = Create(kAlice, b.file_id, b.bytes.size());
  ExpectError(refused, Code::kResourceExhausted, reason::kQuotaBytes);
  EXPECT_NE(refused.error().message().find("556 of 1000 bytes used, this upload needs 556"),
            std::string::npos)
      << refused.error().message();
  // Nothing of the refused upload exists: no part file, no reservation.
  EXPECT_EQ(CountParts(), 1u);
  EXPECT_TRUE(Create(kAlice, b.file_id, 1000 - 556).ok());  // exactly what is left
  ExpectError(Create(kAlice, MakeCipher(1).file_id, 56), Code::kResourceExhausted, reason::kQuotaBytes);
  // Larger than the whole quota.
  ExpectError(Create(kBob, MakeCipher(2).file_id, 1001), Code::kResourceExhausted,
              reason::kQuotaBytes);
  // Another user has a quota of its own.
  EXPECT_TRUE(Create(kBob, MakeCipher(1).file_id, 1000).ok());
  // A stored file still counts; deleting it frees it.
  ASSERT_TRUE(Send(kAlice, id, a.bytes, 0, a.bytes.size()).ok());
  ASSERT_TRUE(Complete(kAlice, id, Sha(a.bytes)).ok());
  Cipher c = MakeCipher(300);
  ExpectError(Create(kAlice, c.file_id, c.bytes.size()), Code::kResourceExhausted, reason::kQuotaBytes);
  ASSERT_TRUE(Delete(kAlice, a.file_id).ok());
  EXPECT_TRUE(Create(kAlice, c.file_id, c.bytes.size()).ok());
}

TEST_F(StorageCoreTest, QuotaFilesCountsFilesAndSessions) {
  Reopen({.quota_files = 2});
  Cipher a = MakeCipher(10), b = MakeCipher(10), c = MakeCipher(10);
  Store(kAlice, a);
  const std::string id = MustCreate(kAlice, b);
  const size_t parts = CountParts();
  auto refused = Create(kAlice, c.file_id, c.bytes.size());
  ExpectError(refused, Code::kResourceExhausted, reason::kQuotaFiles);
  EXPECT_NE(refused.error().message().find("2 of 2 files used"), std::string::npos);
  EXPECT_EQ(CountParts(), parts);
  // Aborting frees the reservation at once.
  filestore::AbortUploadRequest abort;
  abort.set_upload_id(id);
  ASSERT_TRUE(core_->AbortUpload(kAlice, abort).ok());
  EXPECT_FALSE(fs::exists(PartPath(id)));
  EXPECT_TRUE(Create(kAlice, c.file_id, c.bytes.size()).ok());
}

// ---- streams ----

TEST_F(StorageCoreTest, StreamEnforcesOffsetsSizesAndOneSession) {
  Cipher f = MakeCipher(3000);
  const std::string id = MustCreate(kAlice, f);
  ByteView all(f.bytes);
  // The first message must start at the durable offset (0).
  auto wrong_start = core_->OpenUploadStream(kAlice, Msg(id, 5, all.subspan(5, 10)));
  ExpectError(wrong_start, Code::kInvalidArgument, reason::kOffsetMismatch);
  EXPECT_NE(wrong_start.error().message().find("expected 0"), std::string::npos);
  ExpectError(core_->OpenUploadStream(kAlice, Msg(id, 0, {})), Code::kInvalidArgument,
              reason::kEmptyChunk);
  {
    auto s = core_->OpenUploadStream(kAlice, Msg(id, 0, all.subspan(0, 100)));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    // One stream per session.
    ExpectError(core_->OpenUploadStream(kAlice, Msg(id, 100, all.subspan(100, 10))),
                Code::kAborted, reason::kUploadBusy);
    ExpectError(Complete(kAlice, id, Sha(f.bytes)), Code::kAborted, reason::kUploadBusy);
    // A gap.
    auto st = (*s)->Append(Msg(id, 150, all.subspan(150, 10)));
    ExpectError(st, Code::kInvalidArgument, reason::kOffsetMismatch);
    EXPECT_NE(st.error().message().find("expected 100"), std::string::npos);
    // After an error the stream takes nothing more.
    ExpectError((*s)->Append(Msg(id, 100, all.subspan(100, 10))), Code::kFailedPrecondition,
                reason::kStreamClosed);
  }
  auto at = GetUpload(kAlice, id);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->session().received(), 100u);  // made durable when the stream ended
  {
    auto s = core_->OpenUploadStream(kAlice, Msg(id, 100, all.subspan(100, 100)));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    ExpectError((*s)->Append(Msg(id, 100, all.subspan(100, 100))), Code::kInvalidArgument,
                reason::kOffsetMismatch);  // a repeat
  }
  {
    auto s = core_->OpenUploadStream(kAlice, Msg(id, 200, all.subspan(200, 10)));
    ASSERT_TRUE(s.ok());
    ExpectError((*s)->Append(Msg(id, 210, {})), Code::kInvalidArgument, reason::kEmptyChunk);
  }
  {
    // Messages of another session in this stream.
    Cipher g = MakeCipher(10);
    const std::string other = MustCreate(kAlice, g);
    auto s = core_->OpenUploadStream(kAlice, Msg(id, 210, all.subspan(210, 10)));
    ASSERT_TRUE(s.ok());
    ExpectError((*s)->Append(Msg(other, 220, all.subspan(220, 10))), Code::kInvalidArgument,
                reason::kUploadIdMismatch);
  }
  {
    // Beyond the declared size.
    auto s = core_->OpenUploadStream(kAlice, Msg(id, 220, all.subspan(220, f.bytes.size() - 230)));
    ASSERT_TRUE(s.ok());
    Bytes extra(20, 0x41);
    ExpectError((*s)->Append(Msg(id, f.bytes.size() - 10, extra)), Code::kInvalidArgument,
                reason::kBeyondSize);
  }
  at = GetUpload(kAlice, id);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->session().received(), f.bytes.size() - 10);
  // Oversize: one byte more than max_message_bytes.
  Cipher big = MakeCipher(kMaxMessageBytes + 100, 1 << 20);
  const std::string big_id = MustCreate(kAlice, big);
  ExpectError(core_->OpenUploadStream(kAlice, Msg(big_id, 0, ByteView(big.bytes).first(kMaxMessageBytes + 1))),
              Code::kInvalidArgument, reason::kMessageTooLarge);
  EXPECT_TRUE(Send(kAlice, big_id, big.bytes, 0, big.bytes.size(), kMaxMessageBytes).ok());
  // The stream's completion still works after all the refusals.
  ASSERT_TRUE(Send(kAlice, id, f.bytes, f.bytes.size() - 10, f.bytes.size()).ok());
  EXPECT_TRUE(Complete(kAlice, id, Sha(f.bytes)).ok());
  EXPECT_TRUE(Complete(kAlice, big_id, Sha(big.bytes)).ok());
}

TEST_F(StorageCoreTest, ResumesAfterAStreamThatEndedEarly) {
  Cipher f = MakeCipher(5000);
  const std::string id = MustCreate(kAlice, f);
  {
    // A broken connection: the stream is dropped without Finish.
    auto s = core_->OpenUploadStream(kAlice, Msg(id, 0, ByteView(f.bytes).first(1000)));
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Append(Msg(id, 1000, ByteView(f.bytes).subspan(1000, 1000))).ok());
    // Not yet durable: under 8 MiB and the stream has not ended.
    auto mid = GetUpload(kAlice, id);
    ASSERT_TRUE(mid.ok());
    EXPECT_EQ(mid->session().received(), 0u);
  }
  auto at = GetUpload(kAlice, id);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->session().received(), 2000u);
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 2000, f.bytes.size()).ok());
  auto done = Complete(kAlice, id, Sha(f.bytes));
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  auto got = Download(kAlice, f.file_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, f.bytes);
}

TEST_F(StorageCoreTest, MakesDataDurableEveryNBytesMidStream) {
  Reopen({.durable_every_bytes = 4096});
  Cipher f = MakeCipher(20000);
  const std::string id = MustCreate(kAlice, f);
  auto s = core_->OpenUploadStream(kAlice, Msg(id, 0, ByteView(f.bytes).first(3000)));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(GetUpload(kAlice, id)->session().received(), 0u);
  ASSERT_TRUE((*s)->Append(Msg(id, 3000, ByteView(f.bytes).subspan(3000, 3000))).ok());
  EXPECT_EQ(GetUpload(kAlice, id)->session().received(), 6000u);
}

TEST_F(StorageCoreTest, ResumesAfterARestartWithALongerPartFile) {
  Cipher f = MakeCipher(6000);
  const std::string id = MustCreate(kAlice, f);
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 0, 3000).ok());
  // A crash after writing bytes that were never fsynced nor acknowledged:
  // the part file is longer than the durable offset, with garbage.
  {
    std::ofstream part(PartPath(id), std::ios::binary | std::ios::app);
    std::string junk(5000, 'J');
    part.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  ASSERT_EQ(fs::file_size(PartPath(id)), 8000u);
  Reopen();  // a new process: no hash state in memory
  auto at = GetUpload(kAlice, id);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->session().received(), 3000u);
  {
    auto s = core_->OpenUploadStream(kAlice, Msg(id, 3000, ByteView(f.bytes).subspan(3000, 500)));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    // Truncated to the durable offset at open, then the message appended.
    EXPECT_EQ(fs::file_size(PartPath(id)), 3500u);
  }
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 3500, f.bytes.size()).ok());
  // The SHA-256 covers the prefix rehashed from disk plus the new bytes.
  auto done = Complete(kAlice, id, Sha(f.bytes));
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  auto got = Download(kAlice, f.file_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, f.bytes);
}

// ---- completion ----

TEST_F(StorageCoreTest, CompletionChecksSizeShaAndHeader) {
  Cipher f = MakeCipher(2000);
  const std::string id = MustCreate(kAlice, f);
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 0, 1000).ok());
  ExpectError(Complete(kAlice, id, Sha(f.bytes)), Code::kFailedPrecondition, reason::kUploadIncomplete);
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 1000, f.bytes.size()).ok());
  ExpectError(Complete(kAlice, id, "short"), Code::kInvalidArgument, reason::kSha256Invalid);
  Bytes other = f.bytes;
  other[100] ^= 1;
  ExpectError(Complete(kAlice, id, Sha(other)), Code::kInvalidArgument, reason::kSha256Mismatch);
  ExpectError(Stat(kAlice, f.file_id), Code::kNotFound, reason::kFileNotFound);
  // The same session completes with the right digest.
  auto done = Complete(kAlice, id, Sha(f.bytes));
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  ExpectError(GetUpload(kAlice, id), Code::kNotFound, reason::kUploadNotFound);
}

TEST_F(StorageCoreTest, CompletionRefusesAHeaderNamingAnotherFile) {
  Cipher f = MakeCipher(1000);
  const std::string other_id = MakeCipher(1).file_id;
  auto r = Create(kAlice, other_id, f.bytes.size());
  ASSERT_TRUE(r.ok());
  const std::string id = r->session().upload_id();
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 0, f.bytes.size()).ok());
  ExpectError(Complete(kAlice, id, Sha(f.bytes)), Code::kInvalidArgument, reason::kHeaderMismatch);
  ExpectError(Stat(kAlice, other_id), Code::kNotFound, reason::kFileNotFound);
  EXPECT_FALSE(fs::exists(BlobPath(other_id)));
}

TEST_F(StorageCoreTest, CompletionRefusesAHeaderOfAnotherSize) {
  Cipher f = MakeCipher(1000);
  Bytes longer = f.bytes;
  longer.insert(longer.end(), 16, 0);  // a size the header does not describe
  auto r = Create(kAlice, f.file_id, longer.size());
  ASSERT_TRUE(r.ok());
  const std::string id = r->session().upload_id();
  ASSERT_TRUE(Send(kAlice, id, longer, 0, longer.size()).ok());
  ExpectError(Complete(kAlice, id, Sha(longer)), Code::kInvalidArgument, reason::kHeaderMismatch);
  EXPECT_TRUE(List(kAlice)->files().empty());
}

TEST_F(StorageCoreTest, CompletionRefusesBytesThatAreNotTheFormat) {
  Bytes junk = crypto::RandomBytes(500);
  const std::string file_id = MakeCipher(1).file_id;
  auto r = Create(kAlice, file_id, junk.size());
  ASSERT_TRUE(r.ok());
  const std::string id = r->session().upload_id();
  ASSERT_TRUE(Send(kAlice, id, junk, 0, junk.size()).ok());
  ExpectError(Complete(kAlice, id, Sha(junk)), Code::kInvalidArgument, files::reason::kBadMagic);
}

TEST_F(StorageCoreTest, AHalfUploadedFileIsNeverVisible) {
  Cipher f = MakeCipher(3000);
  const std::string id = MustCreate(kAlice, f);
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 0, 1500).ok());
  EXPECT_TRUE(List(kAlice)->files().empty());
  ExpectError(Stat(kAlice, f.file_id), Code::kNotFound, reason::kFileNotFound);
  ExpectError(core_->OpenDownload(kAlice, f.file_id, 0), Code::kNotFound, reason::kFileNotFound);
  // All bytes received but not completed: still not a file.
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 1500, f.bytes.size()).ok());
  EXPECT_TRUE(List(kAlice)->files().empty());
  ExpectError(Stat(kAlice, f.file_id), Code::kNotFound, reason::kFileNotFound);
  Reopen();
  EXPECT_TRUE(List(kAlice)->files().empty());
}

// ---- access ----

TEST_F(StorageCoreTest, OthersGetTheSameNotFoundAsForAnAbsentFile) {
  Cipher f = MakeCipher(100);
  Store(kAlice, f);
  const std::string absent = MakeCipher(1).file_id;
  auto same = [](const Error& a, const Error& b) {
    EXPECT_EQ(a.code(), Code::kNotFound);
    EXPECT_EQ(a.reason(), reason::kFileNotFound);
    EXPECT_EQ(a.code(), b.code());
    EXPECT_EQ(a.reason(), b.reason());
    EXPECT_EQ(a.message(), b.message());
  };
  same(Stat(kBob, f.file_id).error(), Stat(kBob, absent).error());
  same(core_->OpenDownload(kBob, f.file_id, 0).error(), core_->OpenDownload(kBob, absent, 0).error());
  same(Delete(kBob, f.file_id).error(), Delete(kBob, absent).error());
  same(Delete(kBob, f.file_id).error(), Stat(kBob, absent).error());
  // Even an offset past the end says nothing about Alice's file.
  same(core_->OpenDownload(kBob, f.file_id, 1 << 30).error(), Stat(kBob, absent).error());
  EXPECT_TRUE(shredded_.empty());
  EXPECT_TRUE(Stat(kAlice, f.file_id).ok());
  EXPECT_TRUE(List(kBob)->files().empty());
}

TEST_F(StorageCoreTest, AdminMayStatAndDeleteButNotDownload) {
  Cipher f = MakeCipher(100);
  Store(kAlice, f);
  auto st = Stat(kAdmin, f.file_id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->file().owner_user_id(), "u-alice");
  ExpectError(core_->OpenDownload(kAdmin, f.file_id, 0), Code::kNotFound, reason::kFileNotFound);
  // An admin lists only its own files.
  EXPECT_TRUE(List(kAdmin)->files().empty());
  ASSERT_TRUE(Delete(kAdmin, f.file_id).ok());
  ASSERT_EQ(shredded_.size(), 1u);
  EXPECT_EQ(shredded_[0], f.file_id + "/u-alice");  // the owner's key, not the admin's
  ExpectError(Stat(kAlice, f.file_id), Code::kNotFound, reason::kFileNotFound);
}

TEST_F(StorageCoreTest, SessionsAreTheOwnersOnly) {
  Cipher f = MakeCipher(100);
  const std::string id = MustCreate(kAlice, f);
  const std::string absent = crypto::RandomId();
  auto bob = GetUpload(kBob, id);
  auto none = GetUpload(kBob, absent);
  ExpectError(bob, Code::kNotFound, reason::kUploadNotFound);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(bob.error().message(), none.error().message());
  ExpectError(GetUpload(kAdmin, id), Code::kNotFound, reason::kUploadNotFound);
  ExpectError(core_->OpenUploadStream(kBob, Msg(id, 0, ByteView(f.bytes).first(10))), Code::kNotFound,
              reason::kUploadNotFound);
  ExpectError(Complete(kBob, id, Sha(f.bytes)), Code::kNotFound, reason::kUploadNotFound);
  filestore::AbortUploadRequest abort;
  abort.set_upload_id(id);
  ExpectError(core_->AbortUpload(kBob, abort), Code::kNotFound, reason::kUploadNotFound);
  ExpectError(GetUpload(kAlice, "not-an-id"), Code::kInvalidArgument, reason::kUploadIdInvalid);
  EXPECT_TRUE(GetUpload(kAlice, id).ok());
}

TEST_F(StorageCoreTest, ListsNewestFirstInPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    Cipher f = MakeCipher(10 + i);
    Store(kAlice, f);
    ids.push_back(f.file_id);
  }
  Store(kBob, MakeCipher(7));
  std::vector<std::string> seen;
  std::string token;
  std::vector<int> sizes;
  do {
    auto page = List(kAlice, 2, token);
    ASSERT_TRUE(page.ok()) << page.error().ToString();
    sizes.push_back(page->files_size());
    for (const auto& f : page->files()) seen.push_back(f.file_id());
    token = page->next_page_token();
  } while (!token.empty());
  EXPECT_EQ(sizes, (std::vector<int>{2, 2, 1}));
  EXPECT_EQ(seen, (std::vector<std::string>(ids.rbegin(), ids.rend())));
  EXPECT_EQ(List(kAlice, 0)->files_size(), 5);      // default 100
  EXPECT_EQ(List(kAlice, 100000)->files_size(), 5);  // capped at 1000, not refused
  for (const char* bad : {"garbage!", "AAAA", "AQAAAAAAAAAA", "bm90IGEgdG9rZW4="})
    ExpectError(List(kAlice, 2, bad), Code::kInvalidArgument, reason::kPageTokenInvalid);
}

// ---- deletion ----

TEST_F(StorageCoreTest, AFailingShredderLeavesTheFileIntact) {
  Cipher f = MakeCipher(100);
  Store(kAlice, f);
  shred_fails_ = true;
  auto r = Delete(kAlice, f.file_id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Code::kUnavailable);
  EXPECT_EQ(r.error().reason(), "TEST_KEYVAULT_DOWN");
  EXPECT_EQ(shredded_.size(), 1u);
  EXPECT_TRUE(Stat(kAlice, f.file_id).ok());
  EXPECT_TRUE(fs::exists(BlobPath(f.file_id)));
  auto got = Download(kAlice, f.file_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, f.bytes);
  EXPECT_EQ(core_->Counters()["files_deleted"], 0u);
}

TEST_F(StorageCoreTest, DeleteShredsTheKeyThenRemovesRowAndBlob) {
  Cipher f = MakeCipher(100);
  Store(kAlice, f);
  ASSERT_TRUE(fs::exists(BlobPath(f.file_id)));
  ASSERT_TRUE(Delete(kAlice, f.file_id).ok());
  EXPECT_EQ(shredded_, (std::vector<std::string>{f.file_id + "/u-alice"}));
  ExpectError(Stat(kAlice, f.file_id), Code::kNotFound, reason::kFileNotFound);
  EXPECT_FALSE(fs::exists(BlobPath(f.file_id)));
  EXPECT_TRUE(List(kAlice)->files().empty());
  ExpectError(Delete(kAlice, f.file_id), Code::kNotFound, reason::kFileNotFound);
  EXPECT_EQ(core_->Counters()["files_deleted"], 1u);
  // The id is free again (a fresh upload of the same file).
  EXPECT_TRUE(Create(kAlice, f.file_id, f.bytes.size()).ok());
}

// ---- StatFileForTask (cloister-tasks checks an assigned file) ----

TEST_F(StorageCoreTest, StatFileForTaskRefusesEveryUserAndBindsTheOwner) {
  Cipher f = MakeCipher(100);
  Store(kAlice, f);
  filestore::StatFileForTaskRequest r;
  r.set_file_id(f.file_id);
  r.set_owner_user_id("u-alice");
  // The owner, an admin, and a user whose id merely reads like the service:
  // only the tasks enclave's service Caller (made by the grant verifier) passes.
  const Caller impostor = services::MakeCallerForTesting({.user_id = "service:tasks"});
  for (const Caller* c : {&kAlice, &kAdmin, &impostor}) {
    auto st = core_->StatFileForTask(*c, r);
    ExpectError(st, Code::kPermissionDenied, reason::kTasksOnly);
  }
  ExpectError(core_->StatFileForTask(Caller::Anonymous(), r), Code::kPermissionDenied,
              reason::kTasksOnly);
  // The lookup it answers with once the caller passed: the named owner's
  // file, or the same NOT_FOUND for another owner and for an absent file.
  auto own = core_->OwnedFile(f.file_id, "u-alice");
  ASSERT_TRUE(own.ok()) << own.error().ToString();
  EXPECT_EQ(own->owner, "u-alice");
  EXPECT_EQ(own->sha256, ToBytes(Sha(f.bytes)));
  auto other = core_->OwnedFile(f.file_id, "u-bob");
  ExpectError(other, Code::kNotFound, reason::kFileNotFound);
  auto absent = core_->OwnedFile(MakeCipher(1).file_id, "u-alice");
  ExpectError(absent, Code::kNotFound, reason::kFileNotFound);
  EXPECT_EQ(other.error().message(), absent.error().message());
  ExpectError(core_->OwnedFile(f.file_id, ""), Code::kNotFound, reason::kFileNotFound);
  ExpectError(core_->OwnedFile("../x", "u-alice"), Code::kInvalidArgument, reason::kFileIdInvalid);
}

// ---- collection ----

TEST_F(StorageCoreTest, CollectsExpiredSessionsAndFreesTheirReservation) {
  Reopen({.quota_bytes = 1000, .upload_ttl_s = 600});
  Cipher f = MakeCipher(800);
  const std::string id = MustCreate(kAlice, f);
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 0, 500).ok());
  Cipher g = MakeCipher(800);
  ExpectError(Create(kAlice, g.file_id, g.bytes.size()), Code::kResourceExhausted, reason::kQuotaBytes);
  auto n = core_->CollectExpired(now_);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);  // not yet expired
  now_ += 600;
  // Expired: gone for its owner at once, collected by the next round.
  ExpectError(GetUpload(kAlice, id), Code::kNotFound, reason::kUploadNotFound);
  // A failing shredder keeps the session for the next round.
  shred_fails_ = true;
  n = core_->CollectExpired(now_);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_TRUE(fs::exists(PartPath(id)));
  shred_fails_ = false;
  n = core_->CollectExpired(now_);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(shredded_.back(), f.file_id + "/u-alice");
  EXPECT_FALSE(fs::exists(PartPath(id)));
  EXPECT_EQ(core_->Counters()["uploads_collected"], 1u);
  EXPECT_TRUE(Create(kAlice, g.file_id, g.bytes.size()).ok());
  EXPECT_TRUE(List(kAlice)->files().empty());
}

TEST_F(StorageCoreTest, CollectionSkipsASessionWithAnOpenStream) {
  Reopen({.upload_ttl_s = 60});
  Cipher f = MakeCipher(800);
  const std::string id = MustCreate(kAlice, f);
  auto s = core_->OpenUploadStream(kAlice, Msg(id, 0, ByteView(f.bytes).first(100)));
  ASSERT_TRUE(s.ok());
  now_ += 61;
  auto n = core_->CollectExpired(now_);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  s->reset();
  n = core_->CollectExpired(now_);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
}

TEST_F(StorageCoreTest, CollectsOrphanPartsAndBlobsAtStart) {
  Cipher kept = MakeCipher(100);
  Store(kAlice, kept);
  const std::string live = MustCreate(kAlice, MakeCipher(50));
  // A blob without a row (a crash between a delete's commit and its unlink)
  // and a part file without a session.
  const std::string orphan_blob = MakeCipher(1).file_id;
  fs::create_directories(fs::path(BlobPath(orphan_blob)).parent_path());
  std::ofstream(BlobPath(orphan_blob)) << "ciphertext";
  const std::string orphan_part = crypto::RandomId();
  std::ofstream(PartPath(orphan_part)) << "partial";
  std::ofstream(dir_ / "data" / "uploads" / "README") << "not ours";
  Reopen();
  auto report = core_->CollectOrphans();
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->parts_removed, 1u);
  EXPECT_EQ(report->blobs_removed, 1u);
  EXPECT_EQ(report->blobs_restored, 0u);
  EXPECT_FALSE(fs::exists(BlobPath(orphan_blob)));
  EXPECT_FALSE(fs::exists(PartPath(orphan_part)));
  EXPECT_TRUE(fs::exists(dir_ / "data" / "uploads" / "README"));
  EXPECT_TRUE(fs::exists(PartPath(live)));
  EXPECT_TRUE(fs::exists(BlobPath(kept.file_id)));
  EXPECT_TRUE(Download(kAlice, kept.file_id).ok());
}

TEST_F(StorageCoreTest, RestoresABlobRenamedButNotCommitted) {
  Cipher f = MakeCipher(1000);
  const std::string id = MustCreate(kAlice, f);
  ASSERT_TRUE(Send(kAlice, id, f.bytes, 0, f.bytes.size()).ok());
  // A crash after CompleteUpload's rename, before its commit.
  fs::create_directories(fs::path(BlobPath(f.file_id)).parent_path());
  fs::rename(PartPath(id), BlobPath(f.file_id));
  Reopen();
  ExpectError(Stat(kAlice, f.file_id), Code::kNotFound, reason::kFileNotFound);
  auto report = core_->CollectOrphans();
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->blobs_restored, 1u);
  EXPECT_EQ(report->blobs_removed, 0u);
  EXPECT_TRUE(fs::exists(PartPath(id)));
  // The client's retried completion finds its bytes.
  auto done = Complete(kAlice, id, Sha(f.bytes));
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  auto got = Download(kAlice, f.file_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, f.bytes);
}

// ---- audit ----

TEST_F(StorageCoreTest, AuditsCreatedDeletedAndCollectedFilesWithoutIds) {
  auto log = services::AuditLog::Open((dir_ / "audit.log").string(), "storage",
                                      SecretBytes::Random(32));
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  audit_ = log->get();
  Reopen({.upload_ttl_s = 60});
  Cipher f = MakeCipher(100);
  Store(kAlice, f);
  ASSERT_TRUE(Delete(kAlice, f.file_id).ok());
  Cipher g = MakeCipher(100);
  MustCreate(kAlice, g);
  now_ += 61;
  ASSERT_TRUE(core_->CollectExpired(now_).ok());
  ExpectError(Delete(kBob, g.file_id), Code::kNotFound, reason::kFileNotFound);
  core_.reset();
  auto text = ReadFile((dir_ / "audit.log").string());
  ASSERT_TRUE(text.ok());
  for (const char* m : {"storage.CreateUpload", "storage.CompleteUpload", "storage.DeleteFile",
                        "storage.CollectUpload", "FILE_NOT_FOUND"})
    EXPECT_NE(text->find(m), std::string::npos) << m;
  // Resources are HMAC'd: the file ids themselves never appear.
  EXPECT_EQ(text->find(f.file_id), std::string::npos);
  EXPECT_EQ(text->find(g.file_id), std::string::npos);
  audit_ = nullptr;
}

}  // namespace
}  // namespace cloister::storage_service
