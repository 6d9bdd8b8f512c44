// The kuzusync daemon: TCP (TLS unless --insecure on loopback), one thread
// per connection, each running ServeSession.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "transfer/streams.h"
#include "transfer/transfer.h"

namespace kuzusync {

Status ServeStdio(const ServeOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);
  FdStream stream(0, 1, false);
  return ServeSession(&stream, options);
}

Status RunDaemon(const DaemonOptions& daemon, const ServeOptions& options) {
  auto log = [&](const std::string& line) {
    if (daemon.log) daemon.log(line);
  };
  size_t colon = daemon.listen.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("--listen wants HOST:PORT");
  std::string host = daemon.listen.substr(0, colon);
  std::string port = daemon.listen.substr(colon + 1);
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (daemon.insecure && !IsLoopback(host)) {
    return Status::Refused("--insecure (plain TCP) is allowed only on a loopback address");
  }
  SSL_CTX* ctx = nullptr;
  if (!daemon.insecure) {
    KS_ASSIGN_OR_RETURN(ctx, NewServerTlsContext(daemon.tls_cert, daemon.tls_key));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Status::InvalidArgument("cannot resolve " + daemon.listen + ": " + gai_strerror(rc));
  }
  int listener = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (listener < 0 || ::bind(listener, found->ai_addr, found->ai_addrlen) != 0 ||
      ::listen(listener, 64) != 0) {
    std::string why = std::strerror(errno);
    ::freeaddrinfo(found);
    if (listener >= 0) ::close(listener);
    return Status::IoError("cannot listen on " + daemon.listen + ": " + why);
  }
  ::freeaddrinfo(found);
  ::signal(SIGPIPE, SIG_IGN);
  log("listening on " + daemon.listen + (daemon.insecure ? " (plain TCP)" : " (TLS)"));

  std::atomic<int> active{0};
  int served = 0;
  while (daemon.max_sessions == 0 || served < daemon.max_sessions) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      log(std::string("accept failed: ") + std::strerror(errno));
      continue;
    }
    // As the client's end does: a frame the server writes in two pieces
    // (more than its 64 KB buffer) must not wait for the client's delayed
    // acknowledgement of the first.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ++served;
    ++active;
    std::thread([fd, ctx, &options, &active, log] {
      std::unique_ptr<ByteStream> stream;
      if (ctx != nullptr) {
        auto tls = TlsStream::Accept(fd, ctx);
        if (!tls.ok()) {
          log(tls.status().ToString());
          --active;
          return;
        }
        stream = std::move(tls).value();
      } else {
        stream = std::make_unique<FdStream>(fd, fd, true);
      }
      Status s = ServeSession(stream.get(), options);
      if (!s.ok()) log("session ended: " + s.ToString());
      --active;
    }).detach();
  }
  while (active > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::close(listener);
  if (ctx != nullptr) SSL_CTX_free(ctx);
  return Status::Ok();
}

}  // namespace kuzusync
