// Writes the file format's test vector (docs/file-format.md, "Test vector")
// into DIR: vector1.key (hex), vector1.plain, vector1.cloister, from a fixed
// key, file id and plaintext, so that an implementation in another
// language can check its reader (and writer) byte for byte. The unit test
// checks that this library still produces exactly the checked-in bytes.
//
//   file_vector_gen files/testdata
#include <iostream>

#include "common/fs.h"
#include "files/file_stream.h"
#include "files/vector_spec.h"

int main(int argc, char** argv) {
  using namespace cloister;
  if (argc != 2) {
    std::cerr << "usage: file_vector_gen DIR" << std::endl;
    return 2;
  }
  const std::string dir = argv[1];
  auto sealed = files::BuildTestVector();
  if (!sealed.ok()) {
    std::cerr << sealed.error().ToString() << std::endl;
    return 1;
  }
  const Bytes plain = files::TestVectorPlaintext();
  for (auto [name, data] : {std::pair<std::string, std::string>{"vector1.key", HexEncode(files::TestVectorKey()) + "\n"},
                            {"vector1.plain", ToString(plain)},
                            {"vector1.cloister", ToString(*sealed)}}) {
    if (auto st = WriteFileAtomic(dir + "/" + name, data, 0644); !st.ok()) {
      std::cerr << st.ToString() << std::endl;
      return 1;
    }
  }
  std::cout << "wrote " << dir << "/vector1.{key,plain,cloister}" << std::endl;
  return 0;
}
