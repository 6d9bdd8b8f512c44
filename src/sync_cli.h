// The sync commands of the CLI: sync, status, log, conflicts.

#ifndef KUZUSYNC_SRC_SYNC_CLI_H_
#define KUZUSYNC_SRC_SYNC_CLI_H_

#include <string>

#include "transfer/transfer.h"

namespace kuzusync {

// Exit codes of sync, for cron: 0 in sync, 1 stopped by conflicts (policy
// fail), 2 trouble, 3 busy (another sync of the replica is running).
int RunSync(const std::string& local, const std::string& remote, const SyncOptions& options,
            bool json, bool quiet);
int RunStatus(const std::string& local, bool json);
int RunLog(const std::string& local, bool json, size_t limit);
int RunConflicts(const std::string& local, bool json, size_t limit);

}  // namespace kuzusync

#endif  // KUZUSYNC_SRC_SYNC_CLI_H_
