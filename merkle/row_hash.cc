// Canonical field encoding, key placement hash, row digests and SHA-256.

#include <openssl/sha.h>

#include <cstring>

// Inlined: rows are ~40 bytes, where a call and XXH3's dispatch on length
// cost as much as the hashing.
#define XXH_INLINE_ALL
#include <xxhash.h>

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

uint64_t KeyHash(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

void AppendCanonicalField(std::string* out, std::string_view value, bool is_null) {
  if (is_null) return;
  if (!value.empty() && value.find_first_of(",\"\n") == std::string_view::npos) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

bool IsCanonicalText(std::string_view text) {
  const char* p = text.data();
  const char* const end = p + text.size();
  auto holds = [](const char* from, const char* to, char c) { return std::memchr(from, c, to - from) != nullptr; };
  while (true) {
    if (p < end && *p == '"') {
      const char* const content = ++p;
      bool needed = false;  // empty, or holds ',', '"' or '\n'
      while (true) {
        const char* quote = static_cast<const char*>(std::memchr(p, '"', end - p));
        if (quote == nullptr) return false;
        needed = needed || quote == content || holds(p, quote, ',') || holds(p, quote, '\n');
        if (quote + 1 < end && quote[1] == '"') {  // a doubled quote, in the value
          needed = true;
          p = quote + 2;
          continue;
        }
        p = quote + 1;
        break;
      }
      if (!needed) return false;
    } else {
      const char* comma = static_cast<const char*>(std::memchr(p, ',', end - p));
      if (comma == nullptr) comma = end;
      if (holds(p, comma, '"') || holds(p, comma, '\n')) return false;
      p = comma;
    }
    if (p == end) return true;
    if (*p != ',') return false;
    ++p;
  }
}

uint64_t RowSeed(std::string_view from_table, std::string_view to_table) {
  std::string pair;
  AppendField(&pair, from_table, false);
  AppendField(&pair, to_table, false);
  return XXH3_64bits(pair.data(), pair.size());
}

namespace {

// Lanes little-endian, as NodeSummary reads them.
std::array<uint8_t, 16> LittleEndian(XXH128_hash_t h) {
  std::array<uint8_t, 16> out;
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(h.low64 >> (8 * i));
    out[8 + i] = static_cast<uint8_t>(h.high64 >> (8 * i));
  }
  return out;
}

}  // namespace

RowDigest DigestRow(std::string_view canonical_text, uint64_t seed) {
  return LittleEndian(XXH3_128bits_withSeed(canonical_text.data(), canonical_text.size(), seed));
}

Checksum ChecksumOf(std::string_view data) { return LittleEndian(XXH3_128bits(data.data(), data.size())); }

NodePrint PrintOf(const NodeSummary& summary) {
  if (summary.count == 0) return {0, 0};  // empty nodes need no hashing
  // Lanes are little-endian in the hashed bytes, as in tree files and roots.
  uint8_t bytes[8 * (1 + kDigestLanes)];
  auto put = [&](int at, uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes[8 * at + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  put(0, summary.count);
  for (int i = 0; i < kDigestLanes; ++i) put(1 + i, summary.sum[i]);
  return {summary.count, XXH3_64bits(bytes, sizeof(bytes))};
}

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest out;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
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
