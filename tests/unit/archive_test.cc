// Tests for the archive format: manifest round trips, and every crafted tar a reader must refuse.

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include <zstd.h>

#include "archive/archive.h"

namespace kuzusync {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Hex SHA-256 of a string, through the library's own file hasher.
std::string Sha256Of(const std::string& data) {
  std::unique_ptr<Env> scratch = NewMemEnv();
  EXPECT_TRUE(WriteFileAtomically(scratch.get(), "/data", data).ok());
  return Sha256File(scratch.get(), "/data").value();
}

// A tar + zstd archive written member by member with libarchive, as an
// attacker or a broken tool might write it.
class TarBuilder {
 public:
  TarBuilder() : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    archive_write_add_filter_zstd(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    EXPECT_EQ(archive_write_open2(a_, &bytes_, nullptr, &TarBuilder::Write, nullptr, nullptr),
              ARCHIVE_OK);
  }
  ~TarBuilder() {
    if (a_ != nullptr) archive_write_free(a_);
  }

  // A regular file whose tar header states `data.size()` bytes.
  TarBuilder& File(const std::string& name, const std::string& data) {
    archive_entry* e = NewEntry(name, AE_IFREG);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    Header(e);
    EXPECT_EQ(archive_write_data(a_, data.data(), data.size()), static_cast<la_ssize_t>(data.size()));
    return *this;
  }
  TarBuilder& Manifest(const kuzusync::Manifest& m) { return File(kManifestMember, m.Serialize()); }
  TarBuilder& Symlink(const std::string& name, const std::string& target) {
    archive_entry* e = NewEntry(name, AE_IFLNK);
    archive_entry_set_symlink(e, target.c_str());
    Header(e);
    return *this;
  }
  TarBuilder& Hardlink(const std::string& name, const std::string& target) {
    archive_entry* e = NewEntry(name, AE_IFREG);
    archive_entry_set_hardlink(e, target.c_str());
    archive_entry_set_size(e, 0);
    Header(e);
    return *this;
  }
  TarBuilder& Special(const std::string& name, unsigned type) {
    archive_entry* e = NewEntry(name, type);
    if (type == AE_IFCHR || type == AE_IFBLK) archive_entry_set_rdev(e, 0x0103);  // /dev/null
    Header(e);
    return *this;
  }

  std::string Finish() {
    EXPECT_EQ(archive_write_close(a_), ARCHIVE_OK);
    archive_write_free(a_);
    a_ = nullptr;
    return bytes_;
  }

 private:
  static la_ssize_t Write(struct archive*, void* client, const void* buffer, size_t length) {
    static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
    return static_cast<la_ssize_t>(length);
  }
  archive_entry* NewEntry(const std::string& name, unsigned type) {
    entry_.reset(archive_entry_new());
    archive_entry_set_pathname(entry_.get(), name.c_str());
    archive_entry_set_filetype(entry_.get(), type);
    archive_entry_set_perm(entry_.get(), 0644);
    return entry_.get();
  }
  void Header(archive_entry* e) {
    ASSERT_EQ(archive_write_header(a_, e), ARCHIVE_OK) << archive_error_string(a_);
  }

