// Sha256: incremental SHA-256 with a hex result, for member checksums.
// Internal to the archive library.

#ifndef KUZUSYNC_ARCHIVE_SHA256_H_
#define KUZUSYNC_ARCHIVE_SHA256_H_

#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace kuzusync {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out.push_back(kDigits[md[i] >> 4]);
      out.push_back(kDigits[md[i] & 15]);
    }
    return out;
  }

  static std::string Of(std::string_view data) {
    Sha256 sha;
    sha.Update(data.data(), data.size());
    return sha.Hex();
  }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_ARCHIVE_SHA256_H_
