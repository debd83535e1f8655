// Batched UDP I/O for the packet-path worker threads (docs/pipeline.md "Sharded packet path").
//
// Only syscalls live here; queues, timers, AQM and every decision stay in TypeScript. Each worker thread owns
// one non-blocking UDP socket bound with SO_REUSEPORT to the node's port, receives with recvmmsg(2) into a
// caller-provided slab (one fixed-size slot per datagram), sends with sendmmsg(2) from a slab of fixed-size
// packets, and is woken by a libuv poll handle on its own thread's event loop (no thread of our own).
//
// Addresses cross the boundary in one 20-byte form per datagram (kAddrBytes):
//   [0]     family: 4 or 6 (0 = none)
//   [1]     reserved
//   [2..3]  port, big-endian
//   [4..19] IPv4 in [4..7], or IPv6 in [4..19]
//
// Linux only (recvmmsg/sendmmsg, SO_REUSEPORT, SO_ATTACH_REUSEPORT_CBPF); elsewhere `udpSupported` is false
// and the node keeps its single-socket path.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#if defined(__linux__)
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#define LOOPIX_UDP 1
#else
#define LOOPIX_UDP 0
#endif

namespace loopix_udp {

constexpr size_t kAddrBytes = 20;
// Most datagrams per recvmmsg/sendmmsg call (the kernel's UIO_MAXIOV is 1024).
constexpr size_t kMaxBatch = 1024;

[[noreturn]] void throw_type(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] void throw_range(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

template <typename T>
T* typed_arg(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type want, size_t* length) {
  napi_typedarray_type type;
  void* data = nullptr;
  if (i >= info.Length() ||
      napi_get_typedarray_info(info.Env(), info[i], &type, length, &data, nullptr, nullptr) != napi_ok ||
      type != want) {
    throw_type(info.Env(),
               std::string(name) + (want == napi_uint8_array ? " must be a Uint8Array" : " must be an Int32Array"));
  }
  return static_cast<T*>(data);
}

size_t uint_arg(const Napi::CallbackInfo& info, size_t i, const char* name, size_t lo, size_t hi) {
  if (i >= info.Length() || !info[i].IsNumber()) throw_type(info.Env(), std::string(name) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) ||
      v != static_cast<double>(static_cast<size_t>(v))) {
    throw_range(info.Env(),
                std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<size_t>(v);
}

#if LOOPIX_UDP

[[noreturn]] void throw_errno(Napi::Env env, const std::string& what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

int fd_arg(const Napi::CallbackInfo& info, size_t i) { return static_cast<int>(uint_arg(info, i, "fd", 0, 1 << 30)); }

void encode_addr(const sockaddr_storage& ss, uint8_t* out) {
  std::memset(out, 0, kAddrBytes);
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    out[0] = 4;
    std::memcpy(out + 2, &a->sin_port, 2);
    std::memcpy(out + 4, &a->sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    out[0] = 6;
    std::memcpy(out + 2, &a->sin6_port, 2);
    std::memcpy(out + 4, &a->sin6_addr, 16);
  }
}

// Returns the sockaddr length, 0 when the encoded family is not 4 or 6.
socklen_t decode_addr(const uint8_t* in, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof(*ss));
  if (in[0] == 4) {
    auto* a = reinterpret_cast<sockaddr_in*>(ss);
    a->sin_family = AF_INET;
    std::memcpy(&a->sin_port, in + 2, 2);
    std::memcpy(&a->sin_addr, in + 4, 4);
    return sizeof(sockaddr_in);
  }
  if (in[0] == 6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(ss);
    a->sin6_family = AF_INET6;
    std::memcpy(&a->sin6_port, in + 2, 2);
    std::memcpy(&a->sin6_addr, in + 4, 16);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

// udpOpen(addr: Uint8Array(20), reusePort: boolean, bufferBytes: number) -> {fd, port, recvBufferBytes,
// sendBufferBytes} A non-blocking, close-on-exec UDP socket bound to `addr` (port 0: the kernel picks one). With
// `reusePort`, SO_REUSEPORT lets several sockets of this process share the port (the kernel picks one socket per
// datagram by hashing its 4-tuple, unless udpSpread attached a program to the group).
Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t alen = 0;
  const uint8_t* a = typed_arg<uint8_t>(info, 0, "addr", napi_uint8_array, &alen);
  if (alen != kAddrBytes) throw_range(env, "addr must be " + std::to_string(kAddrBytes) + " bytes");
  bool reuse = info.Length() > 1 && info[1].ToBoolean().Value();
  size_t buffer = uint_arg(info, 2, "bufferBytes", 0, 1u << 30);
  sockaddr_storage ss;
  socklen_t slen = decode_addr(a, &ss);
  if (slen == 0) throw_range(env, "addr family must be 4 or 6");
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(env, "socket", errno);
  int one = 1;
  auto fail = [&](const char* what) {
    int err = errno;
    close(fd);
    throw_errno(env, what, err);
  };
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) fail("setsockopt(SO_REUSEPORT)");
  // Kernel receive timestamps: udpRecvBatch reports how long each datagram waited in the socket buffer,
  // the queueing delay the AQM controls (the buffer is the worker's input queue). Best effort.
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
  std::string warning;
  if (buffer > 0) {
    int b = static_cast<int>(buffer);
    // SO_RCVBUFFORCE needs CAP_NET_ADMIN; fall back to the capped SO_RCVBUF silently (read back below).
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &b, sizeof(b)) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof(b));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &b, sizeof(b)) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof(b));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), slen) != 0) fail("bind");
  sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) != 0) fail("getsockname");
  int rcv = 0, snd = 0;
  socklen_t il = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &il);
  il = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &il);
  Napi::Object r = Napi::Object::New(env);
  r.Set("fd", Napi::Number::New(env, fd));
  uint16_t port = 0;
  std::memcpy(&port,
              bound.ss_family == AF_INET
                  ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                  : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port),
              2);
  r.Set("port", Napi::Number::New(env, ntohs(port)));
  r.Set("recvBufferBytes", Napi::Number::New(env, rcv));
  r.Set("sendBufferBytes", Napi::Number::New(env, snd));
  return r;
}

