// Encrypting and decrypting whole files on disk with the file format,
// streaming with memory bounded by one chunk (a 4 GiB file needs ~2 chunk
// buffers). The output is written to a temporary file beside the target
// and renamed over it only when every chunk was produced (and, decrypting,
// authenticated through the last one): a failed or tampered decryption
// never leaves partial plaintext at the target path.
//
//   CLOISTER_ASSIGN_OR_RETURN(FileHeader h, EncryptFile("in.csv", "in.csv.cloister", key));
//   CLOISTER_RETURN_IF_ERROR(DecryptFile("in.csv.cloister", "out.csv", key).status());
#pragma once

#include <functional>
#include <string>

#include "files/file_stream.h"

namespace cloister::files {

// Called after each chunk with (bytes done, bytes total) of the input.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

Result<FileHeader> EncryptFile(const std::string& in_path, const std::string& out_path,
                               ByteView key, EncryptOptions options = {},
                               const Progress& progress = nullptr);
// The named errors of FileDecryptor, plus FILE_TRUNCATED / FILE_TRAILING_DATA
// for a file of the wrong length.
Result<FileHeader> DecryptFile(const std::string& in_path, const std::string& out_path,
                               ByteView key, const Progress& progress = nullptr);

}  // namespace cloister::files