  struct archive* a_;
  std::string bytes_;
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry_{nullptr, archive_entry_free};
};

// A bundle manifest listing the given (name, content) members.
Manifest ManifestOf(const std::vector<std::pair<std::string, std::string>>& members) {
  Manifest m;
  m.kind = "bundle";
  for (const auto& [name, data] : members) m.members.push_back({name, data.size(), Sha256Of(data)});
  return m;
}

// ---- The manifest ------------------------------------------------------

Manifest OddManifest() {
  Manifest m;
  m.kind = "bundle";
  m.base_root = std::string(64, 'a');
  m.result_root = std::string(64, 'b');
  m.options = {{"deletes", "no"}, {"odd key", "100% sure"}};
  m.tables.push_back({"User", "node", 10, 2, 1, std::string(64, 'c')});
  m.tables.push_back({"my table", "node", 0, 0, 0, ""});
  m.tables.push_back({"50% off", "rel", 3, 3, 0, std::string(64, 'd')});
  m.tables.push_back({"Ünïcødé 表", "node", 1, 0, 0, std::string(64, 'e')});
  m.tables.push_back({"dots.and/slash`tick", "rel", 7, 0, 7, std::string(64, 'f')});
  m.members.push_back({"schema.cypher", 123, std::string(64, '0')});
  m.members.push_back({"my%20table.upserts.csv", 0, std::string(64, '1')});
  m.members.push_back({"Ü.csv", 9, std::string(64, '2')});
  return m;
}

TEST(ManifestTest, RoundTripKeepsEveryField) {
  const Manifest m = OddManifest();
  const std::string text = m.Serialize();
  auto parsed = Manifest::Parse(text, "MANIFEST");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->kind, "bundle");
  EXPECT_EQ(parsed->base_root, m.base_root);
  EXPECT_EQ(parsed->result_root, m.result_root);
  EXPECT_EQ(parsed->options, m.options);
  EXPECT_EQ(parsed->Option("odd key"), "100% sure");
  EXPECT_EQ(parsed->Option("absent"), "");
  ASSERT_EQ(parsed->tables.size(), m.tables.size());
  for (size_t i = 0; i < m.tables.size(); ++i) {
    EXPECT_EQ(parsed->tables[i].name, m.tables[i].name);
    EXPECT_EQ(parsed->tables[i].kind, m.tables[i].kind);
    EXPECT_EQ(parsed->tables[i].rows, m.tables[i].rows);
    EXPECT_EQ(parsed->tables[i].upserts, m.tables[i].upserts);
    EXPECT_EQ(parsed->tables[i].deletes, m.tables[i].deletes);
    EXPECT_EQ(parsed->tables[i].root, m.tables[i].root);
  }
  ASSERT_EQ(parsed->members.size(), m.members.size());
  for (size_t i = 0; i < m.members.size(); ++i) {
    EXPECT_EQ(parsed->members[i].name, m.members[i].name);
    EXPECT_EQ(parsed->members[i].size, m.members[i].size);
    EXPECT_EQ(parsed->members[i].sha256, m.members[i].sha256);
  }
  ASSERT_NE(parsed->FindTable("Ünïcødé 表"), nullptr);
  EXPECT_EQ(parsed->FindMember("Ü.csv")->size, 9u);
  // Serializing what was parsed gives the same bytes.
  EXPECT_EQ(parsed->Serialize(), text);
}

TEST(ManifestTest, AFlippedCharacterIsCaughtByTheChecksum) {
  const std::string text = OddManifest().Serialize();
  // Flip one character in each line of the body in turn.
  for (size_t pos = 0; pos < text.rfind("sha256 "); pos += 7) {
    if (text[pos] == '\n') continue;
    std::string damaged = text;
    damaged[pos] = damaged[pos] == 'x' ? 'y' : 'x';
    auto parsed = Manifest::Parse(damaged, "MANIFEST");
    ASSERT_FALSE(parsed.ok()) << "flip at " << pos;
    EXPECT_EQ(parsed.status().code(), Status::Code::kCorrupt);
    EXPECT_TRUE(Contains(parsed.status().message(), "checksum")) << parsed.status().ToString();
  }
  std::string no_check = text.substr(0, text.rfind("sha256 "));
  EXPECT_TRUE(Contains(Manifest::Parse(no_check, "MANIFEST").status().message(), "checksum"));
}

// Replaces the body's checksum line by a correct one, as a careful forger would.
std::string Rechecksum(const std::string& body) { return body + "sha256 " + Sha256Of(body) + "\n"; }

