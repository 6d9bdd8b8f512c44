// Byte streams: descriptors, child processes (ssh) and TLS (OpenSSL).

#include "transfer/streams.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace kuzusync {
namespace {

std::string TlsErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

}  // namespace

Status ByteStream::ReadExactly(char* buffer, size_t n) {
  while (n > 0) {
    size_t got = 0;
    KS_RETURN_IF_ERROR(Read(buffer, n, &got));
    if (got == 0) return Status::IoError("connection closed by the peer");
    buffer += got;
    n -= got;
  }
  return Status::Ok();
}

FdStream::~FdStream() {
  if (!owns_) return;
  if (write_fd_ >= 0 && write_fd_ != read_fd_) ::close(write_fd_);
  if (read_fd_ >= 0) ::close(read_fd_);
}

void FdStream::CloseWrite() {
  if (write_fd_ >= 0 && write_fd_ != read_fd_) {
    ::close(write_fd_);
    write_fd_ = -1;
  }
}

Status FdStream::Write(std::string_view data) {
  pending_.append(data);
  if (pending_.size() >= (1 << 16)) return Flush();
  return Status::Ok();
}

Status FdStream::Flush() {
  std::string_view data = pending_;
  while (!data.empty()) {
    ssize_t w = ::write(write_fd_, data.data(), data.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      pending_.clear();
      return Status::IoError(std::string("connection lost: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(w));
  }
  pending_.clear();
  return Status::Ok();
}

Status FdStream::Read(char* buffer, size_t n, size_t* got) {
  while (true) {
    ssize_t r = ::read(read_fd_, buffer, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(std::string("connection lost: ") + std::strerror(errno));
    }
    *got = static_cast<size_t>(r);
    return Status::Ok();
  }
}

Result<std::unique_ptr<ChildStream>> ChildStream::Spawn(const std::vector<std::string>& argv) {
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) return Status::IoError("pipe failed");
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    ::close(to_child[0]);
    ::close(to_child[1]);
    return Status::IoError("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (rc != 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    return Status::IoError("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  // A peer that vanishes must surface as a write error, not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  std::string command;
  for (const std::string& a : argv) command += (command.empty() ? "" : " ") + a;
  return std::unique_ptr<ChildStream>(new ChildStream(from_child[0], to_child[1], pid, command));
}

Status ChildStream::Read(char* buffer, size_t n, size_t* got) {
  KS_RETURN_IF_ERROR(FdStream::Read(buffer, n, got));
  if (*got != 0 || reaped_) return Status::Ok();
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return Status::IoError("'" + command_ + "' exited with status " +
                           std::to_string(WEXITSTATUS(status)) +
                           " (its message is above; check ssh access and --remote-kuzusync)");
  }
  return Status::Ok();
}

ChildStream::~ChildStream() {
  CloseWrite();  // the remote side sees end of input and exits
  if (reaped_) return;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

Result<SSL_CTX*> NewServerTlsContext(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Status::IoError("TLS: " + TlsErrors());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    SSL_CTX_free(ctx);
    return Status::InvalidArgument("TLS certificate " + cert_file + ": " + TlsErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    SSL_CTX_free(ctx);
    return Status::InvalidArgument("TLS key " + key_file + ": " + TlsErrors());
  }
  return ctx;
}

Result<std::unique_ptr<TlsStream>> TlsStream::Connect(int fd, const std::string& host,
                                                      const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    ::close(fd);
    return Status::IoError("TLS: " + TlsErrors());
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                               : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    SSL_CTX_free(ctx);
    ::close(fd);
    return Status::InvalidArgument("TLS: cannot load CA " + ca_file + ": " + TlsErrors());
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, host.c_str());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  in6_addr ip;
  if (::inet_pton(AF_INET, host.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, host.c_str(), &ip) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  if (SSL_connect(ssl) != 1) {
    long verify = SSL_get_verify_result(ssl);
    std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : TlsErrors();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
    return Status::Refused("TLS handshake with " + host + " failed: " + why);
  }
  return std::unique_ptr<TlsStream>(new TlsStream(fd, ssl, ctx));
}

Result<std::unique_ptr<TlsStream>> TlsStream::Accept(int fd, SSL_CTX* ctx) {
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) {
    std::string why = TlsErrors();
    SSL_free(ssl);
    ::close(fd);
    return Status::Refused("TLS handshake failed: " + why);
  }
  return std::unique_ptr<TlsStream>(new TlsStream(fd, ssl, nullptr));
}

TlsStream::~TlsStream() {
  SSL_shutdown(ssl_);
  SSL_free(ssl_);
  if (owned_ctx_ != nullptr) SSL_CTX_free(owned_ctx_);
  ::close(fd_);
}

Status TlsStream::Write(std::string_view data) {
  pending_.append(data);
  if (pending_.size() >= (1 << 16)) return Flush();
  return Status::Ok();
}

Status TlsStream::Flush() {
  size_t done = 0;
  while (done < pending_.size()) {
    int w = SSL_write(ssl_, pending_.data() + done, static_cast<int>(pending_.size() - done));
    if (w <= 0) {
      pending_.clear();
      return Status::IoError("TLS connection lost: " + TlsErrors());
    }
    done += static_cast<size_t>(w);
  }
  pending_.clear();
  return Status::Ok();
}

Status TlsStream::Read(char* buffer, size_t n, size_t* got) {
  int r = SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(n, 1 << 30)));
  if (r > 0) {
    *got = static_cast<size_t>(r);
    return Status::Ok();
  }
  int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) {
    *got = 0;  // closed (cleanly or not): the caller decides whether that was expected
    return Status::Ok();
  }
  return Status::IoError("TLS connection lost: " + TlsErrors());
}

bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr addr;
  return ::inet_pton(AF_INET, host.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127;
}

Result<int> TcpConnect(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) return Status::IoError("cannot resolve " + host + ": " + gai_strerror(rc));
  int last_errno = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ::freeaddrinfo(found);
      ::signal(SIGPIPE, SIG_IGN);
      return fd;
    }
    last_errno = errno;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return Status::IoError("cannot connect to " + host + ":" + std::to_string(port) + ": " +
                         std::strerror(last_errno));
}

}  // namespace kuzusync
