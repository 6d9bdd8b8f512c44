// Env helpers shared by every implementation, and the in-memory Env for tests.

#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "snapshot/env.h"

namespace kuzusync {

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

Status ReadFileToString(Env* env, const std::string& path, std::string* data) {
  std::unique_ptr<SequentialFile> file;
  KS_RETURN_IF_ERROR(env->NewSequentialFile(path, &file));
  data->clear();
  constexpr size_t kChunk = 1 << 16;
  while (true) {
    size_t old = data->size();
    data->resize(old + kChunk);
    size_t got = 0;
    KS_RETURN_IF_ERROR(file->Read(kChunk, data->data() + old, &got));
    data->resize(old + got);
    if (got == 0) return Status::Ok();
  }
}

Status WriteFileAtomically(Env* env, const std::string& path, std::string_view data) {
  const std::string temp = path + ".kuzusync-tmp";
  std::unique_ptr<WritableFile> file;
  KS_RETURN_IF_ERROR(env->NewWritableFile(temp, &file));
  Status s = file->Append(data);
  if (s.ok()) s = file->Sync();
  if (s.ok()) s = file->Close();
  if (s.ok()) s = env->Rename(temp, path);
  if (!s.ok()) {
    (void)env->RemoveFile(temp);
    return s;
  }
  size_t slash = path.rfind('/');
  return env->SyncDir(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
}

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status RemoveTree(Env* env, const std::string& dir) {
  std::vector<DirEntry> entries;
  Status s = env->ListDir(dir, &entries);
  if (s.code() == Status::Code::kNotFound) return Status::Ok();
  KS_RETURN_IF_ERROR(s);
  for (const DirEntry& e : entries) {
    const std::string path = JoinPath(dir, e.name);
    if (e.type == FileType::kDirectory) {
      KS_RETURN_IF_ERROR(RemoveTree(env, path));
    } else {
      KS_RETURN_IF_ERROR(env->RemoveFile(path));
    }
  }
  return env->RemoveDir(dir);
}

Status CopyFile(Env* env, const std::string& from, const std::string& to) {
  std::unique_ptr<SequentialFile> in;
  std::unique_ptr<WritableFile> out;
  KS_RETURN_IF_ERROR(env->NewSequentialFile(from, &in));
  KS_RETURN_IF_ERROR(env->NewWritableFile(to, &out));
  std::string buffer(1 << 20, '\0');
  while (true) {
    size_t got = 0;
    KS_RETURN_IF_ERROR(in->Read(buffer.size(), buffer.data(), &got));
    if (got == 0) break;
    KS_RETURN_IF_ERROR(out->Append(std::string_view(buffer.data(), got)));
  }
  KS_RETURN_IF_ERROR(out->Sync());
  return out->Close();
}

namespace {

// Files are whole strings; directories are implied by the paths of files
// plus those created explicitly.
class MemEnv final : public Env {
 public:
  Status NewSequentialFile(const std::string& path,
                           std::unique_ptr<SequentialFile>* result) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return Status::NotFound("no such file or directory", path);
    *result = std::make_unique<MemSequentialFile>(it->second);
    return Status::Ok();
  }

  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* result) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return Status::NotFound("no such file or directory", path);
    *result = std::make_unique<MemRandomAccessFile>(it->second);
    return Status::Ok();
  }

  Status NewWritableFile(const std::string& path,
                         std::unique_ptr<WritableFile>* result) override {
    std::lock_guard<std::mutex> lock(mu_);
    files_[path].clear();
    *result = std::make_unique<MemWritableFile>(this, path);
    return Status::Ok();
  }

  Status ListDir(const std::string& dir, std::vector<DirEntry>* entries) override {
    std::lock_guard<std::mutex> lock(mu_);
    entries->clear();
    const std::string prefix = JoinPath(dir, "");
    bool found = dirs_.count(dir) > 0;
    std::map<std::string, FileType> seen;
    for (const auto& [path, unused] : files_) {
      if (path.compare(0, prefix.size(), prefix) != 0) continue;
      found = true;
      std::string rest = path.substr(prefix.size());
      size_t slash = rest.find('/');
      if (slash == std::string::npos) {
        seen[rest] = FileType::kRegular;
      } else {
        seen[rest.substr(0, slash)] = FileType::kDirectory;
      }
    }
    for (const auto& d : dirs_) {
      if (d.compare(0, prefix.size(), prefix) == 0 && d.size() > prefix.size() &&
          d.find('/', prefix.size()) == std::string::npos) {
        seen[d.substr(prefix.size())] = FileType::kDirectory;
      }
    }
    if (!found) return Status::NotFound("no such file or directory", dir);
    for (auto& [name, type] : seen) entries->push_back({name, type});
    return Status::Ok();
  }

