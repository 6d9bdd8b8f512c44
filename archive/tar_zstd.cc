// Writing and safely reading tar + zstd archives with libarchive, through
// the Env so that tests can run on an in-memory file system.

#include <archive.h>
#include <archive_entry.h>
// For ZSTD_c_srcSizeHint, experimental in zstd 1.5 (a libzstd that refuses
// it compresses as if the size were unknown: the same bytes, slower).
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "archive/archive.h"
#include "archive/sha256.h"

namespace kuzusync {
namespace {

constexpr size_t kBlock = 1 << 20;
constexpr uint64_t kMaxManifestBytes = 64 << 20;
constexpr int kFramesFromLevel = 16;  // btopt and up: 2x the time of level 15

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ReadArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// Compresses the tar stream libarchive writes. libzstd is used directly
// rather than through libarchive's zstd filter because the filter cannot
// tell zstd how large the input will be: without that, level 17 sizes its
// tables for unbounded input (50 MB zeroed for a 100 KB bundle, most of a
// push's bundle time; with the size, 12 MB).
struct WriteSink {
  explicit WriteSink(WritableFile* out) : file(out) {}
  WritableFile* file;
  Status status;
  uint64_t bytes = 0;
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> zstd{ZSTD_createCCtx(), ZSTD_freeCCtx};
  std::string out = std::string(ZSTD_CStreamOutSize(), '\0');
  // Set: the tar is kept here and compressed at the end, in up to
  // `max_frames` frames side by side.
  std::optional<std::string> whole;
  size_t max_frames = 1;

  bool Write(const void* data, size_t size) {
    if (whole) {
      whole->append(static_cast<const char*>(data), size);
      return true;
    }
    return Compress(data, size, ZSTD_e_continue);
  }

  // Finishes the stream.
  bool Finish(int level) {
    if (!whole) return Compress(nullptr, 0, ZSTD_e_end);
    return CompressInFrames(level);
  }

  // A small archive at a high level is compressed by one frame a core
  // (zstd's own workers start a job per 512 KB or more, so they would not
  // share it): frames concatenate into one stream that any zstd reader
  // reads whole. Each frame loses the matches the others hold (a 407 KB
  // LDBC bundle at level 17: 98.0 KB in one frame, 100.6 KB in two) and
  // the time halves (0.065 s to 0.033 s).
  // Every frame gets the parameters the level gives the whole input: by
  // its own, smaller size, zstd's tables pick a slower parser for the same
  // level (a push's 382 KB LDBC bundle at 17: btopt whole, btultra in
  // halves, 1.65x the time for 0.2% fewer bytes).
  bool CompressInFrames(int level) {
    const size_t frames = std::clamp<size_t>(whole->size() / kMinFrameInput, 1, max_frames);
    const size_t each = (whole->size() + frames - 1) / frames;
    const ZSTD_compressionParameters params = ZSTD_getCParams(level, whole->size(), 0);
    std::vector<std::string> compressed(frames);
    std::vector<size_t> results(frames);
    auto compress = [&](size_t i) {
      const size_t begin = std::min(whole->size(), i * each);
      const size_t size = std::min(whole->size() - begin, each);
      std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx{ZSTD_createCCtx(), ZSTD_freeCCtx};
      ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
      ZSTD_CCtx_setCParams(cctx.get(), params);
      compressed[i].resize(ZSTD_compressBound(size));
      results[i] = ZSTD_compress2(cctx.get(), compressed[i].data(), compressed[i].size(), whole->data() + begin, size);
    };
    std::vector<std::thread> threads;
    for (size_t i = 1; i < frames; ++i) threads.emplace_back(compress, i);
    compress(0);
    for (std::thread& t : threads) t.join();
    for (size_t i = 0; i < frames; ++i) {
      if (ZSTD_isError(results[i])) {
        status = Status::IoError(std::string("zstd: ") + ZSTD_getErrorName(results[i]));
        return false;
      }
      status = file->Append(std::string_view(compressed[i].data(), results[i]));
      if (!status.ok()) return false;
      bytes += results[i];
    }
    return true;
  }
  static constexpr size_t kMinFrameInput = 128 << 10;

