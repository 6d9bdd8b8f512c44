// Helpers for commands that read an archive into a directory of their own.
// Internal to the diff library.

#ifndef KUZUSYNC_DIFF_NEW_DIRECTORY_H_
#define KUZUSYNC_DIFF_NEW_DIRECTORY_H_

#include <memory>
#include <string>

#include "archive/archive.h"
#include "snapshot/env.h"

namespace kuzusync {

// ReadArchive, refusing an archive of another kind ("bundle", "snapshot").
inline Result<Manifest> ReadArchiveOfKind(Env* env, const std::string& archive_path,
                                          const std::string& dest_dir, const std::string& kind,
                                          bool scratch = false) {
  KS_ASSIGN_OR_RETURN(Manifest manifest, ReadArchive(env, archive_path, dest_dir, scratch));
  if (manifest.kind != kind) {
    return Status::InvalidArgument(archive_path + " is a " + manifest.kind + ", not a " + kind);
  }
  return manifest;
}

// A directory that must not exist yet. It is built under "<dir>.kuzusync-tmp"
// (a stale one from a killed run is removed first) and published whole by one
// rename; if Publish is never reached, the destructor removes what was built.
class NewDirectory {
 public:
  // Refused when `dir` exists; `why` completes "<dir> already exists; ...".
  static Result<std::unique_ptr<NewDirectory>> Begin(Env* env, const std::string& dir,
                                                     const std::string& why) {
    FileType type;
    uint64_t size = 0;
    if (env->Stat(dir, &type, &size).ok()) return Status::Refused(dir + " already exists; " + why);
    std::string path = dir;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    std::unique_ptr<NewDirectory> out(new NewDirectory(env, path));
    KS_RETURN_IF_ERROR(RemoveTree(env, out->building_));
    KS_RETURN_IF_ERROR(env->CreateDir(out->building_));
    return out;
  }
  ~NewDirectory() {
    if (!published_) (void)RemoveTree(env_, building_);
  }
  NewDirectory(const NewDirectory&) = delete;
  NewDirectory& operator=(const NewDirectory&) = delete;

  const std::string& building() const { return building_; }

  Status Publish() {
    KS_RETURN_IF_ERROR(env_->SyncDir(building_));
    KS_RETURN_IF_ERROR(env_->Rename(building_, path_));
    published_ = true;
    return Status::Ok();
  }

 private:
  NewDirectory(Env* env, std::string path)
      : env_(env), path_(std::move(path)), building_(path_ + ".kuzusync-tmp") {}

  Env* env_;
  std::string path_;
  std::string building_;
  bool published_ = false;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_NEW_DIRECTORY_H_
