// Temporary files of push, pull and sync (bundles, bases), named after the
// process that made them so that what a killed run left can be removed.
// Internal to the transfer library.

#ifndef KUZUSYNC_TRANSFER_TEMP_FILES_H_
#define KUZUSYNC_TRANSFER_TEMP_FILES_H_

#include <string>

#include "snapshot/env.h"

namespace kuzusync {

// <temp_dir>/kuzusync-<pid>-<what>-<nanoseconds>.kzb
std::string TempPath(const std::string& temp_dir, const std::string& what);

// Removes the temporary files and directories of processes that are gone.
void RemoveStaleTempFiles(Env* env, const std::string& temp_dir);

}  // namespace kuzusync

#endif  // KUZUSYNC_TRANSFER_TEMP_FILES_H_