  Status Stat(const std::string& path, FileType* type, uint64_t* size) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it != files_.end()) {
      *type = FileType::kRegular;
      *size = it->second.size();
      return Status::Ok();
    }
    const std::string prefix = JoinPath(path, "");
    bool is_dir = dirs_.count(path) > 0;
    for (auto f = files_.lower_bound(prefix); !is_dir && f != files_.end(); ++f) {
      is_dir = f->first.compare(0, prefix.size(), prefix) == 0;
      break;
    }
    if (!is_dir) return Status::NotFound("no such file or directory", path);
    *type = FileType::kDirectory;
    *size = 0;
    return Status::Ok();
  }

  Status FileIdentity(const std::string& path, std::string* identity, double* age_seconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return Status::NotFound("no such file or directory", path);
    *identity = std::to_string(it->second.size()) + ":" + std::to_string(generation_[path]);
    *age_seconds = 1e9;  // in-memory files are never racily fresh
    return Status::Ok();
  }

  Status CreateDir(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    dirs_.insert(dir);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (files_.erase(path) == 0) return Status::NotFound("no such file or directory", path);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(from);
    if (it != files_.end()) {
      std::string data = std::move(it->second);
      files_.erase(it);
      files_[to] = std::move(data);
      ++generation_[to];
      return Status::Ok();
    }
    // A directory: move every path below it.
    const std::string prefix = JoinPath(from, "");
    std::map<std::string, std::string> moved;
    for (auto f = files_.begin(); f != files_.end();) {
      if (f->first.compare(0, prefix.size(), prefix) == 0) {
        moved[JoinPath(to, f->first.substr(prefix.size()))] = std::move(f->second);
        f = files_.erase(f);
      } else {
        ++f;
      }
    }
    bool was_dir = dirs_.erase(from) > 0;
    if (moved.empty() && !was_dir) return Status::NotFound("no such file or directory", from);
    for (auto& [path, data] : moved) {
      files_[path] = std::move(data);
      ++generation_[path];
    }
    dirs_.insert(to);
    return Status::Ok();
  }

  Status SyncDir(const std::string&) override { return Status::Ok(); }

  Status ExchangePaths(const std::string& a, const std::string& b) override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string pa = JoinPath(a, ""), pb = JoinPath(b, "");
    std::map<std::string, std::string> swapped;
    for (auto& [path, data] : files_) {
      if (path == a) {
        swapped[b] = std::move(data);
      } else if (path == b) {
        swapped[a] = std::move(data);
      } else if (path.compare(0, pa.size(), pa) == 0) {
        swapped[pb + path.substr(pa.size())] = std::move(data);
      } else if (path.compare(0, pb.size(), pb) == 0) {
        swapped[pa + path.substr(pb.size())] = std::move(data);
      } else {
        swapped[path] = std::move(data);
      }
    }
    files_ = std::move(swapped);
    for (auto& [path, unused] : files_) ++generation_[path];
    return Status::Ok();
  }

  Status LinkFile(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(from);
    if (it == files_.end()) return Status::NotFound("no such file or directory", from);
    files_[to] = it->second;  // contents are never modified in place, so a copy is a link
    ++generation_[to];
    return Status::Ok();
  }

  Status RemoveDir(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    dirs_.erase(dir);
    return Status::Ok();
  }

  // One process, one test: locks are not contended, so a token suffices.
  Status LockFile(const std::string&, LockMode, std::unique_ptr<FileLock>* lock) override {
    *lock = std::make_unique<FileLock>();
    return Status::Ok();
  }
  Status TryLockFile(const std::string& path, LockMode mode,
                     std::unique_ptr<FileLock>* lock) override {
    return LockFile(path, mode, lock);
  }

 private:
  class MemSequentialFile final : public SequentialFile {
   public:
    explicit MemSequentialFile(std::string data) : data_(std::move(data)) {}
    Status Read(size_t n, char* scratch, size_t* read) override {
      *read = data_.copy(scratch, n, pos_);
      pos_ += *read;
      return Status::Ok();
    }

   private:
    std::string data_;
    size_t pos_ = 0;
  };

  // The file as it was when opened, as MemSequentialFile: later writes go
  // to the Env's copy.
  class MemRandomAccessFile final : public RandomAccessFile {
   public:
    explicit MemRandomAccessFile(std::string data) : data_(std::move(data)) {}
    Status Read(uint64_t offset, size_t n, char*, std::string_view* result) const override {
      *result = offset >= data_.size() ? std::string_view() : std::string_view(data_).substr(offset, n);
      return Status::Ok();
    }

   private:
    const std::string data_;
  };

  class MemWritableFile final : public WritableFile {
   public:
    MemWritableFile(MemEnv* env, std::string path) : env_(env), path_(std::move(path)) {}
    Status Append(std::string_view data) override {
      std::lock_guard<std::mutex> lock(env_->mu_);
      env_->files_[path_].append(data);
      ++env_->generation_[path_];
      return Status::Ok();
    }
    Status Sync() override { return Status::Ok(); }
    Status Close() override { return Status::Ok(); }

   private:
    MemEnv* env_;
    std::string path_;
  };

  std::mutex mu_;
  std::map<std::string, std::string> files_;
  std::map<std::string, uint64_t> generation_;  // bumped by every write: file identity
  std::set<std::string> dirs_;
};

}  // namespace

std::unique_ptr<Env> NewMemEnv() { return std::make_unique<MemEnv>(); }

}  // namespace kuzusync