// udpSpread(fd, groupSize) -> boolean
// Attaches to the reuseport group of the bound socket `fd` a classic BPF program that returns a random index
// in [0, groupSize): each datagram goes to a random socket of the group instead of the one its 4-tuple hashes
// to. Must run after every socket of the group is bound (a socket carrying a program before bind starts a
// group of its own). Returns false when the kernel refuses (the group keeps hashing).
Napi::Value UdpSpread(const Napi::CallbackInfo& info) {
  int fd = fd_arg(info, 0);
  size_t groupSize = uint_arg(info, 1, "groupSize", 1, 1024);
  sock_filter code[] = {
      {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)},
      {BPF_ALU | BPF_MOD | BPF_K, 0, 0, static_cast<uint32_t>(groupSize)},
      {BPF_RET | BPF_A, 0, 0, 0},
  };
  sock_fprog prog = {static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
  bool ok = setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) == 0;
  return Napi::Boolean::New(info.Env(), ok);
}

// udpClose(fd)
Napi::Value UdpClose(const Napi::CallbackInfo& info) {
  close(fd_arg(info, 0));
  return info.Env().Undefined();
}

// udpRecvBatch(fd, slab: Uint8Array, slotBytes, lengths: Int32Array, addrs: Uint8Array, waits?: Float64Array) -> count
// Reads up to lengths.length datagrams without blocking; datagram i lands in slab[i*slotBytes ..], its true
// length (MSG_TRUNC: longer than the slot when truncated) in lengths[i], its source in addrs[i*20 ..].
// With `waits`, waits[i] = ms datagram i spent in the kernel's receive buffer (CLOCK_REALTIME now − its kernel
// receive timestamp, SO_TIMESTAMPNS; 0 without a timestamp). Returns 0 when nothing is waiting; throws only on
// a socket error other than EAGAIN/EINTR.
Napi::Value UdpRecvBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = fd_arg(info, 0);
  size_t slab_len = 0, n_len = 0, a_len = 0;
  uint8_t* slab = typed_arg<uint8_t>(info, 1, "slab", napi_uint8_array, &slab_len);
  size_t slot = uint_arg(info, 2, "slotBytes", 1, 65536);
  int32_t* lengths = typed_arg<int32_t>(info, 3, "lengths", napi_int32_array, &n_len);
  uint8_t* addrs = typed_arg<uint8_t>(info, 4, "addrs", napi_uint8_array, &a_len);
  size_t n = n_len < kMaxBatch ? n_len : kMaxBatch;
  if (slab_len < n * slot) throw_range(env, "slab must hold lengths.length slots of slotBytes");
  if (a_len < n * kAddrBytes) throw_range(env, "addrs must hold lengths.length × 20 bytes");
  double* waits = nullptr;
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    napi_typedarray_type type;
    size_t w_len = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, info[5], &type, &w_len, &data, nullptr, nullptr) != napi_ok ||
        type != napi_float64_array) {
      throw_type(env, "waits must be a Float64Array");
    }
    if (w_len < n) throw_range(env, "waits must hold lengths.length entries");
    waits = static_cast<double*>(data);
  }
  constexpr size_t kControlBytes = CMSG_SPACE(sizeof(timespec));
  std::vector<mmsghdr> msgs(n);
  std::vector<iovec> iov(n);
  std::vector<sockaddr_storage> from(n);
  std::vector<uint8_t> control(waits ? n * kControlBytes : 0);
  for (size_t i = 0; i < n; i++) {
    iov[i] = {slab + i * slot, slot};
    std::memset(&msgs[i], 0, sizeof(mmsghdr));
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    if (waits) {
      msgs[i].msg_hdr.msg_control = control.data() + i * kControlBytes;
      msgs[i].msg_hdr.msg_controllen = kControlBytes;
    }
  }
  int got;
  do {
    got = recvmmsg(fd, msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT | MSG_TRUNC, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, 0);
    throw_errno(env, "recvmmsg", errno);
  }
  timespec now{};
  if (waits) clock_gettime(CLOCK_REALTIME, &now);
  for (int i = 0; i < got; i++) {
    if (waits) {
      waits[i] = 0;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
          double ms =
              static_cast<double>(now.tv_sec - ts.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec - ts.tv_nsec) / 1e6;
          waits[i] = ms > 0 ? ms : 0;
        }
      }
    }
    // With MSG_TRUNC in flags the kernel reports the datagram's real length, so an oversized datagram is
    // recognisable (and dropped by the caller as bad_size) instead of silently cut to the slot.
    lengths[i] = static_cast<int32_t>(msgs[i].msg_len);
    if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) lengths[i] = static_cast<int32_t>(slot + 1);
    encode_addr(from[i], addrs + i * kAddrBytes);
  }
  return Napi::Number::New(env, got);
}