  // Feeds `data` through the compressor; `end` finishes the frame.
  bool Compress(const void* data, size_t size, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data, size, 0};
    while (true) {
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      const size_t left = ZSTD_compressStream2(zstd.get(), &o, &in, mode);
      if (ZSTD_isError(left)) {
        status = Status::IoError(std::string("zstd: ") + ZSTD_getErrorName(left));
        return false;
      }
      if (o.pos > 0) {
        status = file->Append(std::string_view(out.data(), o.pos));
        if (!status.ok()) return false;
        bytes += o.pos;
      }
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) return true;
    }
  }
};

la_ssize_t WriteCallback(struct archive*, void* client, const void* buffer, size_t length) {
  auto* sink = static_cast<WriteSink*>(client);
  if (!sink->Write(buffer, length)) return -1;
  return static_cast<la_ssize_t>(length);
}

struct ReadSource {
  SequentialFile* file;
  std::string buffer;
  Status status;
};

la_ssize_t ReadCallback(struct archive*, void* client, const void** out) {
  auto* source = static_cast<ReadSource*>(client);
  size_t got = 0;
  source->status = source->file->Read(source->buffer.size(), source->buffer.data(), &got);
  if (!source->status.ok()) return -1;
  *out = source->buffer.data();
  return static_cast<la_ssize_t>(got);
}

Status ArchiveError(struct archive* a, const std::string& path, const std::string& what) {
  const char* detail = archive_error_string(a);
  return Status::Corrupt(what + (detail != nullptr ? std::string(": ") + detail : std::string()),
                         path);
}