TEST(ManifestTest, WrongVersionIsRefusedEvenWithAValidChecksum) {
  std::string text = OddManifest().Serialize();
  std::string body = text.substr(0, text.rfind("sha256 "));
  ASSERT_EQ(body.rfind("kuzusync-manifest 2\n", 0), 0u);
  body.replace(0, std::string("kuzusync-manifest 2").size(), "kuzusync-manifest 3");
  auto parsed = Manifest::Parse(Rechecksum(body), "MANIFEST");
  ASSERT_FALSE(parsed.ok());
  EXPECT_TRUE(Contains(parsed.status().message(), "version 3")) << parsed.status().ToString();

  parsed = Manifest::Parse(Rechecksum("not-a-manifest 1\nkind bundle\n"), "MANIFEST");
  ASSERT_FALSE(parsed.ok());
  EXPECT_TRUE(Contains(parsed.status().message(), "not a kuzusync manifest"));
}

// Bundles and snapshots written before row_hash existed still read, as
// format 1: a snapshot stays a backup, and a bundle's roots are known to be
// of another format rather than taken as wrong.
TEST(ManifestTest, VersionOneReadsAsRowHashOne) {
  auto old = Manifest::Parse(Rechecksum("kuzusync-manifest 1\nkind snapshot\nresult_root " +
                                        std::string(64, 'a') + "\n"), "MANIFEST");
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->row_hash, 1u);
  EXPECT_EQ(old->result_root, std::string(64, 'a'));

  Manifest now = OddManifest();
  now.row_hash = 7;
  auto parsed = Manifest::Parse(now.Serialize(), "MANIFEST");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->row_hash, 7u);
}

TEST(ManifestTest, MemberNamesThatAreNotPlainFileNamesAreRefused) {
  const std::string sha(64, '0');
  for (const char* name : {"..%2Fx", "%2Fetc%2Fx", "..", ".", "MANIFEST", "a%00b"}) {
    auto parsed = Manifest::Parse(
        Rechecksum("kuzusync-manifest 1\nkind bundle\nmember 1 " + sha + " " + name + "\n"), "M");
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_TRUE(Contains(parsed.status().message(), "not a plain file name")) << name;
  }
  auto twice = Manifest::Parse(Rechecksum("kuzusync-manifest 1\nkind bundle\nmember 1 " + sha +
                                          " x\nmember 1 " + sha + " x\n"),
                               "M");
  ASSERT_FALSE(twice.ok());
  EXPECT_TRUE(Contains(twice.status().message(), "listed twice"));
}

// ---- Writing and reading -----------------------------------------------

class ArchiveTest : public ::testing::Test {
 protected:
  // Reads `bytes` as an archive from /in/archive, extracting into /out.
  Result<Manifest> ReadBytes(const std::string& bytes) {
    EXPECT_TRUE(WriteFileAtomically(env_.get(), "/in/archive.tar.zst", bytes).ok());
    EXPECT_TRUE(env_->CreateDir("/out").ok());
    return ReadArchive(env_.get(), "/in/archive.tar.zst", "/out");
  }

  // Expects a refusal naming `problem`, with nothing written outside /out.
  void ExpectRefused(const std::string& bytes, const std::string& problem) {
    auto read = ReadBytes(bytes);
    ASSERT_FALSE(read.ok()) << "accepted an archive that has " << problem;
    EXPECT_TRUE(Contains(read.status().ToString(), problem)) << read.status().ToString();
    std::vector<DirEntry> top;
    ASSERT_TRUE(env_->ListDir("/", &top).ok());
    for (const DirEntry& e : top) EXPECT_TRUE(e.name == "in" || e.name == "out") << "/" << e.name;
    for (const char* path : {"/x", "/etc/x", "x", "../x", "/out/../x", "/in/x"}) {
      FileType type;
      uint64_t size;
      EXPECT_EQ(env_->Stat(path, &type, &size).code(), Status::Code::kNotFound) << path;
    }
  }

  std::string Slurp(const std::string& path) {
    std::string data;
    EXPECT_TRUE(ReadFileToString(env_.get(), path, &data).ok()) << path;
    return data;
  }

  std::unique_ptr<Env> env_ = NewMemEnv();
};

