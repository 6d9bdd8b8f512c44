// Canonical field encoding, key placement hash and SHA-256 row digests.

// The low-level SHA-256 calls are deprecated in OpenSSL 3 but remain, and on
// rows of ~40 bytes they cost 51 ns against EVP's 84 ns (measured with
// reused contexts; bench/RESULTS.md): EVP's per-call dispatch and context
// cleansing cost more than hashing one block.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>



#include "merkle/merkle.h"

namespace kuzusync::merkle {

void AppendField(std::string* out, std::string_view value, bool is_null) {
  if (is_null) {
    out->push_back('\0');
    return;
  }
  char prefix[10];
  size_t len = 0;
  uint64_t n = value.size() + 1;
  while (n >= 0x80) {
    prefix[len++] = static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  prefix[len++] = static_cast<char>(n);
  out->append(prefix, len);  // append, not resize: resize zero-fills first
  out->append(value.data(), value.size());
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
  SHA256_CTX ctx;
};

RowHasher::RowHasher() : impl_(std::make_unique<Impl>()) {}

RowHasher::~RowHasher() = default;

RowDigest RowHasher::Digest(std::string_view encoded_row) {
  RowDigest out;
  SHA256_Init(&impl_->ctx);
  SHA256_Update(&impl_->ctx, encoded_row.data(), encoded_row.size());
  SHA256_Final(out.data(), &impl_->ctx);
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
