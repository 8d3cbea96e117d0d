// Fuzzes cloister-keyvault's formats that clients hand it
// (services/keyvault/key_ops.h): the ciphertext text format, the import
// envelope (u16be len ‖ RSA-OAEP(K) ‖ nonce ‖ AES-GCM(K, material)), the key
// material an import carries, and key references ("owner/name"); and the
// SDK's side of the import, which parses the vault's wrapping key (SPKI DER)
// before it wraps (sdk/keyvault_client.cc WrapKeyForImport). Input: selector
// byte (low 3 bits: which format; the rest: the key type of imported
// material), then the payload. Whatever parses must round-trip.
#include <google/protobuf/stubs/logging.h>
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_seed.h"
#include "services/keyvault/key_ops.h"

using namespace cloister;
using namespace cloister::keyvault_ops;

namespace {

constexpr std::string_view kKeyName = "alice/db";
constexpr std::string_view kImportName = "imported";

struct Keys {
  SecretBytes aes = SecretBytes::Random(32);
  crypto::PrivateKey wrapping = *crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048);
  crypto::AesGcm gcm = *crypto::AesGcm::Create(aes.view());
};
Keys& K() {
  static Keys k;
  return k;
}

constexpr keyvault::KeyType kTypes[] = {
    keyvault::KEY_TYPE_AES256_GCM, keyvault::KEY_TYPE_RSA_2048,  keyvault::KEY_TYPE_RSA_3072,
    keyvault::KEY_TYPE_RSA_4096,   keyvault::KEY_TYPE_ECDSA_P256, keyvault::KEY_TYPE_ED25519,
    keyvault::KEY_TYPE_HMAC_SHA256, keyvault::KEY_TYPE_UNSPECIFIED};

std::string CiphertextText(const ParsedCiphertext& c) {
  return "cloister:" + c.name + ":v" + std::to_string(c.version) + ":" + Base64Encode(c.blob);
}

// A ciphertext as clients send it to Decrypt/Rewrap.
void Ciphertext(std::string_view text) {
  auto ct = ParseCiphertext(text);
  if (!ct.ok()) return;
  if (!ParseKeyRef(ct->name).ok() || ct->version == 0) __builtin_trap();
  (void)DecryptWith(K().gcm, *ct, AsBytes("aad"));
  auto again = ParseCiphertext(CiphertextText(*ct));
  if (!again.ok() || again->name != ct->name || again->version != ct->version ||
      again->blob != ct->blob)
    __builtin_trap();
}

// Any plaintext and aad encrypt into a ciphertext that parses and decrypts
// back, under this key name and version only.
void EncryptRoundTrip(uint8_t selector, std::string_view payload) {
  const size_t cut = payload.empty() ? 0 : static_cast<uint8_t>(payload[0]) % payload.size();
  const ByteView aad = AsBytes(payload.substr(0, cut));
  const ByteView plain = AsBytes(payload.substr(cut));
  const uint32_t version = 1u + selector;
  auto text = EncryptWith(K().gcm, kKeyName, version, plain, aad);
  if (!text.ok()) __builtin_trap();
  auto ct = ParseCiphertext(*text);
  if (!ct.ok() || ct->name != kKeyName || ct->version != version) __builtin_trap();
  auto back = DecryptWith(K().gcm, *ct, aad);
  if (!back.ok() || *back != Bytes(plain.begin(), plain.end())) __builtin_trap();
  ParsedCiphertext other = *ct;
  other.version = version + 1;
  if (DecryptWith(K().gcm, other, aad).ok()) __builtin_trap();
}

// Key material as ImportKey receives it, after the envelope opened.
void Material(uint8_t selector, ByteView material) {
  const keyvault::KeyType type = kTypes[(selector >> 3) % std::size(kTypes)];
  auto k = KeyMaterial::FromBytes(type, material);
  if (!k.ok()) return;
  if (k->type() != type) __builtin_trap();
  SecretBytes stored = k->Serialize();
  auto again = KeyMaterial::FromBytes(type, stored.view());
  if (!again.ok()) __builtin_trap();
  SecretBytes stored_again = again->Serialize();
  if (!ConstantTimeEqual(stored.view(), stored_again.view())) __builtin_trap();
}

