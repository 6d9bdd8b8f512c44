// Byte streams over file descriptors, child processes and TLS. Internal to
// the transfer library.

#ifndef KUZUSYNC_TRANSFER_STREAMS_H_
#define KUZUSYNC_TRANSFER_STREAMS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "transfer/transfer.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace kuzusync {

// Reads from one descriptor and writes to another (a pipe pair, or one
// socket for both). Closes them when destroyed if it owns them.
class FdStream : public ByteStream {
 public:
  FdStream(int read_fd, int write_fd, bool owns) : read_fd_(read_fd), write_fd_(write_fd), owns_(owns) {}
  ~FdStream() override;
  Status Write(std::string_view data) override;
  Status Flush() override;
  Status Read(char* buffer, size_t n, size_t* got) override;
  void CloseWrite();

 private:
  int read_fd_;
  int write_fd_;
  bool owns_;
  std::string pending_;
};

// A child process whose stdin/stdout are the stream (ssh). Waits for the
// child when destroyed.
class ChildStream final : public FdStream {
 public:
  static Result<std::unique_ptr<ChildStream>> Spawn(const std::vector<std::string>& argv);
  ~ChildStream() override;
  // End of output from a child that failed is an error naming its exit
  // status (ssh: 255 for connection or login failures).
  Status Read(char* buffer, size_t n, size_t* got) override;

 private:
  ChildStream(int read_fd, int write_fd, pid_t pid, std::string command)
      : FdStream(read_fd, write_fd, true), pid_(pid), command_(std::move(command)) {}
  pid_t pid_;
  std::string command_;
  bool reaped_ = false;
};

// TLS over a connected socket; owns both.
class TlsStream final : public ByteStream {
 public:
  // Client side: verifies the server's certificate chain (ca_file, or the
  // system store when empty) and that it names `host`.
  static Result<std::unique_ptr<TlsStream>> Connect(int fd, const std::string& host,
                                                    const std::string& ca_file);
  // Server side: ctx holds the certificate and key.
  static Result<std::unique_ptr<TlsStream>> Accept(int fd, SSL_CTX* ctx);
  ~TlsStream() override;
  Status Write(std::string_view data) override;
  Status Flush() override;
  Status Read(char* buffer, size_t n, size_t* got) override;

 private:
  TlsStream(int fd, SSL* ssl, SSL_CTX* owned_ctx) : fd_(fd), ssl_(ssl), owned_ctx_(owned_ctx) {}
  int fd_;
  SSL* ssl_;
  SSL_CTX* owned_ctx_;
  std::string pending_;
};

// Server TLS context: TLS 1.2+, certificate chain and key from PEM files.
Result<SSL_CTX*> NewServerTlsContext(const std::string& cert_file, const std::string& key_file);

// host:port -> connected TCP socket.
Result<int> TcpConnect(const std::string& host, int port);
bool IsLoopback(const std::string& host);

}  // namespace kuzusync

#endif  // KUZUSYNC_TRANSFER_STREAMS_H_