TEST_F(ArchiveTest, WriteThenReadGivesIdenticalFiles) {
  std::string big;
  for (int i = 0; i < 300000; ++i) big += std::to_string(int64_t{i} * 7919 % 100003) + ",row\n";
  ASSERT_TRUE(WriteFileAtomically(env_.get(), "/src/schema.cypher", "CREATE NODE TABLE x;\n").ok());
  ASSERT_TRUE(WriteFileAtomically(env_.get(), "/src/big.csv", big).ok());
  ASSERT_TRUE(WriteFileAtomically(env_.get(), "/src/empty.csv", "").ok());
  Manifest manifest = OddManifest();
  manifest.members.clear();
  uint64_t archive_bytes = 0;
  ASSERT_TRUE(WriteArchive(env_.get(), "/b.tar.zst", &manifest,
                           {{"schema.cypher", "/src/schema.cypher"},
                            {"my%20big.csv", "/src/big.csv"},
                            {"empty.csv", "/src/empty.csv"}},
                           {}, &archive_bytes)
                  .ok());
  ASSERT_EQ(manifest.members.size(), 3u);
  EXPECT_EQ(manifest.members[1].size, big.size());
  EXPECT_EQ(manifest.members[1].sha256, Sha256Of(big));
  EXPECT_EQ(archive_bytes, Slurp("/b.tar.zst").size());
  EXPECT_LT(archive_bytes, big.size() / 2);
  FileType type;
  uint64_t size;
  EXPECT_FALSE(env_->Stat("/b.tar.zst.kuzusync-tmp", &type, &size).ok());

  // Checking alone extracts nothing.
  auto checked = ReadArchive(env_.get(), "/b.tar.zst", "");
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->Serialize(), manifest.Serialize());

  ASSERT_TRUE(env_->CreateDir("/dest").ok());
  auto read = ReadArchive(env_.get(), "/b.tar.zst", "/dest");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->Serialize(), manifest.Serialize());
  EXPECT_EQ(Slurp("/dest/schema.cypher"), "CREATE NODE TABLE x;\n");
  EXPECT_EQ(Slurp("/dest/my%20big.csv"), big);
  EXPECT_EQ(Slurp("/dest/empty.csv"), "");
  std::vector<DirEntry> entries;
  ASSERT_TRUE(env_->ListDir("/dest", &entries).ok());
  EXPECT_EQ(entries.size(), 3u);
}

// A small archive at a high level is compressed in frames side by side:
// it reads back the same, and an archive cut where a frame ends (a clean
// end of a zstd frame, mid-tar) is still refused.
TEST_F(ArchiveTest, HighLevelArchiveInSeveralFramesReadsWhole) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one core: one frame";
  std::string rows;
  for (int i = 0; i < 60000; ++i) rows += std::to_string(int64_t{i} * 2654435761 % 1000003) + ",name" + std::to_string(i % 97) + "\n";
  ASSERT_TRUE(WriteFileAtomically(env_.get(), "/src/rows.csv", rows).ok());
  Manifest manifest = OddManifest();
  PackOptions high;
  high.level = 17;
  ASSERT_TRUE(WriteArchive(env_.get(), "/in/archive.tar.zst", &manifest, {{"rows.csv", "/src/rows.csv"}}, high).ok());
  const std::string whole = Slurp("/in/archive.tar.zst");
  const size_t first = ZSTD_findFrameCompressedSize(whole.data(), whole.size());
  ASSERT_FALSE(ZSTD_isError(first));
  ASSERT_LT(first, whole.size()) << "one frame";

  ASSERT_TRUE(env_->CreateDir("/out").ok());
  auto read = ReadArchive(env_.get(), "/in/archive.tar.zst", "/out");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Slurp("/out/rows.csv"), rows);

  env_ = NewMemEnv();
  ExpectRefused(whole.substr(0, first), "truncated");
}

TEST_F(ArchiveTest, ParentDirectoryMemberIsRefused) {
  const auto m = ManifestOf({{"x", "evil"}});
  ExpectRefused(TarBuilder().Manifest(m).File("../x", "evil").Finish(), "'../x'");
}