// The envelope an ImportKey request carries, under this vault's key.
void Unwrap(uint8_t selector, std::string_view payload) {
  auto material = UnwrapImport(K().wrapping, AsBytes(payload), kImportName);
  if (material.ok()) Material(selector, material->view());
}

// Any material wraps (as the SDK does) into an envelope that opens to it
// under its own name only.
void WrapRoundTrip(std::string_view payload) {
  auto wrapped = WrapForImport(K().wrapping.public_key(), AsBytes(payload), kImportName);
  if (!wrapped.ok()) __builtin_trap();
  auto back = UnwrapImport(K().wrapping, *wrapped, kImportName);
  if (!back.ok() || !ConstantTimeEqual(back->view(), AsBytes(payload))) __builtin_trap();
  if (UnwrapImport(K().wrapping, *wrapped, "other").ok()) __builtin_trap();
}

// The SDK: the wrapping key the vault returned, then a wrap under it.
void WrappingKey(std::string_view payload) {
  auto pub = crypto::PublicKey::FromSpkiDer(AsBytes(payload));
  if (!pub.ok()) return;
  (void)WrapForImport(*pub, Bytes(32, 7), kImportName);
}

void KeyReference(std::string_view text) {
  auto ref = ParseKeyRef(text);
  if (!ref.ok()) return;
  if (FullKeyName(ref->owner, ref->name) != text || !ValidateKeyName(ref->name).ok())
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::QuietLogs();
  google::protobuf::SetLogHandler(nullptr);
  if (auto ct = EncryptWith(K().gcm, kKeyName, 3, AsBytes("secret"), AsBytes("aad")); ct.ok())
    fuzz::WriteSeed("ciphertext", fuzz::Seed(0, *ct));
  fuzz::WriteSeed("plaintext", fuzz::Seed(1, "\x03" "aadplaintext"));
  const Bytes aes(32, 0x42);
  if (auto w = WrapForImport(K().wrapping.public_key(), aes, kImportName); w.ok())
    fuzz::WriteSeed("envelope-aes", fuzz::Seed(2, AsChars(*w)));
  auto ed = crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  if (ed.ok()) {
    SecretBytes der = ed->Pkcs8Der();
    if (auto w = WrapForImport(K().wrapping.public_key(), der.view(), kImportName); w.ok())
      fuzz::WriteSeed("envelope-ed25519", fuzz::Seed(2 | (5 << 3), AsChars(*w)));
    fuzz::WriteSeed("material-ed25519", fuzz::Seed(5 | (5 << 3), AsChars(der.view())));
  }
  if (auto ec = crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256); ec.ok())
    fuzz::WriteSeed("material-p256", fuzz::Seed(5 | (4 << 3), AsChars(ec->Pkcs8Der().view())));
  fuzz::WriteSeed("wrap", fuzz::Seed(3, "material"));
  fuzz::WriteSeed("wrapping-key", fuzz::Seed(4, AsChars(K().wrapping.public_key().SpkiDer())));
  fuzz::WriteSeed("key-ref", fuzz::Seed(6, "bob/payments-2024"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  const fuzz::Input in(data, size);
  switch (in.selector & 7) {
    case 0: Ciphertext(in.payload); break;
    case 1: EncryptRoundTrip(in.selector, in.payload); break;
    case 2: Unwrap(in.selector, in.payload); break;
    case 3: WrapRoundTrip(in.payload); break;
    case 4: WrappingKey(in.payload); break;
    case 5: Material(in.selector, AsBytes(in.payload)); break;
    default: KeyReference(in.payload); break;
  }
  return 0;
}
