// Fuzzes the encrypted file format's reader (files/): header parsing and
// chunk-by-chunk opening of arbitrary bytes under a fixed key, seeded with
// the checked-in test vector's construction. Nothing may crash, and a
// stream that opens must have exactly the length its header declared.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_common.h"
#include "files/vector_spec.h"

using namespace cloister;
using namespace cloister::files;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto v = BuildTestVector();
  if (v.ok()) fuzz::WriteSeed("vector1", AsChars(*v));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  static const Bytes key = TestVectorKey();
  ByteView in(data, size);
  auto dec = FileDecryptor::Open(key, in.first(std::min(size, kHeaderSize)));
  if (!dec.ok()) return 0;
  size_t off = kHeaderSize;
  uint64_t out = 0;
  while (off < size && dec->next_index() < dec->header().chunk_count()) {
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(dec->sealed_chunk_size(dec->next_index()), size - off));
    auto plain = dec->OpenChunk(in.subspan(off, want));
    if (!plain.ok()) return 0;
    out += plain->size();
    off += want;
  }
  if (off == size && dec->Finish().ok() && out != dec->header().plaintext_length) std::abort();
  return 0;
}
