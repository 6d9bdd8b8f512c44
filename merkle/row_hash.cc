// Canonical field encoding, key placement hash and SHA-256 row digests.

#include <openssl/evp.h>

#include <cstdlib>

#include "merkle/merkle.h"

namespace kuzusync::merkle {

void AppendField(std::string* out, std::string_view value, bool is_null) {
  if (is_null) {
    out->push_back('\0');
    return;
  }
  uint64_t n = value.size() + 1;
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  out->append(value);
}

uint64_t KeyHash(std::string_view key) {
  // FNV-1a, then murmur3's fmix64 so that the top bits (which choose the
  // bucket) depend on every byte.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

struct RowHasher::Impl {
  EVP_MD* md = nullptr;
  EVP_MD_CTX* ctx = nullptr;
};

RowHasher::RowHasher() : impl_(std::make_unique<Impl>()) {
  // Fetch once: an implicit fetch per digest costs more than hashing a row.
  impl_->md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->md == nullptr || impl_->ctx == nullptr) {
    // OpenSSL without SHA-256 is not a configuration we can run in.
    std::abort();
  }
}

RowHasher::~RowHasher() {
  EVP_MD_CTX_free(impl_->ctx);
  EVP_MD_free(impl_->md);
}

RowDigest RowHasher::Digest(std::string_view encoded_row) {
  RowDigest out;
  unsigned int size = 0;
  if (EVP_DigestInit_ex2(impl_->ctx, impl_->md, nullptr) != 1 ||
      EVP_DigestUpdate(impl_->ctx, encoded_row.data(), encoded_row.size()) != 1 ||
      EVP_DigestFinal_ex(impl_->ctx, out.data(), &size) != 1) {
    std::abort();
  }
  return out;
}

std::string ToHex(const uint8_t* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 15]);
  }
  return out;
}

}  // namespace kuzusync::merkle
