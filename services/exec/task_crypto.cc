// A task's files in memory: DecryptInput checks and opens a fetched input,
// EncryptOutput seals an output copy as a new file; see task_runner.h.
#include <string>

#include "common/bytes.h"
#include "common/secret.h"
#include "files/file_stream.h"
#include "services/exec/task_runner.h"

namespace cloister::exec {

Result<std::string> DecryptInput(ByteView key, std::string_view ct, std::string_view file_id) {
  if (ct.size() < files::kHeaderSize)
    return DataLoss("ciphertext shorter than a file header", reason::kInputDecrypt);
  auto dec = files::FileDecryptor::Open(key, AsBytes(ct.substr(0, files::kHeaderSize)));
  if (!dec.ok())
    return DataLoss("not a Cloister file (" + dec.error().reason() + ")", reason::kInputDecrypt);
  if (HexEncode(dec->header().file_id) != file_id)
    return DataLoss("the file header names another file", reason::kInputIntegrity);
  if (dec->header().encrypted_size() != ct.size())
    return DataLoss("the ciphertext is not the size its header says", reason::kInputDecrypt);
  std::string plain;
  plain.reserve(dec->header().plaintext_length);
  size_t at = files::kHeaderSize;
  for (uint64_t i = 0; i < dec->header().chunk_count(); ++i) {
    const size_t n = dec->sealed_chunk_size(i);
    auto chunk = dec->OpenChunk(AsBytes(ct.substr(at, n)));
    if (!chunk.ok()) {
      Cleanse(plain);
      return DataLoss("does not decrypt with its file key (" + chunk.error().reason() + ")",
                      reason::kInputDecrypt);
    }
    plain.append(AsChars(*chunk));
    Cleanse(*chunk);
    at += n;
  }
  if (Status st = dec->Finish(); !st.ok()) {
    Cleanse(plain);
    return DataLoss("incomplete file (" + st.error().reason() + ")", reason::kInputDecrypt);
  }
  return plain;
}

Result<std::string> EncryptOutput(ByteView key, const files::FileId& file_id,
                                  std::string_view plaintext, uint32_t chunk_size) {
  files::EncryptOptions eo;
  eo.chunk_size = chunk_size;
  eo.file_id = file_id;
  CLOISTER_ASSIGN_OR_RETURN(auto enc, files::FileEncryptor::Create(key, plaintext.size(), eo));
  std::string ct;
  ct.reserve(enc.header().encrypted_size());
  ct.append(AsChars(enc.header_bytes()));
  size_t at = 0;
  for (uint64_t i = 0; i < enc.header().chunk_count(); ++i) {
    const size_t n = enc.header().chunk_plaintext_size(i);
    CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, enc.SealChunk(AsBytes(plaintext.substr(at, n))));
    ct.append(AsChars(sealed));
    at += n;
  }
  CLOISTER_RETURN_IF_ERROR(enc.Finish());
  return ct;
}

}  // namespace cloister::exec
