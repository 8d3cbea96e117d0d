// Wraps OpenSSL 3's C API (X509, X509V3, X509_STORE) for certificate
// creation, parsing and chain verification; see x509.h.
#include "common/crypto/x509.h"

#include <openssl/pem.h>

#include <ctime>

#include "common/crypto/key_handle.h"
#include "common/crypto/random.h"
#include "common/crypto/sys/openssl.h"

namespace cloister::crypto {
using namespace sys;

namespace {

using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;

Status AddStdExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return OpenSslError(std::string("add extension ") + OBJ_nid2sn(nid));
  return OkStatus();
}

Status AddCustomExtension(X509* cert, const CertExtension& e) {
  Asn1ObjectPtr obj(OBJ_txt2obj(e.oid.c_str(), /*no_name=*/1));
  if (!obj) return InvalidArgument("bad extension OID '" + e.oid + "'");
  Asn1OctetPtr octets(ASN1_OCTET_STRING_new());
  if (!octets || ASN1_OCTET_STRING_set(octets.get(), e.value.data(),
                                       static_cast<int>(e.value.size())) != 1)
    return OpenSslError("extension value");
  X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), e.critical ? 1 : 0,
                                              octets.get()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return OpenSslError("add extension");
  return OkStatus();
}

int64_t Asn1TimeToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

Result<Certificate> FromX509(X509Ptr x);

}  // namespace

