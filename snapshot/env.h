// Env: the operating-system services kuzusync logic uses, behind an interface.
//
// Every read or write of a replica goes through an Env so that tests can run
// the same logic on an in-memory file system (NewMemEnv) and fault tests can
// observe what was published. Modelled on leveldb's include/leveldb/env.h.
// All Env implementations are safe for concurrent use from several threads;
// a single SequentialFile or WritableFile is not; a RandomAccessFile is.

#ifndef KUZUSYNC_SNAPSHOT_ENV_H_
#define KUZUSYNC_SNAPSHOT_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/status.h"

namespace kuzusync {

// A file read from front to back.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to n bytes into scratch; *read is 0 only at end of file.
  virtual Status Read(size_t n, char* scratch, size_t* read) = 0;
};

// A file read at chosen offsets, as leveldb's RandomAccessFile: for a few
// rows whose places are known, where reading the whole file would not pay.
// Safe for concurrent use.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes from `offset`. *result points into scratch or into
  // memory the file owns (valid while the file lives); it is shorter than n
  // only at the end of the file, and empty from there on.
  virtual Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) const = 0;
};

// A file being written. Nothing is visible under the final name until the
// caller publishes it (see WriteFileAtomically).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;  // data reaches stable storage
  // Starts writing the data back to stable storage without waiting for it:
  // a later Sync then waits for less. Advice: it may do nothing.
  virtual void StartSync() {}
  virtual Status Close() = 0;
};

enum class FileType { kRegular, kDirectory, kOther };

// A held advisory lock; released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class LockMode { kShared, kExclusive };

struct DirEntry {
  std::string name;
  FileType type = FileType::kOther;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide Env backed by the real file system. Never deleted.
  static Env* Default();

  virtual Status NewSequentialFile(const std::string& path,
                                   std::unique_ptr<SequentialFile>* result) = 0;
  virtual Status NewRandomAccessFile(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* result) = 0;
  // Creates or truncates path.
  virtual Status NewWritableFile(const std::string& path,
                                 std::unique_ptr<WritableFile>* result) = 0;
  // Entries of dir, excluding "." and "..", in no particular order.
  virtual Status ListDir(const std::string& dir, std::vector<DirEntry>* entries) = 0;
  // kNotFound when path does not exist.
  virtual Status Stat(const std::string& path, FileType* type, uint64_t* size) = 0;
  // A string that changes whenever the file's content may have changed
  // (device, inode, size, modification and change times), and the age of
  // its last change in seconds; for caches keyed by file identity.
  virtual Status FileIdentity(const std::string& path, std::string* identity,
                              double* age_seconds) = 0;
  virtual Status CreateDir(const std::string& dir) = 0;  // OK if it exists
  virtual Status RemoveFile(const std::string& path) = 0;
  // Atomically replaces `to` by `from`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes completed renames in dir durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Swaps two existing paths (files or directories) in one atomic step:
  // the way a whole replica directory is replaced by its new version.
  virtual Status ExchangePaths(const std::string& a, const std::string& b) = 0;
  // A second name for an existing file (no data copied).
  virtual Status LinkFile(const std::string& from, const std::string& to) = 0;
  // Removes an empty directory.
  virtual Status RemoveDir(const std::string& dir) = 0;
  // Takes an advisory lock on path (created if missing), waiting for it.
  // Readers share; a writer excludes everyone.
  virtual Status LockFile(const std::string& path, LockMode mode,
                          std::unique_ptr<FileLock>* lock) = 0;
  // As LockFile, but kBusy at once when another holder is in the way (cron
  // runs that overlap must not queue up).
  virtual Status TryLockFile(const std::string& path, LockMode mode,
                             std::unique_ptr<FileLock>* lock) = 0;
};

// Forwards every call to another Env; subclasses override what they change
// (as leveldb's EnvWrapper).
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}

  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* result) override {
    return target_->NewSequentialFile(path, result);
  }
  Status NewRandomAccessFile(const std::string& path, std::unique_ptr<RandomAccessFile>* result) override {
    return target_->NewRandomAccessFile(path, result);
  }
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* result) override {
    return target_->NewWritableFile(path, result);
  }
  Status ListDir(const std::string& dir, std::vector<DirEntry>* entries) override {
    return target_->ListDir(dir, entries);
  }
  Status Stat(const std::string& path, FileType* type, uint64_t* size) override {
    return target_->Stat(path, type, size);
  }
  Status FileIdentity(const std::string& path, std::string* identity, double* age_seconds) override {
    return target_->FileIdentity(path, identity, age_seconds);
  }
  Status CreateDir(const std::string& dir) override { return target_->CreateDir(dir); }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status Rename(const std::string& from, const std::string& to) override { return target_->Rename(from, to); }
  Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  Status ExchangePaths(const std::string& a, const std::string& b) override {
    return target_->ExchangePaths(a, b);
  }
  Status LinkFile(const std::string& from, const std::string& to) override { return target_->LinkFile(from, to); }
  Status RemoveDir(const std::string& dir) override { return target_->RemoveDir(dir); }
  Status LockFile(const std::string& path, LockMode mode, std::unique_ptr<FileLock>* lock) override {
    return target_->LockFile(path, mode, lock);
  }
  Status TryLockFile(const std::string& path, LockMode mode, std::unique_ptr<FileLock>* lock) override {
    return target_->TryLockFile(path, mode, lock);
  }

 private:
  Env* target_;
};

// Wall-clock time in milliseconds since the Unix epoch (what sync state records).
int64_t NowUnixMillis();

// An Env whose files live in memory only; for tests. Caller owns the result.
std::unique_ptr<Env> NewMemEnv();

// Reads a whole file.
Status ReadFileToString(Env* env, const std::string& path, std::string* data);

// Publishes data under path: write to a temp name beside it, fsync, rename,
// fsync the directory. A crash leaves either the old file or the new one.
Status WriteFileAtomically(Env* env, const std::string& path, std::string_view data);

// Removes dir and everything below it. OK if dir does not exist.
Status RemoveTree(Env* env, const std::string& dir);

// Copies a file through the Env, fsyncing the copy.
Status CopyFile(Env* env, const std::string& from, const std::string& to);

// "dir/name" without doubling the separator.
std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace kuzusync

#endif  // KUZUSYNC_SNAPSHOT_ENV_H_
