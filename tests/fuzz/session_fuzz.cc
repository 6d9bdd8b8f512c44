// Fuzzes a whole server session: the input is what a client sends (after a
// valid hello, so the fuzzer reaches the request handlers). The server may
// refuse anything but must never crash or change the replica.

#include <cstdlib>
#include <cstring>

#include "transfer/transfer.h"

using namespace kuzusync;

namespace {

class ScriptedStream final : public ByteStream {
 public:
  explicit ScriptedStream(std::string input) : input_(std::move(input)) {}
  Status Write(std::string_view) override { return Status::Ok(); }
  Status Read(char* buffer, size_t n, size_t* got) override {
    *got = std::min(n, input_.size() - pos_);
    std::memcpy(buffer, input_.data() + pos_, *got);
    pos_ += *got;
    return Status::Ok();
  }

 private:
  std::string input_;
  size_t pos_ = 0;
};

std::string Frame(uint8_t type, const std::string& payload) {
  uint32_t length = static_cast<uint32_t>(payload.size() + 1);
  std::string out(reinterpret_cast<const char*>(&length), 4);
  out.push_back(static_cast<char>(type));
  return out + payload;
}

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

std::string Bytes(const std::string& s) { return Varint(s.size()) + s; }

Env* ReplicaEnv() {
  static Env* env = [] {
    Env* e = NewMemEnv().release();
    (void)WriteFileAtomically(e, "/r/schema.cypher",
                              "CREATE NODE TABLE `U` (`id` INT64,`n` STRING, PRIMARY KEY(`id`));\n"
                              "CREATE REL TABLE `F` (FROM `U` TO `U`, `w` INT64,MANY_MANY);\n");
    (void)WriteFileAtomically(e, "/r/copy.cypher",
                              "COPY `U` FROM \"U.csv\";\nCOPY `F` FROM \"F_U_U.csv\" (from='U', to='U');\n");
    std::string users, follows;
    for (int i = 0; i < 700; ++i) {
      users += std::to_string(i) + ",u" + std::to_string(i) + "\n";
      follows += std::to_string(i) + "," + std::to_string((i * 7) % 700) + "," + std::to_string(i % 5) + "\n";
    }
    (void)WriteFileAtomically(e, "/r/U.csv", users);
    (void)WriteFileAtomically(e, "/r/F_U_U.csv", follows);
    return e;
  }();
  return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Env* env = ReplicaEnv();
  std::string before;
  (void)ReadFileToString(env, "/r/U.csv", &before);
  const std::string hello = Frame(1, Bytes("KZSYNC") + Varint(1) + Bytes("") + Bytes("/r") +
                                         Bytes("") + Varint(1));
  ScriptedStream stream(hello + std::string(reinterpret_cast<const char*>(data), size));
  ServeOptions options;
  options.env = env;
  options.threads = 1;
  options.use_tree_cache = false;
  (void)ServeSession(&stream, options);
  // A session may apply a valid bundle; fuzz input never forms one (its
  // checksums would have to match), so the replica must be as it was.
  std::string after;
  (void)ReadFileToString(env, "/r/U.csv", &after);
  if (after != before) std::abort();
  return 0;
}