// udpSendBatch(fd, slab: Uint8Array, packetBytes, count, addrs: Uint8Array, status: Int32Array) -> handled
// Sends datagram i = slab[i*packetBytes ..] to addrs[i*20 ..] for i < count. Returns how many were handled:
// sent (status 0) or failed for good (status = errno, e.g. ECONNREFUSED from an earlier ICMP, EINVAL for a
// bad address). Stops early, without failing the rest, when the socket buffer is full (EAGAIN/ENOBUFS): the
// caller keeps datagrams handled..count-1 and retries when the socket is writable.
Napi::Value UdpSendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = fd_arg(info, 0);
  size_t slab_len = 0, a_len = 0, s_len = 0;
  uint8_t* slab = typed_arg<uint8_t>(info, 1, "slab", napi_uint8_array, &slab_len);
  size_t pb = uint_arg(info, 2, "packetBytes", 1, 65507);
  size_t count = uint_arg(info, 3, "count", 0, 1 << 24);
  uint8_t* addrs = typed_arg<uint8_t>(info, 4, "addrs", napi_uint8_array, &a_len);
  int32_t* status = typed_arg<int32_t>(info, 5, "status", napi_int32_array, &s_len);
  if (slab_len < count * pb) throw_range(env, "slab must hold count packets of packetBytes");
  if (a_len < count * kAddrBytes) throw_range(env, "addrs must hold count × 20 bytes");
  if (s_len < count) throw_range(env, "status must hold count entries");
  size_t done = 0;
  std::vector<mmsghdr> msgs(count < kMaxBatch ? count : kMaxBatch);
  std::vector<iovec> iov(msgs.size());
  std::vector<sockaddr_storage> to(msgs.size());
  while (done < count) {
    size_t n = count - done < msgs.size() ? count - done : msgs.size();
    size_t valid = 0;
    // A bad address fails only its own datagram; the ones before it go out in this call.
    for (; valid < n; valid++) {
      size_t i = done + valid;
      socklen_t len = decode_addr(addrs + i * kAddrBytes, &to[valid]);
      if (len == 0) break;
      iov[valid] = {slab + i * pb, pb};
      std::memset(&msgs[valid], 0, sizeof(mmsghdr));
      msgs[valid].msg_hdr.msg_iov = &iov[valid];
      msgs[valid].msg_hdr.msg_iovlen = 1;
      msgs[valid].msg_hdr.msg_name = &to[valid];
      msgs[valid].msg_hdr.msg_namelen = len;
    }
    if (valid == 0) {
      status[done++] = EINVAL;
      continue;
    }
    int sent;
    do {
      sent = sendmmsg(fd, msgs.data(), static_cast<unsigned>(valid), MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) break;
      status[done++] = err;  // the first datagram failed for good; go on with the next
      continue;
    }
    for (int i = 0; i < sent; i++) status[done + i] = 0;
    done += static_cast<size_t>(sent);
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

// A libuv poll handle on this thread's event loop: calls back (events) when the fd becomes readable or
// writable. One per socket; the worker thread's JS decides what to do (drain with udpRecvBatch, flush sends).
class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpPoller",
                       {InstanceMethod("start", &Poller::Start), InstanceMethod("close", &Poller::Close)});
  }

  // new UdpPoller(fd, callback(events: number))
  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    int fd = fd_arg(info, 0);
    if (info.Length() < 2 || !info[1].IsFunction()) throw_type(env, "callback must be a function");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) throw Napi::Error::New(env, "no event loop");
    handle_ = new uv_poll_t;
    if (int rc = uv_poll_init(loop, handle_, fd); rc != 0) {
      delete handle_;
      handle_ = nullptr;
      throw Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(rc));
    }
    handle_->data = this;
    env_ = env;
    // Close the handle if the thread's environment goes away first (worker terminated): an open handle at
    // loop close would abort the process.
    napi_add_env_cleanup_hook(env, &Poller::Cleanup, this);
  }

  ~Poller() override { Shutdown(); }

 private:
  // start(events: 1 readable | 2 writable; 0 stops)
  Napi::Value Start(const Napi::CallbackInfo& info) {
    int events = static_cast<int>(uint_arg(info, 0, "events", 0, 3));
    if (handle_ == nullptr) return info.Env().Undefined();
    if (events == 0)
      uv_poll_stop(handle_);
    else
      uv_poll_start(handle_, (events & 1 ? UV_READABLE : 0) | (events & 2 ? UV_WRITABLE : 0), &Poller::OnEvent);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  void Shutdown() {
    if (handle_ == nullptr) return;
    napi_remove_env_cleanup_hook(env_, &Poller::Cleanup, this);
    uv_poll_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
  }

  static void Cleanup(void* self) {
    auto* p = static_cast<Poller*>(self);
    if (p->handle_ == nullptr) return;
    uv_poll_stop(p->handle_);
    p->handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(p->handle_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    p->handle_ = nullptr;
  }

  static void OnEvent(uv_poll_t* h, int status, int events) {
    auto* self = static_cast<Poller*>(h->data);
    if (self == nullptr) return;
    Napi::Env env = self->env_;
    Napi::HandleScope scope(env);
    int mask = status < 0 ? 4 : ((events & UV_READABLE) ? 1 : 0) | ((events & UV_WRITABLE) ? 2 : 0);
    // MakeCallback runs the microtask queue afterwards, as for any I/O callback.
    try {
      self->callback_.MakeCallback(env.Global(), {Napi::Number::New(env, mask)});
    } catch (const Napi::Error& e) {
      // The packet path never throws; an exception here is a bug in the callback. Report it as uncaught.
      napi_fatal_exception(env, e.Value());
    }
  }

  Napi::FunctionReference callback_;
  uv_poll_t* handle_ = nullptr;
  napi_env env_ = nullptr;
};

#endif  // LOOPIX_UDP

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("udpSupported", Napi::Boolean::New(env, LOOPIX_UDP == 1));
  exports.Set("udpAddrBytes", Napi::Number::New(env, kAddrBytes));
#if LOOPIX_UDP
  exports.Set("udpOpen", Napi::Function::New(env, UdpOpen, "udpOpen"));
  exports.Set("udpSpread", Napi::Function::New(env, UdpSpread, "udpSpread"));
  exports.Set("udpClose", Napi::Function::New(env, UdpClose, "udpClose"));
  exports.Set("udpRecvBatch", Napi::Function::New(env, UdpRecvBatch, "udpRecvBatch"));
  exports.Set("udpSendBatch", Napi::Function::New(env, UdpSendBatch, "udpSendBatch"));
  exports.Set("UdpPoller", Poller::Define(env));
#endif
}

}  // namespace loopix_udp