Status WriteEntry(struct archive* a, const std::string& archive_path, const std::string& name,
                  uint64_t size) {
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                      archive_entry_free);
  archive_entry_set_pathname_utf8(entry.get(), name.c_str());
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_mtime(entry.get(), 0, 0);  // reproducible archives
  if (archive_write_header(a, entry.get()) != ARCHIVE_OK) {
    return Status::IoError(std::string("cannot write tar header: ") + archive_error_string(a),
                           archive_path);
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> Sha256File(Env* env, const std::string& path) {
  std::unique_ptr<SequentialFile> file;
  KS_RETURN_IF_ERROR(env->NewSequentialFile(path, &file));
  Sha256 sha;
  std::string buffer(kBlock, '\0');
  while (true) {
    size_t got = 0;
    KS_RETURN_IF_ERROR(file->Read(buffer.size(), buffer.data(), &got));
    if (got == 0) return sha.Hex();
    sha.Update(buffer.data(), got);
  }
}

Status WriteArchive(Env* env, const std::string& archive_path, Manifest* manifest,
                    const std::vector<ArchiveSource>& sources, const PackOptions& options,
                    uint64_t* archive_bytes) {
  manifest->members.clear();
  for (const ArchiveSource& source : sources) {
    FileType type;
    uint64_t size = 0;
    KS_RETURN_IF_ERROR(env->Stat(source.path, &type, &size));
    KS_ASSIGN_OR_RETURN(std::string sha, Sha256File(env, source.path));
    manifest->members.push_back({source.member, size, sha});
  }
  const std::string manifest_text = manifest->Serialize();

  const std::string temp = archive_path + ".kuzusync-tmp";
  std::unique_ptr<WritableFile> out;
  KS_RETURN_IF_ERROR(env->NewWritableFile(temp, &out));
  WriteSink sink(out.get());
  // The tar: the members, a header block or three each, the end blocks.
  uint64_t input = manifest_text.size() + 4096;
  for (const Manifest::Member& m : manifest->members) input += m.size + 2048;
  const int cores = options.threads > 0 ? options.threads
                                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Below a few jobs' worth of input, workers only cost their set-up.
  const int threads = input < (8u << 20) ? 0 : cores;
  ZSTD_CCtx_setParameter(sink.zstd.get(), ZSTD_c_compressionLevel, options.level);
  ZSTD_CCtx_setParameter(sink.zstd.get(), ZSTD_c_srcSizeHint,
                         static_cast<int>(std::min<uint64_t>(input, INT32_MAX)));
  // Without zstd's multithreading built in, one thread compresses.
  if (threads > 0) ZSTD_CCtx_setParameter(sink.zstd.get(), ZSTD_c_nbWorkers, threads);
  // Where zstd's workers would not share the work: the levels whose parsers
  // cost more than the rest of making a bundle.
  if (threads == 0 && cores > 1 && options.level >= kFramesFromLevel && input >= 2 * WriteSink::kMinFrameInput) {
    sink.whole.emplace();
    sink.whole->reserve(input);
    sink.max_frames = static_cast<size_t>(cores);
  }
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);

  auto fail = [&](Status s) {
    a.reset();
    out.reset();
    (void)env->RemoveFile(temp);
    return s;
  };
  if (archive_write_open2(a.get(), &sink, nullptr, WriteCallback, nullptr, nullptr) != ARCHIVE_OK) {
    return fail(sink.status.ok() ? ArchiveError(a.get(), archive_path, "cannot start archive") : sink.status);
  }
  Status s = WriteEntry(a.get(), archive_path, kManifestMember, manifest_text.size());
  if (s.ok() && archive_write_data(a.get(), manifest_text.data(), manifest_text.size()) < 0) {
    s = sink.status.ok() ? ArchiveError(a.get(), archive_path, "write failed") : sink.status;
  }
  std::string buffer(kBlock, '\0');
  for (size_t i = 0; s.ok() && i < sources.size(); ++i) {
    s = WriteEntry(a.get(), archive_path, sources[i].member, manifest->members[i].size);
    std::unique_ptr<SequentialFile> in;
    if (s.ok()) s = env->NewSequentialFile(sources[i].path, &in);
    uint64_t written = 0;
    while (s.ok()) {
      size_t got = 0;
      s = in->Read(buffer.size(), buffer.data(), &got);
      if (!s.ok() || got == 0) break;
      if (archive_write_data(a.get(), buffer.data(), got) < 0) {
        s = sink.status.ok() ? ArchiveError(a.get(), archive_path, "write failed") : sink.status;
      }
      written += got;
    }
    if (s.ok() && written != manifest->members[i].size) {
      s = Status::IoError("file changed while it was being packed", sources[i].path);
    }
  }
  if (s.ok() && archive_write_close(a.get()) != ARCHIVE_OK) {
    s = sink.status.ok() ? ArchiveError(a.get(), archive_path, "cannot finish archive") : sink.status;
  }
  if (s.ok() && !sink.Finish(options.level)) s = sink.status;
  if (!s.ok()) return fail(s);
  a.reset();
  if (!options.scratch) s = out->Sync();
  if (s.ok()) s = out->Close();
  if (s.ok()) s = env->Rename(temp, archive_path);
  if (!s.ok()) return fail(s);
  if (archive_bytes != nullptr) *archive_bytes = sink.bytes;
  if (options.scratch) return Status::Ok();
  size_t slash = archive_path.rfind('/');
  return env->SyncDir(slash == std::string::npos ? "." : archive_path.substr(0, slash == 0 ? 1 : slash));
}

