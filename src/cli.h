// The kuzusync command line: parses arguments, calls the libraries, prints
// results, and maps errors to exit statuses (0 same/success, 1 different,
// 2 trouble).

#ifndef KUZUSYNC_SRC_CLI_H_
#define KUZUSYNC_SRC_CLI_H_

namespace kuzusync {

int RunCli(int argc, char** argv);

}  // namespace kuzusync

#endif  // KUZUSYNC_SRC_CLI_H_