TEST_F(ArchiveTest, AbsoluteMemberIsRefused) {
  const auto m = ManifestOf({{"x", "evil"}});
  ExpectRefused(TarBuilder().Manifest(m).File("/etc/x", "evil").Finish(), "'/etc/x'");
}

TEST_F(ArchiveTest, SymlinkMemberIsRefused) {
  // Listed in the manifest, so the refusal is for being a link.
  const auto m = ManifestOf({{"x", ""}});
  ExpectRefused(TarBuilder().Manifest(m).Symlink("x", "/etc/passwd").Finish(), "not a regular file");
}

TEST_F(ArchiveTest, HardlinkMemberIsRefused) {
  const auto m = ManifestOf({{"a", "data"}, {"x", ""}});
  ExpectRefused(TarBuilder().Manifest(m).File("a", "data").Hardlink("x", "a").Finish(),
                "not a regular file");
}

TEST_F(ArchiveTest, DeviceFifoAndDirectoryMembersAreRefused) {
  for (unsigned type : {AE_IFCHR, AE_IFBLK, AE_IFIFO, AE_IFDIR}) {
    env_ = NewMemEnv();
    const auto m = ManifestOf({{"x", ""}});
    ExpectRefused(TarBuilder().Manifest(m).Special("x", type).Finish(), "not a regular file");
  }
}

TEST_F(ArchiveTest, DuplicateMemberIsRefused) {
  const auto m = ManifestOf({{"x", "data"}});
  ExpectRefused(TarBuilder().Manifest(m).File("x", "data").File("x", "data").Finish(), "appears twice");
}

TEST_F(ArchiveTest, MemberMissingFromTheManifestIsRefused) {
  const auto m = ManifestOf({{"x", "data"}});
  ExpectRefused(TarBuilder().Manifest(m).File("x", "data").File("y", "more").Finish(),
                "'y' is not listed in the manifest");
}

TEST_F(ArchiveTest, MemberListedButAbsentIsRefused) {
  const auto m = ManifestOf({{"x", "data"}, {"y", "more"}});
  ExpectRefused(TarBuilder().Manifest(m).File("x", "data").Finish(), "'y' listed in the manifest is missing");
}

TEST_F(ArchiveTest, ManifestThatIsNotFirstIsRefused) {
  const auto m = ManifestOf({{"x", "data"}});
  ExpectRefused(TarBuilder().File("x", "data").Manifest(m).Finish(), "not the MANIFEST");
  env_ = NewMemEnv();
  ExpectRefused(TarBuilder().Finish(), "no MANIFEST");
}

TEST_F(ArchiveTest, DamagedManifestIsRefused) {
  std::string text = ManifestOf({{"x", "data"}}).Serialize();
  text[text.find("kind bundle") + 5] = 'B';
  ExpectRefused(TarBuilder().File(kManifestMember, text).File("x", "data").Finish(), "checksum");
}

TEST_F(ArchiveTest, MemberLargerThanTheManifestSaysIsRefused) {
  // The "zstd bomb": the manifest promises 5 bytes, the member holds 64 MiB
  // of zeros that compress to almost nothing.
  Manifest m = ManifestOf({{"x", "small"}});
  const std::string bomb(64 << 20, '\0');
  const std::string bytes = TarBuilder().Manifest(m).File("x", bomb).Finish();
  EXPECT_LT(bytes.size(), 1u << 20);
  ExpectRefused(bytes, "larger or smaller than the manifest says");
  std::string out;
  if (ReadFileToString(env_.get(), "/out/x", &out).ok()) {
    EXPECT_LE(out.size(), 5u);
  }
}

TEST_F(ArchiveTest, TruncatedStreamIsRefused) {
  std::string data;
  for (int i = 0; i < 200000; ++i) data += std::to_string(i * 2654435761u) + "\n";
  const auto m = ManifestOf({{"x", data}, {"y", "tail"}});
  const std::string whole = TarBuilder().Manifest(m).File("x", data).File("y", "tail").Finish();
  ASSERT_TRUE(ReadBytes(whole).ok());
  env_ = NewMemEnv();
  ExpectRefused(whole.substr(0, whole.size() / 2), "truncated");
  // Cut inside the zstd frame's last bytes too.
  env_ = NewMemEnv();
  auto read = ReadBytes(whole.substr(0, whole.size() - 3));
  EXPECT_FALSE(read.ok());
}