Result<Manifest> ReadArchive(Env* env, const std::string& archive_path, const std::string& dest_dir,
                             bool scratch) {
  std::unique_ptr<SequentialFile> in;
  KS_RETURN_IF_ERROR(env->NewSequentialFile(archive_path, &in));
  ReadSource source{in.get(), std::string(kBlock, '\0'), Status::Ok()};
  std::unique_ptr<struct archive, ReadArchiveDeleter> a(archive_read_new());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open2(a.get(), &source, nullptr, ReadCallback, nullptr, nullptr) != ARCHIVE_OK) {
    if (!source.status.ok()) return source.status;
    return ArchiveError(a.get(), archive_path, "cannot read the archive (not tar+zstd, or damaged)");
  }
  auto read_error = [&](const std::string& what) -> Status {
    if (!source.status.ok()) return source.status;
    return ArchiveError(a.get(), archive_path, what);
  };

  Manifest manifest;
  bool have_manifest = false;
  std::set<std::string> seen;
  std::string buffer(kBlock, '\0');
  while (true) {
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) return read_error("damaged archive (truncated or corrupt)");
    const char* raw_name = archive_entry_pathname(entry);
    const std::string name = raw_name != nullptr ? raw_name : "";
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != nullptr ||
        archive_entry_symlink(entry) != nullptr) {
      return Status::Refused(archive_path + ": member '" + name +
                             "' is not a regular file (links, devices and directories are refused)");
    }
    if (!have_manifest) {
      if (name != kManifestMember) {
        return Status::Corrupt("first member is '" + name + "', not the MANIFEST", archive_path);
      }
      if (archive_entry_size(entry) < 0 ||
          static_cast<uint64_t>(archive_entry_size(entry)) > kMaxManifestBytes) {
        return Status::Refused(archive_path + ": MANIFEST is implausibly large");
      }
      std::string text;
      while (true) {
        la_ssize_t n = archive_read_data(a.get(), buffer.data(), buffer.size());
        if (n < 0) return read_error("damaged archive (truncated or corrupt)");
        if (n == 0) break;
        text.append(buffer.data(), static_cast<size_t>(n));
        if (text.size() > kMaxManifestBytes) return Status::Refused(archive_path + ": MANIFEST is too large");
      }
      KS_ASSIGN_OR_RETURN(manifest, Manifest::Parse(text, archive_path + ":MANIFEST"));
      have_manifest = true;
      continue;
    }
    const Manifest::Member* member = manifest.FindMember(name);
    if (member == nullptr) {
      return Status::Refused(archive_path + ": member '" + name + "' is not listed in the manifest");
    }
    if (!seen.insert(name).second) {
      return Status::Refused(archive_path + ": member '" + name + "' appears twice");
    }
    if (archive_entry_size_is_set(entry) &&
        static_cast<uint64_t>(archive_entry_size(entry)) != member->size) {
      return Status::Refused(archive_path + ": member '" + name + "' is larger or smaller than the manifest says");
    }
    std::unique_ptr<WritableFile> out;
    const std::string out_path = dest_dir.empty() ? "" : JoinPath(dest_dir, name);
    if (!dest_dir.empty()) KS_RETURN_IF_ERROR(env->NewWritableFile(out_path, &out));
    Sha256 sha;
    uint64_t total = 0;
    while (true) {
      la_ssize_t n = archive_read_data(a.get(), buffer.data(), buffer.size());
      if (n < 0) return read_error("damaged archive (truncated or corrupt) in member '" + name + "'");
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      if (total > member->size) {
        return Status::Refused(archive_path + ": member '" + name + "' holds more data than the manifest says");
      }
      sha.Update(buffer.data(), static_cast<size_t>(n));
      if (out) KS_RETURN_IF_ERROR(out->Append(std::string_view(buffer.data(), static_cast<size_t>(n))));
    }
    if (total != member->size) {
      return Status::Corrupt("member '" + name + "' is truncated", archive_path);
    }
    if (sha.Hex() != member->sha256) {
      return Status::Corrupt("member '" + name + "' is damaged (SHA-256 mismatch)", archive_path);
    }
    if (out) {
      if (!scratch) KS_RETURN_IF_ERROR(out->Sync());
      KS_RETURN_IF_ERROR(out->Close());
    }
  }
  if (!have_manifest) return Status::Corrupt("empty archive: no MANIFEST", archive_path);
  for (const Manifest::Member& m : manifest.members) {
    if (seen.count(m.name) == 0) {
      return Status::Corrupt("member '" + m.name + "' listed in the manifest is missing", archive_path);
    }
  }
  return manifest;
}

}  // namespace kuzusync
