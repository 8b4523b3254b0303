#include "actors/node/control_server.hpp"

#include "actors/logging/log.hpp"
#include "messages/frame_io.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/send.hpp>

namespace skep::node {

namespace {

constexpr std::string_view who = "control";

/// Clients dropped for bad or missing frames: a flood writes a few lines.
log::rate_limit dropped_clients{10, std::chrono::seconds{10}};

std::string errno_text() {
  return std::strerror(errno);
}

// The read end of the stop pipe, shared by the listener and every session:
// it becomes readable (hung up) when the server's handle closes the write
// end, and is closed once the last of them is gone.
struct stop_signal {
  explicit stop_signal(int fd) : read_fd(fd) {}
  ~stop_signal() { ::close(read_fd); }
  stop_signal(const stop_signal&) = delete;
  stop_signal& operator=(const stop_signal&) = delete;
  int read_fd;
};

using stop_signal_ptr = std::shared_ptr<const stop_signal>;

/// The clients being served, so that a full server can make room for a new
/// client by dropping the one that has waited the longest without asking
/// anything. Shared by the listener and the sessions. Those block in poll()
/// with real timeouts, so idleness is measured on the steady clock, not the
/// actor clock (see logging/clock.hpp).
class session_table {
 public:
  uint64_t add(int fd) {
    std::lock_guard<std::mutex> guard{mutex_};
    auto id = next_++;
    sessions_[id] = {fd, true, std::chrono::steady_clock::now()};
    return id;
  }

  /// Idle: waiting for the client's next request.
  void set_idle(uint64_t id, bool idle) {
    std::lock_guard<std::mutex> guard{mutex_};
    auto& e = sessions_.at(id);
    e.idle = idle;
    e.since = std::chrono::steady_clock::now();
  }

  /// Call before the session closes its descriptor.
  void remove(uint64_t id) {
    std::lock_guard<std::mutex> guard{mutex_};
    sessions_.erase(id);
  }

  size_t size() {
    std::lock_guard<std::mutex> guard{mutex_};
    return sessions_.size();
  }

  /// Shuts down the connection idle the longest (its session then ends);
  /// false when every client is in the middle of a request.
  bool drop_oldest_idle() {
    std::lock_guard<std::mutex> guard{mutex_};
    auto oldest = sessions_.end();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
      if (it->second.idle
          && (oldest == sessions_.end()
              || it->second.since < oldest->second.since))
        oldest = it;
    if (oldest == sessions_.end())
      return false;
    ::shutdown(oldest->second.fd, SHUT_RDWR);
    oldest->second.idle = false; // dropped once
    return true;
  }

 private:
  struct entry {
    int fd;
    bool idle;
    std::chrono::steady_clock::time_point since;
  };
  std::mutex mutex_;
  std::map<uint64_t, entry> sessions_;
  uint64_t next_ = 1;
};

using session_table_ptr = std::shared_ptr<session_table>;

sockaddr_un socket_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(),
              std::min(path.size(), sizeof(addr.sun_path) - 1));
  return addr;
}

// One connected client: its (non-blocking) socket, the stop pipe that
// cancels its reads and writes, and how long a reply may wait for it to read.
struct client {
  int fd;
  int cancel_fd;
  std::chrono::milliseconds write_timeout;
};

// Sends `env` framed; a client that went away or stopped reading is only
// worth a debug line. The write gives up when the node stops.
bool send_envelope(const client& to, const envelope& env) {
  auto frame = frame_envelope(env);
  frame_write_options opts;
  opts.timeout = to.write_timeout;
  opts.cancel_fd = to.cancel_fd;
  auto sent = write_all(to.fd, frame.data(), frame.size(), opts);
  if (!sent)
    log::debug(who, "client went away before its reply: {}",
               sent.error().message);
  return sent.ok();
}

// Handles one decoded envelope; returns false when the connection must close.
bool serve_envelope(caf::blocking_actor* self, const client& peer,
                    const envelope& env, const supervisor_actor& supervisor,
                    const control_server_options& opts) {
  auto root = env.root();
  if (auto checked = check_envelope(env); !checked) {
    send_envelope(
      peer, make_error_envelope(root.getCorrelationId(), checked.error()));
    return checked.error().code != errc::malformed_message;
  }
  if (root.getKind() != schema::Envelope::Kind::REQUEST
      || root.getBody().which() != schema::Envelope::Body::CONTROL_REQUEST) {
    send_envelope(
      peer, make_error_envelope(root.getCorrelationId(),
                                fail(errc::unsupported,
                                     "the control socket accepts only control "
                                     "requests")));
    return true;
  }
  auto request = control_request::from(root.getBody().getControlRequest());
  control_reply reply;
  self->request(supervisor, opts.request_timeout, request)
    .receive(
      [&](control_reply& r) { reply = std::move(r); },
      [&](caf::error& err) {
        auto timed_out = err == caf::sec::request_timeout;
        reply = make_error_reply(
          timed_out ? fail(
            errc::timeout,
            fmt::format("the node did not answer within "
                        "{} ms",
                        std::chrono::duration_cast<std::chrono::milliseconds>(
                          opts.request_timeout)
                          .count()))
                    : fail(errc::unavailable,
                           fmt::format("the node could not handle the "
                                       "request: {}",
                                       self->system().render(err))));
      });
  return send_envelope(peer, make_control_reply_envelope(env, reply));
}

