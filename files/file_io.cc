// File-to-file streaming over FileEncryptor/FileDecryptor; see file_io.h.
#include "files/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "common/sys/atomic_file.h"
#include "common/sys/unique_fd.h"

namespace cloister::files {
namespace {

Result<uint64_t> SizeOf(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + " is not a regular file");
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

Result<FileHeader> EncryptFile(const std::string& in_path, const std::string& out_path,
                               ByteView key, EncryptOptions options, const Progress& progress) {
  CLOISTER_ASSIGN_OR_RETURN(sys::UniqueFd in, sys::OpenFd(in_path, O_RDONLY | O_CLOEXEC));
  CLOISTER_ASSIGN_OR_RETURN(uint64_t size, SizeOf(in.get(), in_path));
  CLOISTER_ASSIGN_OR_RETURN(FileEncryptor enc, FileEncryptor::Create(key, size, options));
  CLOISTER_ASSIGN_OR_RETURN(sys::AtomicFileWriter out, sys::AtomicFileWriter::Create(out_path, 0644));
  CLOISTER_RETURN_IF_ERROR(out.Append(enc.header_bytes()));
  Bytes buf;
  uint64_t done = 0;
  for (uint64_t i = 0; i < enc.header().chunk_count(); ++i) {
    buf.resize(enc.header().chunk_plaintext_size(i));
    CLOISTER_ASSIGN_OR_RETURN(size_t got, sys::ReadFull(in.get(), buf));
    if (got != buf.size())
      return FailedPrecondition(in_path + " changed size while it was being encrypted");
    CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, enc.SealChunk(buf));
    CLOISTER_RETURN_IF_ERROR(out.Append(sealed));
    done += got;
    if (progress) progress(done, size);
  }
  uint8_t probe = 0;
  CLOISTER_ASSIGN_OR_RETURN(size_t extra, sys::ReadFull(in.get(), std::span<uint8_t>(&probe, 1)));
  if (extra != 0) return FailedPrecondition(in_path + " grew while it was being encrypted");
  CLOISTER_RETURN_IF_ERROR(enc.Finish());
  CLOISTER_RETURN_IF_ERROR(out.Commit());
  return enc.header();
}

Result<FileHeader> DecryptFile(const std::string& in_path, const std::string& out_path,
                               ByteView key, const Progress& progress) {
  CLOISTER_ASSIGN_OR_RETURN(sys::UniqueFd in, sys::OpenFd(in_path, O_RDONLY | O_CLOEXEC));
  CLOISTER_ASSIGN_OR_RETURN(uint64_t size, SizeOf(in.get(), in_path));
  Bytes header(kHeaderSize);
  CLOISTER_ASSIGN_OR_RETURN(size_t got, sys::ReadFull(in.get(), header));
  header.resize(got);
  CLOISTER_ASSIGN_OR_RETURN(FileDecryptor dec, FileDecryptor::Open(key, header));
  // The length is known from the header: refuse a wrong-sized file before
  // writing anything.
  if (size < dec.header().encrypted_size())
    return InvalidArgument(in_path + " is " + std::to_string(size) + " bytes; its header needs " +
                               std::to_string(dec.header().encrypted_size()),
                           reason::kTruncated);
  if (size > dec.header().encrypted_size())
    return InvalidArgument(in_path + " has " + std::to_string(size - dec.header().encrypted_size()) +
                               " bytes after its last chunk",
                           reason::kTrailing);
  CLOISTER_ASSIGN_OR_RETURN(sys::AtomicFileWriter out, sys::AtomicFileWriter::Create(out_path, 0600));
  Bytes buf;
  uint64_t done = 0;
  for (uint64_t i = 0; i < dec.header().chunk_count(); ++i) {
    buf.resize(dec.sealed_chunk_size(i));
    CLOISTER_ASSIGN_OR_RETURN(size_t n, sys::ReadFull(in.get(), buf));
    buf.resize(n);
    CLOISTER_ASSIGN_OR_RETURN(Bytes plain, dec.OpenChunk(buf));
    CLOISTER_RETURN_IF_ERROR(out.Append(plain));
    done += plain.size();
    if (progress) progress(done, dec.header().plaintext_length);
  }
  CLOISTER_RETURN_IF_ERROR(dec.Finish());
  CLOISTER_RETURN_IF_ERROR(out.Commit());
  return dec.header();
}

}  // namespace cloister::files