Result<Certificate> Certificate::Create(const CertOptions& opts, const PublicKey& subject,
                                        const PrivateKey& issuer_key,
                                        const Certificate* issuer) {
  if (opts.not_after == 0) return InvalidArgument("certificate needs not_after");
  X509Ptr x(X509_new());
  if (!x) return OpenSslError("X509_new");
  X509_set_version(x.get(), X509_VERSION_3);

  Bytes serial = RandomBytes(16);
  serial[0] &= 0x7f;  // positive INTEGER
  BnPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())) == nullptr)
    return OpenSslError("serial");

  int64_t nb = opts.not_before != 0 ? opts.not_before : static_cast<int64_t>(time(nullptr)) - 60;
  if (ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(nb)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(opts.not_after)) == nullptr)
    return OpenSslError("validity");

  X509_NAME* name = X509_get_subject_name(x.get());
  if (!opts.organization.empty())
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(opts.organization.c_str()),
                               -1, -1, 0);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(opts.common_name.c_str()),
                                 -1, -1, 0) != 1)
    return OpenSslError("subject name");
  X509* issuer_x = issuer ? issuer->handle().x509.get() : x.get();
  if (X509_set_issuer_name(x.get(), X509_get_subject_name(issuer_x)) != 1)
    return OpenSslError("issuer name");
  if (X509_set_pubkey(x.get(), subject.handle().pkey.get()) != 1) return OpenSslError("pubkey");

  CLOISTER_RETURN_IF_ERROR(AddStdExtension(x.get(), issuer_x, NID_basic_constraints,
                                           opts.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE"));
  CLOISTER_RETURN_IF_ERROR(AddStdExtension(
      x.get(), issuer_x, NID_key_usage,
      opts.is_ca ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature"));
  CLOISTER_RETURN_IF_ERROR(AddStdExtension(x.get(), issuer_x, NID_subject_key_identifier, "hash"));
  if (issuer != nullptr)  // strict chain verification requires it
    CLOISTER_RETURN_IF_ERROR(
        AddStdExtension(x.get(), issuer_x, NID_authority_key_identifier, "keyid:always"));
  if (!opts.dns_names.empty()) {
    std::string san;
    for (const auto& d : opts.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + d;
    CLOISTER_RETURN_IF_ERROR(AddStdExtension(x.get(), issuer_x, NID_subject_alt_name, san.c_str()));
  }
  for (const auto& e : opts.extensions) CLOISTER_RETURN_IF_ERROR(AddCustomExtension(x.get(), e));

  const EVP_MD* md = issuer_key.type() == KeyType::kEd25519 ? nullptr : EVP_sha256();
  if (X509_sign(x.get(), issuer_key.handle().pkey.get(), md) <= 0) return OpenSslError("X509_sign");
  return FromX509(std::move(x));
}

namespace {
Result<Certificate> FromX509(X509Ptr x) {
  EVP_PKEY* pk = X509_get0_pubkey(x.get());
  if (pk == nullptr) return InvalidArgument("certificate has no usable public key");
  unsigned char* buf = nullptr;
  int n = i2d_PUBKEY(pk, &buf);
  if (n <= 0) return OpenSslError("certificate public key", Code::kInvalidArgument);
  Bytes spki(buf, buf + n);
  OPENSSL_free(buf);
  CLOISTER_ASSIGN_OR_RETURN(PublicKey key, PublicKey::FromSpkiDer(spki));
  auto h = std::make_shared<CertHandle>();
  h->x509 = std::move(x);
  return Certificate::FromHandleForInternalUse(std::move(h), std::move(key));
}
}  // namespace

Result<Certificate> Certificate::FromDer(ByteView der) {
  if (der.empty() || der.size() > (1u << 20)) return InvalidArgument("certificate size out of range");
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) return OpenSslError("certificate DER", Code::kInvalidArgument);
  if (p != der.data() + der.size()) return InvalidArgument("trailing bytes after certificate");
  return FromX509(std::move(x));
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  if (pem.size() > (1u << 21)) return InvalidArgument("certificate PEM too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!x) return OpenSslError("certificate PEM", Code::kInvalidArgument);
  return FromX509(std::move(x));
}

Bytes Certificate::Der() const {
  unsigned char* buf = nullptr;
  int n = i2d_X509(h_->x509.get(), &buf);
  if (n <= 0) std::abort();
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

std::string Certificate::Pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), h_->x509.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string Certificate::SubjectCommonName() const {
  X509_NAME* name = X509_get_subject_name(h_->x509.get());
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

int64_t Certificate::not_before() const { return Asn1TimeToUnix(X509_get0_notBefore(h_->x509.get())); }
int64_t Certificate::not_after() const { return Asn1TimeToUnix(X509_get0_notAfter(h_->x509.get())); }
bool Certificate::is_ca() const { return X509_check_ca(h_->x509.get()) > 0; }

Result<std::optional<Bytes>> Certificate::FindExtension(std::string_view oid) const {
  Asn1ObjectPtr obj(OBJ_txt2obj(std::string(oid).c_str(), 1));
  if (!obj) return InvalidArgument("bad extension OID");
  std::optional<Bytes> found;
  int count = X509_get_ext_count(h_->x509.get());
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* ext = X509_get_ext(h_->x509.get(), i);
    if (OBJ_cmp(X509_EXTENSION_get_object(ext), obj.get()) != 0) continue;
    if (found) return InvalidArgument("extension " + std::string(oid) + " appears twice");
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    const uint8_t* p = ASN1_STRING_get0_data(data);
    found = Bytes(p, p + ASN1_STRING_length(data));
  }
  return found;
}

Status Certificate::VerifySignedBy(const PublicKey& issuer) const {
  if (X509_verify(h_->x509.get(), issuer.handle().pkey.get()) != 1) {
    ClearErrors();
    return PermissionDenied("certificate signature does not verify", kSignatureInvalid);
  }
  return OkStatus();
}

Status VerifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                   const Certificate& root, int64_t now) {
  X509StorePtr store(X509_STORE_new());
  if (!store || X509_STORE_add_cert(store.get(), root.handle().x509.get()) != 1)
    return OpenSslError("trust store");
  X509StackPtr chain(sk_X509_new_null());
  for (const auto& c : intermediates) sk_X509_push(chain.get(), c.handle().x509.get());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.handle().x509.get(),
                                  chain.get()) != 1)
    return OpenSslError("verify context");
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(now));
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ClearErrors();
    return PermissionDenied(std::string("certificate chain does not lead to the trusted root: ") +
                                X509_verify_cert_error_string(err),
                            "CHAIN_UNTRUSTED");
  }
  return OkStatus();
}

}  // namespace cloister::crypto