// One client connection: read frames until the client leaves, sends
// something unreadable, or the node stops.
void control_session(caf::blocking_actor* self, int fd, stop_signal_ptr stop,
                     supervisor_actor supervisor, control_server_options opts,
                     session_table_ptr sessions, uint64_t id) {
  frame_reader reader{opts.max_frame_bytes};
  auto limits = read_limits_for_frames(opts.max_frame_bytes);
  client peer{fd, stop->read_fd, opts.frame_timeout};
  for (bool first = true;; first = false) {
    // A new client must ask something within frame_timeout; later it may
    // wait as long as it likes between frames (until the server needs its
    // slot). One frame, once begun, must arrive within frame_timeout, so a
    // stalled client cannot pin a session.
    frame_read_options read_opts;
    read_opts.cancel_fd = stop->read_fd;
    read_opts.frame_timeout = opts.frame_timeout;
    if (first)
      read_opts.timeout = opts.frame_timeout;
    sessions->set_idle(id, true);
    auto frame = read_frame(fd, reader, read_opts);
    sessions->set_idle(id, false);
    if (!frame) {
      const auto& why = frame.error();
      if (why.code == errc::frame_too_large
          || why.code == errc::malformed_message || why.code == errc::timeout) {
        log::warn_limited(dropped_clients, who, "dropping client: {}",
                          why.message);
        send_envelope(peer, make_error_envelope(0, why));
      } else if (why.code != errc::unavailable) {
        log::debug(who, "client session ends: {}", why.message);
      }
      break;
    }
    if (!*frame)
      break; // the client closed cleanly
    const auto& bytes = **frame;
    auto env = envelope::decode(bytes.data(), bytes.size(), limits);
    if (!env) {
      log::warn_limited(dropped_clients, who, "dropping client: {}",
                        env.error().message);
      send_envelope(peer, make_error_envelope(0, env.error()));
      break;
    }
    if (!serve_envelope(self, peer, *env, supervisor, opts))
      break;
  }
  sessions->remove(id);
  ::close(fd);
}

void control_listener(caf::blocking_actor* self, int listen_fd,
                      stop_signal_ptr stop, supervisor_actor supervisor,
                      control_server_options opts) {
  auto sessions = std::make_shared<session_table>();
  log::info(who, "serving clients on {}", opts.socket_path);
  for (;;) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {stop->read_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      log::error(who, "poll on the control socket failed: {}", errno_text());
      break;
    }
    if (fds[1].revents != 0)
      break;
    int fd
      = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
        continue;
      log::error(who, "accept on the control socket failed: {}", errno_text());
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: back off instead of spinning on accept.
        ::poll(nullptr, 0, 100);
        continue;
      }
      break;
    }
    if (sessions->size() >= opts.max_sessions
        && !sessions->drop_oldest_idle()) {
      send_envelope(
        client{fd, stop->read_fd, std::chrono::milliseconds{100}},
        make_error_envelope(
          0, fail(errc::unavailable, fmt::format("the node already serves {} "
                                                 "clients; retry later",
                                                 opts.max_sessions))));
      ::close(fd);
      continue;
    }
    auto id = sessions->add(fd);
    self->spawn<caf::detached>(control_session, fd, stop, supervisor, opts,
                               sessions, id);
  }
  ::close(listen_fd);
  ::unlink(opts.socket_path.c_str());
  log::info(who, "stopped serving {}", opts.socket_path);
}

} // namespace

result<int> open_control_socket(const std::string& path) {
  auto addr = socket_address(path);
  if (path.size() >= sizeof(addr.sun_path))
    return fail(errc::invalid_argument,
                fmt::format("control socket path {} is too long", path));
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return fail(errc::invalid_argument,
                  fmt::format("{} exists and is not a socket; remove it or "
                              "choose another --control-socket",
                              path));
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live
      = probe >= 0
        && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
             == 0;
    if (probe >= 0)
      ::close(probe);
    if (live)
      return fail(errc::unavailable,
                  fmt::format("another skepd is serving {}", path));
    ::unlink(path.c_str()); // stale, left by a crash
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail(errc::internal,
                fmt::format("cannot create a unix socket: {}", errno_text()));
  // Bind under a strict umask so the socket is never reachable by others,
  // not even between bind and chmod.
  auto old_mask = ::umask(0177);
  int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  auto bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) {
    ::close(fd);
    return fail(errc::unavailable,
                fmt::format("cannot bind control socket {}: {}", path,
                            std::strerror(bind_errno)));
  }
  ::chmod(path.c_str(), 0600);
  if (::listen(fd, 128) != 0) {
    auto why = errno_text();
    ::close(fd);
    ::unlink(path.c_str());
    return fail(errc::internal,
                fmt::format("cannot listen on {}: {}", path, why));
  }
  return fd;
}

result<std::unique_ptr<control_server>>
control_server::start(caf::actor_system& sys, int listen_fd,
                      supervisor_actor supervisor,
                      control_server_options options) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ::close(listen_fd);
    return fail(errc::internal,
                fmt::format("cannot create the stop pipe: {}", errno_text()));
  }
  auto stop = std::make_shared<const stop_signal>(pipe_fds[0]);
  sys.spawn<caf::detached>(control_listener, listen_fd, std::move(stop),
                           std::move(supervisor), std::move(options));
  return std::make_unique<control_server>(pipe_fds[1]);
}

control_server::~control_server() {
  ::close(stop_fd_);
}

} // namespace skep::node
