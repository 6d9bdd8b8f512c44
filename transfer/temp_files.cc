// Temporary files named after their process, and their cleanup.

#include "transfer/temp_files.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace kuzusync {

std::string TempPath(const std::string& temp_dir, const std::string& what) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return JoinPath(temp_dir, "kuzusync-" + std::to_string(::getpid()) + "-" + what + "-" +
                                std::to_string(now) + ".kzb");
}

void RemoveStaleTempFiles(Env* env, const std::string& temp_dir) {
  std::vector<DirEntry> entries;
  if (!env->ListDir(temp_dir, &entries).ok()) return;
  for (const DirEntry& e : entries) {
    if (e.name.rfind("kuzusync-", 0) != 0 || e.name.find(".kzb") == std::string::npos) continue;
    long pid = std::strtol(e.name.c_str() + 9, nullptr, 10);
    if (pid <= 0 || pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) {
      continue;
    }
    const std::string path = JoinPath(temp_dir, e.name);
    if (e.type == FileType::kDirectory) {
      (void)RemoveTree(env, path);
    } else {
      (void)env->RemoveFile(path);
    }
  }
}

}  // namespace kuzusync