TEST_F(ArchiveTest, FlippedByteInTheCompressedStreamIsRefused) {
  std::string data;
  for (int i = 0; i < 50000; ++i) data += std::to_string(i * 2654435761u) + "\n";
  const auto m = ManifestOf({{"x", data}});
  const std::string whole = TarBuilder().Manifest(m).File("x", data).Finish();
  for (size_t pos : {whole.size() / 3, whole.size() / 2, whole.size() * 3 / 4}) {
    env_ = NewMemEnv();
    std::string damaged = whole;
    damaged[pos] ^= 0x10;
    auto read = ReadBytes(damaged);
    ASSERT_FALSE(read.ok()) << "flip at " << pos;
    const std::string why = read.status().ToString();
    // Without zstd frame checksums most flips surface as a SHA-256 mismatch;
    // one caught while libarchive sniffs the format reads "not a tar+zstd
    // archive: Zstd decompression failed: Data corruption detected".
    EXPECT_TRUE(Contains(why, "damaged") || Contains(why, "corrupt") || Contains(why, "SHA-256"))
        << why;
  }
}

TEST_F(ArchiveTest, ChecksumMismatchIsRefused) {
  Manifest m = ManifestOf({{"x", "hello"}});
  ExpectRefused(TarBuilder().Manifest(m).File("x", "jello").Finish(), "'x' is damaged (SHA-256 mismatch)");
}

TEST_F(ArchiveTest, NotAnArchiveIsRefused) {
  ExpectRefused("just some text, not zstd at all\n", "/in/archive.tar.zst");
}

// The same refusals on a real file system: nothing lands outside dest.
class ArchiveDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kuzusync-archive-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_TRUE(env_->CreateDir(root_ + "/sub").ok());
    ASSERT_TRUE(env_->CreateDir(root_ + "/sub/dest").ok());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  Result<Manifest> Read(const std::string& bytes) {
    EXPECT_TRUE(WriteFileAtomically(env_, root_ + "/a.tar.zst", bytes).ok());
    return ReadArchive(env_, root_ + "/a.tar.zst", root_ + "/sub/dest");
  }

  Env* env_ = Env::Default();
  std::string root_;
};

TEST_F(ArchiveDiskTest, TraversalAndAbsoluteNamesWriteNothingAnywhere) {
  const bool etc_x_existed = std::filesystem::exists("/etc/x");
  const auto m = ManifestOf({{"x", "evil"}});
  const std::string outside = root_ + "/sub/x";
  for (const std::string& name : {std::string("../x"), std::string("../../x"), std::string("/etc/x"),
                                  outside}) {
    auto read = Read(TarBuilder().Manifest(m).File(name, "evil").Finish());
    ASSERT_FALSE(read.ok()) << name;
    EXPECT_TRUE(Contains(read.status().ToString(), "'" + name + "'")) << read.status().ToString();
    EXPECT_FALSE(std::filesystem::exists(outside)) << name;
    EXPECT_FALSE(std::filesystem::exists(root_ + "/x")) << name;
    EXPECT_EQ(std::filesystem::exists("/etc/x"), etc_x_existed) << name;
    EXPECT_TRUE(std::filesystem::is_empty(root_ + "/sub/dest")) << name;
  }
  auto read = Read(TarBuilder().Manifest(m).Symlink("x", root_ + "/sub/x").Finish());
  ASSERT_FALSE(read.ok());
  EXPECT_FALSE(std::filesystem::exists(root_ + "/sub/dest/x"));
  EXPECT_FALSE(std::filesystem::is_symlink(root_ + "/sub/dest/x"));
}

}  // namespace
}  // namespace kuzusync
