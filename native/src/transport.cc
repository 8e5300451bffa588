// The transport's native side, with two backends (docs/native.md, "Transport"): tcp
// (sockets + epoll, always built) and fabric (libfabric FI_EP_MSG endpoints, built when
// libfabric's headers are found: STELE_FABRIC). Both carry the same byte stream of frames;
// only how bytes move differs.
//
// Threads: the constructor, every method and every callback into JavaScript run on the
// main thread. One I/O thread per transport owns every socket, the epoll set and the
// connection table; it never calls N-API. Main -> I/O: commands and per-peer send queues
// under `mu_`, plus an eventfd to wake the thread. One shortcut (tcp only): a small send
// with nothing queued or buffered before it is framed and written to the socket by the
// main thread itself (TryDirect), which saves two thread hand-offs per message; for that,
// the send side of an open outbound connection (its output buffer, sequence, MAC and
// credit) is touched only under `mu_` while `Peer::direct` points to it. I/O -> main: events through one
// thread-safe function with a bounded queue (non-blocking calls; a full queue parks the
// event on the I/O thread and retries). close(), the finalizer and the environment cleanup
// hook stop and join the thread, close every socket and release the function.
//
// Wire (after the handshake): frames of [u32 body bytes][u8 type][3 zero bytes][u64 seq],
// body, then a 16-byte AES-256-GMAC tag over header and body with the direction's key.
// Handshake frames (type HS) carry no tag; their content is checked in JavaScript.
// DATA bodies hold one or more messages, each [u32 length][bytes]; CREDIT bodies a u64.
#include "transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common.h"

#ifdef STELE_FABRIC
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#endif

namespace stele {
namespace {

constexpr uint32_t kHeaderBytes = 16;
constexpr uint32_t kTagBytes = 16;
constexpr uint8_t kTypeHandshake = 1;
constexpr uint8_t kTypeData = 2;
constexpr uint8_t kTypeCredit = 3;
constexpr uint32_t kHandshakeBytesMax = 1024;
constexpr uint32_t kFrameBodyTarget = 1u << 20;  // batch small messages up to this per frame
constexpr int kReceiveRoundsMax = 8;              // reads of one connection per turn, at most (Receive)
constexpr int kPumpRoundsMax = 16;                // frames of one peer written per turn, at most (Pump)
constexpr int kPendingHandshakesMax = 64;
// Half-open sessions per remote IPv4 address: one address cannot take every slot above.
constexpr int kPendingPerAddressMax = 8;
constexpr int64_t kHandshakeTimeoutMs = 5000;
constexpr int64_t kBackoffMinMs = 50;
constexpr int64_t kBackoffMaxMs = 2000;
constexpr size_t kEventQueueMax = 256;
constexpr size_t kBatchBytesFlush = 4u << 20;
// Messages in one delivered batch at most: JavaScript makes an object and a view for each,
// about 100 bytes against as few as 4 on the wire, so a frame of empty messages up to a whole
// credit window (8 million) in one batch would make a heap of about a gigabyte. A frame with
// more is split across batches (found in review, 2026-11-30). At 64-byte messages the byte
// bound above flushes at about this count too.
constexpr size_t kBatchMessagesMax = 1u << 16;
constexpr uint64_t kWakeTag = 0;
constexpr uint64_t kListenTag = 1;
// A peer that vanished without a FIN or RST (power loss, a partition) leaves its
// connection open until TCP gives up, about 15 minutes by default, and what is sent to it
// waits (and is kept: the peer looks reachable) meanwhile. Data unacknowledged for
// kTcpUserTimeoutMs drops the connection; an idle one is probed after kKeepIdleS, every
// kKeepIntervalS, kKeepCount times (2026-12-02).
constexpr unsigned kTcpUserTimeoutMs = 15000;
constexpr int kKeepIdleS = 5;
constexpr int kKeepIntervalS = 2;
constexpr int kKeepCount = 3;
constexpr int64_t kAcceptPauseMs = 100;  // how long the listener rests after accept4 ran out of descriptors
// Connection requests taken from the listener (accept4, or the fabric event queue) per turn
// of the loop, at most: a flood of connections that are refused at once must not keep the
// thread from the open connections' input. The rest wait in the kernel's (or provider's)
// queue for the next turn.
constexpr int kAcceptsPerTurn = 64;
constexpr uint64_t kFabricEqTag = 2;
// Fabric: the byte stream moves in chunks through registered buffers, per connection.
constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kRecvSlots = 32;
// Receive completions read from one connection per turn, at most (FabricProgress): four
// rounds of the posted receives, 8 MiB. With one round (2 MiB) the 64 KiB and 1 MiB rates of
// bench:transport looked about a quarter lower; with four they are within the noise
// (docs/native.md, 2026-12-02).
constexpr size_t kFabricReceivesPerTurn = 4 * kRecvSlots;
constexpr size_t kSendSlots = 32;
constexpr int kPeersMax = 64;

// Event kinds, mirrored in native/transport.ts.
enum EventKind : int { kConnected = 1, kAccepted = 2, kHandshakeMessage = 3, kOpen = 4, kClosed = 5, kMessages = 6, kLookupFailed = 7 };

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Event {
  EventKind kind;
  uint32_t conn = 0;
  int peer = -1;
  bool outbound = false;
  std::string text;
  std::vector<uint8_t> bytes;  // handshake message, or the arena of a message batch
  std::vector<uint32_t> meta;  // batch: [peer, conn, offset, length] per message
  bool settles = false;        // a closed event of a connection counted in unsettled_inbound_
};

// Frame tags: AES-256-GMAC, i.e. AES-256-GCM with the header and body as additional data
// and nothing encrypted; the 12-byte nonce is four zero bytes and the frame's u64 sequence
// (little-endian, as in the header). A direction's key lives for one connection (derived
// from that connection's X25519 exchange) and its sequence never repeats, so no nonce is
// used twice under one key. About 4x faster than HMAC-SHA256 with AES-NI and carry-less
// multiply (docs/native.md, Figures). The key schedule is set once; each frame re-inits
// only the nonce.
class Mac {
 public:
  Mac() = default;
  Mac(const Mac&) = delete;
  Mac& operator=(const Mac&) = delete;
  ~Mac() {
    if (ctx_ != nullptr) EVP_CIPHER_CTX_free(ctx_);
  }
  bool SetKey(const uint8_t* key, size_t length) {
    if (length != 32) return false;
    if (ctx_ == nullptr) ctx_ = EVP_CIPHER_CTX_new();
    if (ctx_ == nullptr) return false;
    return EVP_EncryptInit_ex(ctx_, EVP_aes_256_gcm(), nullptr, key, nullptr) == 1;
  }
  // Tag of header || body; the nonce comes from the sequence in header[8..16].
  bool Tag(const uint8_t* header, const uint8_t* body, size_t body_length, uint8_t* out) {
    uint8_t nonce[12] = {0, 0, 0, 0};
    std::memcpy(nonce + 4, header + 8, 8);
    int n = 0;
    if (ctx_ == nullptr || EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, nonce) != 1) return false;
    if (EVP_EncryptUpdate(ctx_, nullptr, &n, header, static_cast<int>(kHeaderBytes)) != 1) return false;
    for (size_t at = 0; at < body_length;) {
      size_t step = std::min<size_t>(body_length - at, 1u << 30);
      if (EVP_EncryptUpdate(ctx_, nullptr, &n, body + at, static_cast<int>(step)) != 1) return false;
      at += step;
    }
    uint8_t none[16];
    if (EVP_EncryptFinal_ex(ctx_, none, &n) != 1) return false;
    return EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), out) == 1;
  }

 private:
  EVP_CIPHER_CTX* ctx_ = nullptr;
};

enum class ConnState { kConnecting, kHandshake, kOpen };

// Received bytes not yet parsed: [start, end) of an uninitialised buffer that grows to
// the largest frame allowed (checked from the header before the body is awaited).
struct InBuffer {
  std::unique_ptr<uint8_t[]> bytes;
  size_t capacity = 0;
  size_t start = 0;
  size_t end = 0;
  size_t Available() const { return end - start; }
  const uint8_t* Data() const { return bytes.get() + start; }
  // Makes room for `free` more bytes after `end`, compacting first.
  void Reserve(size_t free) {
    if (capacity - end >= free) return;
    if (start > 0) {
      std::memmove(bytes.get(), bytes.get() + start, end - start);
      end -= start;
      start = 0;
      if (capacity - end >= free) return;
    }
    size_t grown = std::max(capacity * 2, end + free);
    std::unique_ptr<uint8_t[]> next(new uint8_t[grown]);
    if (end > 0) std::memcpy(next.get(), bytes.get(), end);
    bytes = std::move(next);
    capacity = grown;
  }
};

struct Conn {
  uint32_t id = 0;
  int fd = -1;
  bool outbound = false;
  int peer = -1;  // known at once for outbound, after authentication for inbound
  ConnState state = ConnState::kConnecting;
  int64_t started_ms = 0;
  InBuffer in;
  std::vector<uint8_t> out;  // bytes to send: [out_sent, out.size())
  size_t out_sent = 0;
  bool epollout = false;
  Mac send_mac;
  Mac recv_mac;
  uint64_t send_seq = 0;
  bool mac_failed = false;  // the main thread could not tag a frame: the I/O thread drops it
  uint64_t recv_seq = 0;
  uint64_t credit = 0;  // outbound: bytes we may still send; inbound: bytes the peer may still send
  bool pending = false;      // inbound and counted in the half-open limits
  bool unsettled = false;    // inbound: counted in unsettled_inbound_ until JavaScript has its closed event
  uint32_t handshake_frames = 0;  // handshake messages received (HELLO and PROOF inbound, CHALLENGE outbound)
  uint32_t remote_ip = 0;    // inbound: the remote IPv4 address (network order), 0 when unknown
#ifdef STELE_FABRIC
  fid_ep* ep = nullptr;
  fid_cq* cq = nullptr;
  fid_mr* mr = nullptr;
  void* desc = nullptr;
  int cq_fd = -1;
  std::unique_ptr<uint8_t[]> region;  // kRecvSlots receive chunks, then kSendSlots send chunks
  std::vector<size_t> free_send;
#endif
};

struct PeerAddress {
  std::string host;
  int port = 0;
  bool literal = false;  // host is a dotted IPv4 address, in `ip`: no lookup
  uint32_t ip = 0;       // network order
};

// Host-name lookups run off the I/O thread, each on a detached thread of its own that holds
// this state: getaddrinfo blocks for as long as the system's resolver takes (seconds, when a
// name server does not answer), and the I/O thread carries every peer's traffic; before
// 2026-12-02 one unanswered lookup held it, and with it the links to every other peer.
// Detached, so closing the transport never waits for a name server: a late answer lands
// here and is dropped with the state.
struct Lookups {
  struct Answer {
    int peer = -1;
    bool found = false;
    uint32_t ip = 0;    // network order, when found
    std::string error;  // when not found
  };
  std::mutex mu;
  std::vector<Answer> answers;  // under mu
  int wake_fd = -1;             // a duplicate of the transport's eventfd, closed with this state
  ~Lookups() {
    if (wake_fd >= 0) close(wake_fd);
  }
  Lookups() = default;
  Lookups(const Lookups&) = delete;
  Lookups& operator=(const Lookups&) = delete;
};

// Messages waiting to be sent, packed as in a DATA body: [u32 length][bytes]...
struct Chunk {
  std::vector<uint8_t> data;
  size_t at = 0;  // bytes already taken into frames
};

struct Peer {
  PeerAddress address;
  // Guarded by mu_.
  std::deque<Chunk> queue;
  uint64_t queued_bytes = 0;  // packed bytes not yet taken into frames
  Conn* direct = nullptr;  // the open outbound tcp connection, while the main thread may write to it
  // I/O thread only.
  uint32_t outbound = 0;  // current outbound connection id, 0 when none
  uint32_t inbound = 0;   // current authenticated inbound connection id
  int64_t backoff_ms = kBackoffMinMs;
  int64_t next_attempt_ms = 0;
  // Since when no connection with the peer has been open in either direction (the
  // transport's start, or the drop of the last open one); -1 while one is open (Reachable).
  // Past unreachable_drop_ms_, the queue is dropped (Timers, DropUnreachable). An inbound
  // connection counts: the peer is alive, and our own dial to it follows at once (Open).
  int64_t unreachable_since_ms = 0;
  bool looking_up = false;  // a lookup of address.host is running (Lookups)
  bool found = false;       // it answered found_ip, for the next dial only (each dial looks the name up again)
  uint32_t found_ip = 0;
};

struct Command {
  enum Kind { kHandshakeSend, kAuthorize, kReject, kCredit };
  explicit Command(Kind k) : kind(k) {}
  Kind kind;
  uint32_t conn = 0;
  int peer = -1;
  std::vector<uint8_t> bytes;  // handshake bytes, or send key (32) + receive key (32)
  std::string reason;
  uint64_t credit = 0;
};

struct Counters {
  std::atomic<uint64_t> bytes_sent{0}, bytes_received{0}, frames_sent{0}, frames_received{0};
  std::atomic<uint64_t> messages_sent{0}, messages_delivered{0}, frames_rejected{0};
  std::atomic<uint64_t> handshakes_refused{0}, connections_opened{0}, connect_failures{0}, send_refused{0};
  std::atomic<uint64_t> events_parked{0};
  std::atomic<uint64_t> direct_frames{0};  // DATA frames written by the main thread (TryDirect)
  std::atomic<uint64_t> loop_timeouts{0};  // I/O loop turns ended by the poll timeout, not an event
  std::atomic<uint64_t> receives_cut{0};   // a connection's input left for the next turn at its per-turn bound
  std::atomic<uint64_t> lookups{0}, lookup_failures{0};  // host-name lookups of peer addresses (Lookups)
  std::atomic<uint64_t> unreachable_dropped{0};  // queued messages dropped for a peer unreachable too long
  std::atomic<int64_t> credit_available[kPeersMax];
  std::atomic<int64_t> credit_granted[kPeersMax];
};

class NativeTransport : public Napi::ObjectWrap<NativeTransport> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Transport",
                       {
                           InstanceMethod("send", &NativeTransport::Send),
                           InstanceMethod("sendPacked", &NativeTransport::SendPacked),
                           InstanceMethod("queued", &NativeTransport::Queued),
                           InstanceMethod("injectFault", &NativeTransport::InjectFault),
                           InstanceMethod("handshakeSend", &NativeTransport::HandshakeSend),
                           InstanceMethod("authorize", &NativeTransport::Authorize),
                           InstanceMethod("reject", &NativeTransport::Reject),
                           InstanceMethod("credit", &NativeTransport::Credit),
                           InstanceMethod("counters", &NativeTransport::CountersMethod),
                           InstanceMethod("close", &NativeTransport::Close),
                           InstanceAccessor("port", &NativeTransport::Port, nullptr),
                       });
  }

  // new NativeTransport({ self, listenHost, listenPort, peers: [{host, port}], messageBytesMax,
  //                    windowBytes, sendQueueBytesMax, unreachableDropMs }, onEvent)
  explicit NativeTransport(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTransport>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "NativeTransport(options: object, onEvent: function)");
    Napi::Object o = info[0].As<Napi::Object>();
    self_ = o.Get("self").As<Napi::Number>().Int32Value();
    std::string listen_host = o.Get("listenHost").As<Napi::String>().Utf8Value();
    int listen_port = o.Get("listenPort").As<Napi::Number>().Int32Value();
    message_bytes_max_ = static_cast<uint64_t>(o.Get("messageBytesMax").As<Napi::Number>().DoubleValue());
    window_bytes_ = static_cast<uint64_t>(o.Get("windowBytes").As<Napi::Number>().DoubleValue());
    send_queue_bytes_max_ = static_cast<uint64_t>(o.Get("sendQueueBytesMax").As<Napi::Number>().DoubleValue());
    unreachable_drop_ms_ = static_cast<int64_t>(o.Get("unreachableDropMs").As<Napi::Number>().DoubleValue());
    // Largest DATA body the main thread frames and writes itself (TryDirect); 0: never.
    direct_bytes_max_ = static_cast<uint64_t>(o.Get("directBytesMax").As<Napi::Number>().DoubleValue());
    fabric_ = o.Get("backend").As<Napi::String>().Utf8Value() == "fabric";
#ifdef STELE_FABRIC
    provider_ = o.Get("provider").As<Napi::String>().Utf8Value();
#else
    if (fabric_) ThrowCoded(env, "TRANSPORT_BACKEND", "built without libfabric");
#endif
    Napi::Array peers = o.Get("peers").As<Napi::Array>();
    if (peers.Length() < 1 || peers.Length() > kPeersMax || self_ < 0 || self_ >= static_cast<int>(peers.Length()))
      ThrowCoded(env, "TRANSPORT_CONFIG", "self index outside the validator list, or too many validators");
    if (window_bytes_ < message_bytes_max_ + 4)
      ThrowCoded(env, "TRANSPORT_CONFIG", "windowBytes must hold one largest message and its length");
    for (uint32_t i = 0; i < peers.Length(); i++) {
      Napi::Object p = peers.Get(i).As<Napi::Object>();
      auto peer = std::make_unique<Peer>();
      peer->address.host = p.Get("host").As<Napi::String>().Utf8Value();
      peer->address.port = p.Get("port").As<Napi::Number>().Int32Value();
      in_addr literal{};
      if (inet_pton(AF_INET, peer->address.host.c_str(), &literal) == 1) {
        peer->address.literal = true;
        peer->address.ip = literal.s_addr;
      }
      peer->unreachable_since_ms = NowMs();
      peers_.push_back(std::move(peer));
      counters_.credit_available[i] = 0;
      counters_.credit_granted[i] = 0;
    }
    if (fabric_) {
#ifdef STELE_FABRIC
      try {
        FabricSetup(env, listen_host, listen_port);
      } catch (...) {
        FabricTeardown();  // nothing half-built stays open
        throw;
      }
#endif
    } else {
      Listen(env, listen_host, listen_port);
    }
    if (EVP_aes_256_gcm() == nullptr) ThrowCoded(env, "TRANSPORT_IO", "OpenSSL has no AES-256-GCM");
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_ < 0 || wake_ < 0) ThrowCoded(env, "TRANSPORT_IO", SysMessage("epoll/eventfd", "", errno));
    Watch(wake_, kWakeTag, EPOLLIN);
    lookups_ = std::make_shared<Lookups>();
    lookups_->wake_fd = fcntl(wake_, F_DUPFD_CLOEXEC, 0);
    if (lookups_->wake_fd < 0) ThrowCoded(env, "TRANSPORT_IO", SysMessage("dup of eventfd", "", errno));
    if (listen_fd_ >= 0) Watch(listen_fd_, kListenTag, EPOLLIN);
#ifdef STELE_FABRIC
    if (eq_fd_ >= 0) Watch(eq_fd_, kFabricEqTag, EPOLLIN);
#endif
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "stele.transport", kEventQueueMax, 1);
    thread_ = std::thread([this] { Loop(); });
    napi_add_env_cleanup_hook(env, CleanupHook, this);
  }

  ~NativeTransport() override {
    Stop();
  }

 private:
  // --- setup (main thread) ---------------------------------------------------------------

  void Listen(Napi::Env env, const std::string& host, int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
      ThrowCoded(env, "TRANSPORT_CONFIG", "listen host must be an IPv4 address: " + host);
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 64) != 0) {
      int err = errno;
      close(listen_fd_);
      listen_fd_ = -1;
      ThrowCoded(env, "TRANSPORT_IO", SysMessage("listen on", host + ":" + std::to_string(port), err));
    }
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    bound_port_ = ntohs(addr.sin_port);
  }

  void Watch(int fd, uint64_t tag, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  // --- I/O thread ----------------------------------------------------------------------

  void Loop() {
    epoll_event events[64];
    while (!stopping_.load()) {
      int64_t now = NowMs();
      int timeout = parked_.empty() ? 100 : 1;
      for (size_t p = 0; p < peers_.size(); p++) {
        if (static_cast<int>(p) == self_ || peers_[p]->outbound != 0) continue;
        timeout = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(timeout, peers_[p]->next_attempt_ms - now)));
      }
#ifdef STELE_FABRIC
      if (fabric_ && (fabric_backlog_ || !FabricMaySleep())) timeout = 0;
#endif
      int n = epoll_wait(epoll_, events, 64, timeout);
      if (n == 0 && timeout > 0) counters_.loop_timeouts++;
#ifdef STELE_FABRIC
      if (fabric_) FabricPoll();
#endif
      for (int i = 0; i < n; i++) {
        uint64_t tag = events[i].data.u64;
        if (tag == kFabricEqTag) continue;  // polled above
        if (tag == kWakeTag) {
          uint64_t value;
          while (read(wake_, &value, sizeof value) > 0) {
          }
          wake_pending_ = false;
        } else if (tag == kListenTag) {
          AcceptAll();
        } else {
          Handle(static_cast<uint32_t>(tag), events[i].events);
        }
      }
      if (lookups_running_ > 0) TakeLookups();
      RunCommands();
      for (size_t p = 0; p < peers_.size(); p++) Pump(static_cast<int>(p));
      FlushBatch();
      RetryParked();
      Timers();
    }
  }

  Conn* Find(uint32_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second.get();
  }

  void Post(std::unique_ptr<Event> event) {
    parked_.push_back(std::move(event));
    RetryParked();
  }

  void RetryParked() {
    while (!parked_.empty()) {
      Event* e = parked_.front().get();
      napi_status status = tsfn_.NonBlockingCall(e, [this](Napi::Env env, Napi::Function fn, Event* ev) {
        std::unique_ptr<Event> owned(ev);
        if (ev->settles) unsettled_inbound_.fetch_sub(1);
        if (env == nullptr) return;
        try {
          Deliver(env, fn, std::move(owned));
        } catch (const Napi::Error& e) {
          // A handler threw: it becomes an uncaught exception on the main thread. While
          // the environment is being torn down this is a no-op.
          e.ThrowAsJavaScriptException();
        }
      });
      if (status == napi_queue_full) {
        counters_.events_parked++;
        return;  // back-pressure: retried next turn of the loop
      }
      if (status == napi_ok) {
        (void)parked_.front().release();
      }
      parked_.pop_front();
    }
  }

  // Admits one more half-open inbound session from `ip`, or says no (bounded in total and
  // per address, so outsiders cannot hold every slot). The half-open count drops when this
  // thread closes a connection, but the main thread still has that connection's events to
  // handle (accepted, its HELLO: an X25519 key pair and a signature, closed): so inbound
  // connections are also counted until the main thread has taken their closed event, and
  // none is admitted while that count is at its bound. Connections that send a HELLO and close
  // at once can then queue at most that much work ahead of the validators' own batches
  // (before the review of 2026-11-30's finding was fixed, 2026-12-02, they queued without
  // limit while the main thread was busy).
  bool AdmitPending(uint32_t ip) {
    if (stopping_.load() || pending_handshakes_ >= kPendingHandshakesMax) return false;
    if (unsettled_inbound_.load() >= kPendingHandshakesMax + static_cast<int>(peers_.size())) return false;
    if (ip != 0 && pending_by_address_[ip] >= kPendingPerAddressMax) return false;
    return true;
  }

  void CountPending(Conn* c, uint32_t ip) {
    c->pending = true;
    c->unsettled = true;
    unsettled_inbound_.fetch_add(1);
    c->remote_ip = ip;
    pending_handshakes_++;
    if (ip != 0) pending_by_address_[ip]++;
  }

  void LeavePending(Conn* c) {
    if (!c->pending) return;
    c->pending = false;
    pending_handshakes_--;
    if (c->remote_ip != 0 && --pending_by_address_[c->remote_ip] == 0) pending_by_address_.erase(c->remote_ip);
  }

  void AcceptAll() {
    for (int taken = 0; taken < kAcceptsPerTurn; taken++) {
      sockaddr_in addr{};
      socklen_t length = sizeof addr;
      int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors: the pending connection stays queued and the listener stays
        // readable, so epoll would wake this thread at once, forever. Stop watching the
        // listener for a while instead (Timers watches it again; found in review).
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          epoll_ctl(epoll_, EPOLL_CTL_DEL, listen_fd_, nullptr);
          accept_paused_until_ms_ = NowMs() + kAcceptPauseMs;
        }
        return;
      }
      uint32_t ip = addr.sin_family == AF_INET ? addr.sin_addr.s_addr : 0;
      if (!AdmitPending(ip)) {
        close(fd);
        counters_.handshakes_refused++;
        continue;
      }
      Conn* c = AddConn(fd, false, -1);
      c->state = ConnState::kHandshake;
      CountPending(c, ip);
      auto e = std::make_unique<Event>();
      e->kind = kAccepted;
      e->conn = c->id;
      Post(std::move(e));
    }
  }

  // A fresh connection id. Ids are 32-bit and wrap after about 4.3 billion connections:
  // never one below 16 (the epoll tags of the wake fd, the listener and the fabric queue)
  // nor one still in use (found in review: a wrapped id replaced a live connection).
  uint32_t NextConnId() {
    do {
      next_conn_++;
      if (next_conn_ < 16) next_conn_ = 16;
    } while (conns_.count(next_conn_) != 0);
    return next_conn_;
  }

  Conn* AddConn(int fd, bool outbound, int peer) {
    auto c = std::make_unique<Conn>();
    c->id = NextConnId();
    c->fd = fd;
    c->outbound = outbound;
    c->peer = peer;
    c->started_ms = NowMs();
    Conn* raw = c.get();
    conns_[c->id] = std::move(c);
    if (fd < 0) return raw;  // fabric: the endpoint's completion queue is watched instead
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &kTcpUserTimeoutMs, sizeof kTcpUserTimeoutMs);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepIdleS, sizeof kKeepIdleS);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepIntervalS, sizeof kKeepIntervalS);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepCount, sizeof kKeepCount);
    Watch(fd, raw->id, EPOLLIN | EPOLLRDHUP | (outbound ? static_cast<uint32_t>(EPOLLOUT) : 0u));
    raw->epollout = outbound;
    return raw;
  }

  // Dials peer p: at once for a dotted address; for a host name, once a lookup started here
  // has answered (TakeLookups calls back when it has).
  void Connect(int p) {
    Peer& peer = *peers_[p];
    uint32_t ip = peer.address.ip;
    if (!peer.address.literal) {
      if (peer.looking_up) return;
      if (!peer.found) return StartLookup(p);
      ip = peer.found_ip;
      peer.found = false;
    }
#ifdef STELE_FABRIC
    if (fabric_) return FabricConnect(p, ip);
#endif
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(peer.address.port));
    addr.sin_addr.s_addr = ip;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
      close(fd);
      fd = -1;
    }
    if (fd < 0) {
      counters_.connect_failures++;
      Backoff(p);
      return;
    }
    Conn* c = AddConn(fd, true, p);
    c->state = ConnState::kConnecting;
    peer.outbound = c->id;
  }

  void StartLookup(int p) {
    Peer& peer = *peers_[p];
    std::shared_ptr<Lookups> shared = lookups_;
    std::string host = peer.address.host;
    counters_.lookups++;
    try {
      std::thread([shared, host, p] {
        Lookups::Answer answer;
        answer.peer = p;
        addrinfo hints{};
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* result = nullptr;
        int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
        if (rc == 0 && result != nullptr && result->ai_family == AF_INET) {
          answer.found = true;
          answer.ip = reinterpret_cast<const sockaddr_in*>(result->ai_addr)->sin_addr.s_addr;
        } else {
          answer.error = rc == 0 ? "no IPv4 address" : gai_strerror(rc);
        }
        if (result != nullptr) freeaddrinfo(result);
        std::lock_guard<std::mutex> lock(shared->mu);
        shared->answers.push_back(std::move(answer));
        uint64_t one = 1;
        ssize_t n = write(shared->wake_fd, &one, sizeof one);
        (void)n;
      }).detach();
    } catch (const std::system_error& e) {
      LookupFailed(p, std::string("no thread for the lookup: ") + e.what());
      return;
    }
    peer.looking_up = true;
    lookups_running_++;
    // Timers and the loop's timeout skip a peer whose lookup is running; the answer sets
    // the next attempt.
    peer.next_attempt_ms = INT64_MAX;
  }

  void TakeLookups() {
    std::vector<Lookups::Answer> answers;
    {
      std::lock_guard<std::mutex> lock(lookups_->mu);
      answers.swap(lookups_->answers);
    }
    for (Lookups::Answer& a : answers) {
      Peer& peer = *peers_[a.peer];
      peer.looking_up = false;
      lookups_running_--;
      if (!a.found) {
        LookupFailed(a.peer, a.error);
      } else {
        peer.found = true;
        peer.found_ip = a.ip;
        peer.next_attempt_ms = 0;  // dial in this turn's Timers
      }
    }
  }

  void LookupFailed(int p, const std::string& error) {
    counters_.lookup_failures++;  // not a connect failure too: no dial was made
    Backoff(p);
    auto e = std::make_unique<Event>();
    e->kind = kLookupFailed;
    e->peer = p;
    e->text = "host " + peers_[p]->address.host + ": " + error;
    Post(std::move(e));
  }

  // The next dial of peer p waits, twice as long (to a bound) after each failure in a row.
  void Backoff(int p) {
    Peer& peer = *peers_[p];
    std::uniform_int_distribution<int64_t> jitter(0, peer.backoff_ms / 2);
    peer.next_attempt_ms = NowMs() + peer.backoff_ms + jitter(rng_);
    peer.backoff_ms = std::min(kBackoffMaxMs, peer.backoff_ms * 2);
  }

  void Timers() {
    int64_t now = NowMs();
    if (accept_paused_until_ms_ != 0 && now >= accept_paused_until_ms_) {
      accept_paused_until_ms_ = 0;
      Watch(listen_fd_, kListenTag, EPOLLIN);
    }
    for (size_t p = 0; p < peers_.size(); p++) {
      if (static_cast<int>(p) == self_) continue;
      Peer& peer = *peers_[p];
      if (peer.unreachable_since_ms >= 0 && now - peer.unreachable_since_ms >= unreachable_drop_ms_) DropUnreachable(peer);
      if (peer.outbound != 0 || stopping_.load()) continue;
      if (now >= peer.next_attempt_ms) Connect(static_cast<int>(p));
    }
    std::vector<uint32_t> late;
    for (auto& [id, c] : conns_)
      if (c->state != ConnState::kOpen && now - c->started_ms > kHandshakeTimeoutMs) late.push_back(id);
    for (uint32_t id : late) Drop(id, "handshake timed out", true);
  }

  // Empties the queue of a peer that has had no open connection, either way, for
  // unreachable_drop_ms_. Consensus tolerates lost messages (it sends again, and a replica
  // that missed values catches up); what waited for a dead peer would otherwise stay, up to
  // the queue's bound (82 MiB at 4 MiB blocks), and be sent stale once it came back.
  // Before 2026-12-02 it stayed. Messages queued later wait at most one loop turn (100 ms)
  // before they go the same way, until a connection opens either way. I/O thread.
  void DropUnreachable(Peer& peer) {
    std::deque<Chunk> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (peer.queue.empty()) return;
      dropped.swap(peer.queue);
      peer.queued_bytes = 0;
    }
    // Counted and freed outside the lock: the main thread's sends to every peer take it.
    uint64_t count = 0;
    for (const Chunk& chunk : dropped) {
      for (size_t at = chunk.at; at < chunk.data.size();) {
        uint32_t length;
        std::memcpy(&length, chunk.data.data() + at, 4);
        at += 4 + static_cast<size_t>(length);
        count++;
      }
    }
    counters_.unreachable_dropped += count;
  }

  // Keeps unreachable_since_ms: -1 while a connection with the peer is open either way.
  void Reachable(Peer& peer) {
    Conn* out = peer.outbound == 0 ? nullptr : Find(peer.outbound);
    bool open = peer.inbound != 0 || (out != nullptr && out->state == ConnState::kOpen);
    if (open) peer.unreachable_since_ms = -1;
    else if (peer.unreachable_since_ms < 0) peer.unreachable_since_ms = NowMs();
  }

  // Closes a connection; `refused` counts it as a refused handshake when not yet open.
  void Drop(uint32_t id, const std::string& reason, bool refused) {
    Conn* c = Find(id);
    if (c == nullptr) return;
    if (c->state != ConnState::kOpen) {
      LeavePending(c);
      if (refused) counters_.handshakes_refused++;
    }
    if (c->outbound && c->peer >= 0) {
      std::lock_guard<std::mutex> lock(mu_);
      if (peers_[c->peer]->direct == c) peers_[c->peer]->direct = nullptr;
    }
    CloseIo(c);
    int peer = c->peer;
    bool outbound = c->outbound;
    if (peer >= 0) {
      Peer& p = *peers_[peer];
      if (outbound && p.outbound == id) {
        p.outbound = 0;
        if (c->state == ConnState::kOpen) p.backoff_ms = kBackoffMinMs;
        counters_.connect_failures++;
        Backoff(peer);
        counters_.credit_available[peer] = 0;
      }
      if (!outbound && p.inbound == id) p.inbound = 0;
      Reachable(p);
    }
    // Messages already read on this connection wait in the turn's batch: they go to
    // JavaScript first, so that none arrives after its connection's closed event (found in
    // review, 2026-12-01: good frames read with a refused one, or from an inbound connection
    // replaced in the same turn, came after it, and their credit was kept for a connection
    // gone). The batch may hold other connections' messages too; they keep their order.
    FlushBatch();
    auto e = std::make_unique<Event>();
    e->kind = kClosed;
    e->conn = id;
    e->peer = c->state == ConnState::kOpen ? peer : (outbound ? peer : -1);
    e->outbound = outbound;
    e->text = reason;
    e->settles = c->unsettled;
    conns_.erase(id);
    Post(std::move(e));
  }

  // Releases a connection's socket or fabric endpoint (I/O thread, or after it joined).
  void CloseIo(Conn* c) {
    if (c->fd >= 0) {
      epoll_ctl(epoll_, EPOLL_CTL_DEL, c->fd, nullptr);
      close(c->fd);
      c->fd = -1;
    }
#ifdef STELE_FABRIC
    if (c->cq_fd >= 0) epoll_ctl(epoll_, EPOLL_CTL_DEL, c->cq_fd, nullptr);
    c->cq_fd = -1;
    if (c->ep != nullptr) {
      fid_conns_.erase(&c->ep->fid);
      fi_close(&c->ep->fid);
      c->ep = nullptr;
    }
    if (c->cq != nullptr) fi_close(&c->cq->fid);
    if (c->mr != nullptr) fi_close(&c->mr->fid);
    c->cq = nullptr;
    c->mr = nullptr;
#endif
  }

  void Handle(uint32_t id, uint32_t events) {
    Conn* c = Find(id);
    if (c == nullptr) return;
#ifdef STELE_FABRIC
    if (fabric_) return;  // completion queues are polled every turn
#endif
    if (c->state == ConnState::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
        Drop(id, std::string("connect failed: ") + std::strerror(err), false);
        return;
      }
      if (!(events & EPOLLOUT)) return;
      if (SelfConnected(c->fd)) {
        // Dialing a local port nobody listens on can connect the socket to itself (TCP
        // simultaneous open), which would also keep the port from its real owner.
        Drop(id, "connected to itself", false);
        return;
      }
      c->state = ConnState::kHandshake;
      c->started_ms = NowMs();
      SetWriteInterest(c, false);
      auto e = std::make_unique<Event>();
      e->kind = kConnected;
      e->conn = id;
      e->peer = c->peer;
      e->outbound = true;
      Post(std::move(e));
      return;
    }
    if (events & EPOLLOUT) {
      if (!Flush(c)) return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) Receive(c);
  }

  static bool SelfConnected(int fd) {
    sockaddr_in local{}, remote{};
    socklen_t a = sizeof local, b = sizeof remote;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &a) != 0) return false;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &b) != 0) return false;
    return local.sin_port == remote.sin_port && local.sin_addr.s_addr == remote.sin_addr.s_addr;
  }

  void SetWriteInterest(Conn* c, bool want) {
    if (c->fd < 0 || c->epollout == want) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.u64 = c->id;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c->fd, &ev);
    c->epollout = want;
  }

  // Writes what is buffered; false when the connection was dropped (I/O thread, mu_ not held).
  bool Flush(Conn* c) {
#ifdef STELE_FABRIC
    if (fabric_) return FabricFlush(c);
#endif
    int err;
    bool more;
    {
      // Only an outbound connection can be a peer's `direct` one, written by the main thread.
      std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
      if (c->outbound) lock.lock();
      err = WriteOut(c);
      more = c->out_sent < c->out.size();
    }
    if (err != 0) {
      Drop(c->id, std::string("send: ") + std::strerror(err), false);
      return false;
    }
    // A direct send after the lock was released wakes this thread, which comes back here.
    SetWriteInterest(c, more);
    return true;
  }

  // Writes buffered bytes until done or the socket is full; 0, or the errno that failed
  // (the caller drops the connection). Under mu_; either thread.
  int WriteOut(Conn* c) {
    while (c->out_sent < c->out.size()) {
      ssize_t n = send(c->fd, c->out.data() + c->out_sent, c->out.size() - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno == EINTR) continue;
        return errno;
      }
      c->out_sent += static_cast<size_t>(n);
      counters_.bytes_sent += static_cast<uint64_t>(n);
    }
    c->out.clear();
    c->out_sent = 0;
    return 0;
  }

  // Appends one frame to the connection's output (tagged unless it is a handshake frame).
  bool Frame(Conn* c, uint8_t type, const uint8_t* body, size_t length) {
    size_t at = c->out.size();
    bool tagged = type != kTypeHandshake;
    c->out.resize(at + kHeaderBytes + length + (tagged ? kTagBytes : 0));
    uint8_t* header = c->out.data() + at;
    uint32_t length32 = static_cast<uint32_t>(length);
    std::memcpy(header, &length32, 4);
    header[4] = type;
    header[5] = header[6] = header[7] = 0;
    uint64_t seq = tagged ? c->send_seq++ : 0;
    std::memcpy(header + 8, &seq, 8);
    if (length > 0) std::memcpy(header + kHeaderBytes, body, length);
    if (tagged && !c->send_mac.Tag(header, header + kHeaderBytes, length, header + kHeaderBytes + length)) return false;
    counters_.frames_sent++;
    return true;
  }

  // Moves queued messages of peer `p` into DATA frames while credit allows, then writes.
  // Framing happens under mu_ (memcpy and MAC, no call out), so chunks never move and a
  // direct send from the main thread cannot interleave with a frame.
  // Frames stops at about kFrameBodyTarget of unsent output, so on TCP this goes round
  // again while the socket takes everything: otherwise the rest of a long queue waited for
  // the next event or the loop's 100 ms timeout (hidden while every consumed batch sent
  // back a CREDIT frame, which woke this thread). After kPumpRoundsMax rounds the loop
  // comes back at once (Wake), so one busy peer cannot starve the others.
  void Pump(int p) {
    if (p == self_) return;
    Peer& peer = *peers_[p];
    Conn* c = peer.outbound == 0 ? nullptr : Find(peer.outbound);
    if (c == nullptr || c->state != ConnState::kOpen) return;
    for (int round = 0;; round++) {
      bool mac_failed;
      bool pending;
      bool queued;
      {
        std::lock_guard<std::mutex> lock(mu_);
        mac_failed = c->mac_failed || !Frames(c, p, peer);
        pending = c->out_sent < c->out.size();
        queued = !peer.queue.empty();
      }
      if (mac_failed) {
        Drop(c->id, "MAC failure", false);
        return;
      }
      if (!pending) return;  // nothing to write: the queue is empty or credit is short
      if (!Flush(c)) return;  // dropped
#ifdef STELE_FABRIC
      if (fabric_) return;  // completions drive the fabric backend: it polls every turn
#endif
      if (!queued || c->epollout) return;  // all sent, or the socket is full (EPOLLOUT resumes)
      if (round + 1 >= kPumpRoundsMax) {
        Wake();
        return;
      }
    }
  }

  // Pump's framing, under mu_; false on a MAC failure.
  bool Frames(Conn* c, int p, Peer& peer) {
    while (c->out.size() - c->out_sent < kFrameBodyTarget) {
      size_t frame_at = c->out.size();
      c->out.resize(frame_at + kHeaderBytes);
      size_t body = 0;
      uint64_t count = 0;
      {
        while (!peer.queue.empty()) {
          Chunk& chunk = peer.queue.front();
          size_t end = chunk.at;
          while (end < chunk.data.size()) {
            uint32_t length;
            std::memcpy(&length, chunk.data.data() + end, 4);
            size_t next = 4 + static_cast<size_t>(length);
            size_t so_far = body + (end - chunk.at);
            if (so_far + next > c->credit) break;
            if (so_far > 0 && so_far + next > kFrameBodyTarget) break;
            end += next;
            count++;
          }
          size_t run = end - chunk.at;
          if (run > 0) {
            c->out.insert(c->out.end(), chunk.data.begin() + static_cast<ptrdiff_t>(chunk.at),
                          chunk.data.begin() + static_cast<ptrdiff_t>(end));
            body += run;
            chunk.at = end;
            peer.queued_bytes -= run;
          }
          if (chunk.at < chunk.data.size()) break;  // stopped by credit or the frame size
          peer.queue.pop_front();
        }
      }
      if (body == 0) {
        c->out.resize(frame_at);
        break;
      }
      c->credit -= body;
      counters_.credit_available[p] = static_cast<int64_t>(c->credit);
      counters_.messages_sent += count;
      if (!SealFrame(c, frame_at, kTypeData, body)) return false;
      ApplyFault(c, p, frame_at);
    }
    return true;
  }

  // Test hook (injectFault): damages the frame just sealed at `frame_at`, as an attacker
  // on the path would, so the receiver's checks can be tested on every backend.
  void ApplyFault(Conn* c, int p, size_t frame_at) {
    int fault = faults_[p].exchange(0);
    if (fault == 0) return;
    if (fault == 1) {
      c->out[frame_at + kHeaderBytes] ^= 0x01;  // flip a bit of the body: the tag no longer matches
    } else if (fault == 2) {
      std::vector<uint8_t> copy(c->out.begin() + static_cast<ptrdiff_t>(frame_at), c->out.end());
      c->out.insert(c->out.end(), copy.begin(), copy.end());  // the same frame again: a replay
    } else if (fault == 3) {
      c->out[c->out.size() - 1] ^= 0x80;  // a bit of the tag itself
    }
  }

  // Writes the header of the frame whose body is already in `out` at frame_at + 16, and
  // appends its tag.
  bool SealFrame(Conn* c, size_t frame_at, uint8_t type, size_t length) {
    c->out.resize(c->out.size() + kTagBytes);
    uint8_t* header = c->out.data() + frame_at;
    uint32_t length32 = static_cast<uint32_t>(length);
    std::memcpy(header, &length32, 4);
    header[4] = type;
    header[5] = header[6] = header[7] = 0;
    uint64_t seq = c->send_seq++;
    std::memcpy(header + 8, &seq, 8);
    counters_.frames_sent++;
    return c->send_mac.Tag(header, header + kHeaderBytes, length, header + kHeaderBytes + length);
  }

  // Reads and parses what the socket has, for at most kReceiveRoundsMax reads: one sender
  // that keeps the socket full must not keep this thread from commands, timers and the
  // other peers (epoll is level-triggered, so the rest is read next turn).
  void Receive(Conn* c) {
    uint32_t id = c->id;
    for (int round = 0; round < kReceiveRoundsMax; round++) {
      if (c->in.Available() == 0) c->in.start = c->in.end = 0;
      size_t want = 1u << 18;
      if (c->in.Available() >= kHeaderBytes) {
        uint32_t length;
        std::memcpy(&length, c->in.Data(), 4);
        size_t total = kHeaderBytes + length + kTagBytes;  // bounded by Parse's header check
        if (total > c->in.Available()) want = std::max(want, total - c->in.Available());
      }
      c->in.Reserve(want);
      ssize_t n = recv(c->fd, c->in.bytes.get() + c->in.end, want, MSG_DONTWAIT);
      if (n == 0) {
        Drop(id, "peer closed the connection", false);
        return;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        Drop(id, std::string("recv: ") + std::strerror(errno), false);
        return;
      }
      c->in.end += static_cast<size_t>(n);
      counters_.bytes_received += static_cast<uint64_t>(n);
      if (!Parse(c)) return;  // dropped
      if (static_cast<size_t>(n) < want) return;  // drained for now
    }
    counters_.receives_cut++;  // the rest waits for the next turn
  }

  // Parses every whole frame buffered; false when the connection was dropped.
  bool Parse(Conn* c) {
    for (;;) {
      size_t available = c->in.Available();
      if (available < kHeaderBytes) break;
      const uint8_t* header = c->in.Data();
      uint32_t length;
      std::memcpy(&length, header, 4);
      uint8_t type = header[4];
      bool open = c->state == ConnState::kOpen;
      std::string problem;
      if (header[5] != 0 || header[6] != 0 || header[7] != 0) problem = "bad frame header";
      else if (!open && type != kTypeHandshake) problem = "data before authentication";
      else if (!open && length > kHandshakeBytesMax) problem = "handshake message too large";
      else if (open && type == kTypeData && (c->outbound || length > window_bytes_)) problem = "unexpected data frame";
      else if (open && type == kTypeCredit && (!c->outbound || length != 8)) problem = "unexpected credit frame";
      else if (open && type != kTypeData && type != kTypeCredit) problem = "unknown frame type";
      if (!problem.empty()) return Refuse(c, problem);
      size_t total = kHeaderBytes + length + (open ? kTagBytes : 0);
      if (available < total) break;
      const uint8_t* body = header + kHeaderBytes;
      counters_.frames_received++;
      if (!open) {
        // The handshake has two messages for an acceptor (HELLO, PROOF) and one for a dialer
        // (CHALLENGE): anything more is refused before it costs an event (found in review:
        // a stream of empty handshake frames, unauthenticated, queued events without bound).
        if (++c->handshake_frames > (c->outbound ? 1u : 2u)) return Refuse(c, "more handshake messages than the handshake has");
        auto e = std::make_unique<Event>();
        e->kind = kHandshakeMessage;
        e->conn = c->id;
        e->bytes.assign(body, body + length);
        Post(std::move(e));
      } else {
        uint64_t seq;
        std::memcpy(&seq, header + 8, 8);
        uint8_t tag[kTagBytes];
        if (!c->recv_mac.Tag(header, body, length, tag) || CRYPTO_memcmp(tag, body + length, kTagBytes) != 0)
          return Refuse(c, "frame integrity tag mismatch");
        if (seq != c->recv_seq) return Refuse(c, "frame out of sequence (replayed or dropped)");
        c->recv_seq++;
        if (type == kTypeCredit) {
          uint64_t grant;
          std::memcpy(&grant, body, 8);
          bool beyond;
          {
            std::lock_guard<std::mutex> lock(mu_);  // the main thread spends this credit in TryDirect
            beyond = grant == 0 || grant > window_bytes_ || c->credit + grant > window_bytes_;
            if (!beyond) {
              c->credit += grant;
              counters_.credit_available[c->peer] = static_cast<int64_t>(c->credit);
            }
          }
          if (beyond) return Refuse(c, grant == 0 ? "empty credit" : "credit beyond the window");
          // Credit may unblock queued messages: Pump runs later in this turn of the loop.
        } else if (!Unpack(c, body, length, available)) {
          return false;
        }
      }
      c->in.start += total;
    }
    return true;
  }

  // Checks a DATA body completely before delivering any of it.
  // `buffered`: bytes received and not yet parsed, from this frame's header on.
  bool Unpack(Conn* c, const uint8_t* body, uint32_t length, size_t buffered) {
    if (length > c->credit) return Refuse(c, "peer sent beyond its credit");
    size_t at = 0, count = 0;
    while (at < length) {
      uint32_t m;
      if (length - at < 4) return Refuse(c, "truncated message length");
      std::memcpy(&m, body + at, 4);
      if (m > message_bytes_max_ || length - at - 4 < m) return Refuse(c, "message length out of bounds");
      at += 4 + m;
      count++;
    }
    if (count == 0) return Refuse(c, "empty data frame");
    c->credit -= length;
    counters_.credit_granted[c->peer] = static_cast<int64_t>(c->credit);
    // An arena never grows (growing copies it, and its new pages fault in): it is sized
    // once, to the whole frames this receive buffered (at most kBatchBytesFlush unless one
    // frame is larger; a frame still arriving is not counted), and a frame that does not
    // fit starts the next batch. Small frames thus get small arenas, which matters because
    // a view kept by JavaScript keeps its whole arena.
    size_t payload = length - 4 * count;
    if (batch_ && batch_->bytes.capacity() - batch_->bytes.size() < payload) FlushBatch();
    if (!batch_) {
      batch_ = std::make_unique<Event>();
      batch_->kind = kMessages;
      size_t whole = WholeFrames(body - kHeaderBytes, buffered);
      batch_->bytes.reserve(std::max(payload, std::min(whole, kBatchBytesFlush)));
    }
    size_t left = count;  // messages of this frame not yet in a batch
    if (batch_->meta.capacity() < batch_->meta.size() + 4 * std::min(left, kBatchMessagesMax))
      batch_->meta.reserve(std::max(batch_->meta.size() + 4 * std::min(left, kBatchMessagesMax), 2 * batch_->meta.capacity()));
    for (at = 0; at < length; left--) {
      if (batch_->meta.size() >= 4 * kBatchMessagesMax) {
        // Full by count: the rest of this frame starts the next batch, its arena sized to
        // the payload left so that it never grows.
        FlushBatch();
        batch_ = std::make_unique<Event>();
        batch_->kind = kMessages;
        batch_->bytes.reserve((length - at) - 4 * left);
        batch_->meta.reserve(4 * std::min(left, kBatchMessagesMax));
      }
      uint32_t m;
      std::memcpy(&m, body + at, 4);
      size_t offset = batch_->bytes.size();
      batch_->bytes.insert(batch_->bytes.end(), body + at + 4, body + at + 4 + m);
      batch_->meta.insert(batch_->meta.end(), {static_cast<uint32_t>(c->peer), c->id, static_cast<uint32_t>(offset), m});
      at += 4 + m;
    }
    counters_.messages_delivered += count;
    if (batch_->bytes.size() >= kBatchBytesFlush) FlushBatch();
    return true;
  }

  // Bytes of the complete tagged frames at `at` (an open connection's buffer), up to `available`.
  static size_t WholeFrames(const uint8_t* at, size_t available) {
    size_t whole = 0;
    while (available - whole >= kHeaderBytes) {
      uint32_t length;
      std::memcpy(&length, at + whole, 4);
      size_t total = kHeaderBytes + static_cast<size_t>(length) + kTagBytes;
      if (available - whole < total) break;
      whole += total;
    }
    return whole;
  }

  void FlushBatch() {
    if (batch_ && !batch_->meta.empty()) Post(std::move(batch_));
    batch_.reset();
  }

  bool Refuse(Conn* c, const std::string& reason) {
    if (c->state == ConnState::kOpen) counters_.frames_rejected++;
    Drop(c->id, reason, true);
    return false;
  }

  void RunCommands() {
    std::deque<Command> commands;
    {
      std::lock_guard<std::mutex> lock(mu_);
      commands.swap(commands_);
    }
    for (Command& cmd : commands) {
      Conn* c = Find(cmd.conn);
      if (c == nullptr) continue;  // closed meanwhile
      switch (cmd.kind) {
        case Command::kHandshakeSend:
          if (c->state == ConnState::kHandshake && Frame(c, kTypeHandshake, cmd.bytes.data(), cmd.bytes.size()))
            Flush(c);
          break;
        case Command::kReject:
          Drop(c->id, cmd.reason, true);
          break;
        case Command::kAuthorize:
          Open(c, cmd);
          break;
        case Command::kCredit:
          if (c->state == ConnState::kOpen && !c->outbound) GrantCredit(c, cmd.credit);
          break;
      }
    }
  }

  void Open(Conn* c, const Command& cmd) {
    if (c->state != ConnState::kHandshake || cmd.peer < 0 || cmd.peer >= static_cast<int>(peers_.size()) ||
        cmd.peer == self_) {
      Drop(c->id, "authorization for a bad peer", true);
      return;
    }
    if (!c->send_mac.SetKey(cmd.bytes.data(), 32) || !c->recv_mac.SetKey(cmd.bytes.data() + 32, 32)) {
      Drop(c->id, "cannot set MAC keys", true);
      return;
    }
    Peer& peer = *peers_[cmd.peer];
    if (!c->outbound) {
      LeavePending(c);
      // The newest authenticated connection from a peer replaces an older one.
      if (peer.inbound != 0 && peer.inbound != c->id) Drop(peer.inbound, "replaced by a newer connection", false);
      peer.inbound = c->id;
      // The peer is back (it dialled us): dial it now rather than when a backoff of up to
      // 2 s ends, so that what we send it is neither held nor dropped meanwhile (review of
      // 2026-12-02).
      if (peer.outbound == 0 && !peer.looking_up) {
        peer.backoff_ms = kBackoffMinMs;
        peer.next_attempt_ms = 0;
      }
    } else {
      peer.backoff_ms = kBackoffMinMs;
    }
    c->peer = cmd.peer;
    c->state = ConnState::kOpen;
    Reachable(peer);
    if (c->outbound && !fabric_) {
      std::lock_guard<std::mutex> lock(mu_);
      peer.direct = c;
    }
    counters_.connections_opened++;
    auto e = std::make_unique<Event>();
    e->kind = kOpen;
    e->conn = c->id;
    e->peer = cmd.peer;
    e->outbound = c->outbound;
    Post(std::move(e));
    if (!c->outbound) GrantCredit(c, window_bytes_);
  }

  void GrantCredit(Conn* c, uint64_t bytes) {
    bytes = std::min<uint64_t>(bytes, window_bytes_ - c->credit);
    if (bytes == 0) return;
    c->credit += bytes;
    counters_.credit_granted[c->peer] = static_cast<int64_t>(c->credit);
    uint8_t body[8];
    std::memcpy(body, &bytes, 8);
    if (!Frame(c, kTypeCredit, body, 8)) {
      Drop(c->id, "MAC failure", false);
      return;
    }
    Flush(c);
  }

  void Wake() {
    if (wake_pending_.exchange(true)) return;
    uint64_t one = 1;
    ssize_t n = write(wake_, &one, sizeof one);
    (void)n;
  }

  void Push(Command command) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      commands_.push_back(std::move(command));
    }
    Wake();
  }


  // --- fabric backend ------------------------------------------------------------------

#ifdef STELE_FABRIC
  static std::string FiError(const char* what, int rc) { return std::string(what) + ": " + fi_strerror(-rc); }

  // Main thread, at open: fabric, domain, event queue and a listening passive endpoint.
  void FabricSetup(Napi::Env env, const std::string& host, int port) {
    hints_ = fi_allocinfo();
    hints_->ep_attr->type = FI_EP_MSG;
    hints_->caps = FI_MSG;
    hints_->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_ALLOCATED | FI_MR_VIRT_ADDR | FI_MR_PROV_KEY;
    hints_->domain_attr->threading = FI_THREAD_DOMAIN;
    hints_->fabric_attr->prov_name = strdup(provider_.c_str());
    std::string service = std::to_string(port);
    int rc = fi_getinfo(FI_VERSION(1, 9), host.c_str(), service.c_str(), FI_SOURCE, hints_, &listen_info_);
    if (rc != 0) ThrowCoded(env, "TRANSPORT_BACKEND", FiError(("fi_getinfo provider " + provider_).c_str(), rc));
    if ((rc = fi_fabric(listen_info_->fabric_attr, &fabric_fid_, nullptr)) != 0) ThrowCoded(env, "TRANSPORT_IO", FiError("fi_fabric", rc));
    fi_eq_attr eq_attr{};
    eq_attr.size = 256;
    eq_attr.wait_obj = FI_WAIT_FD;
    if ((rc = fi_eq_open(fabric_fid_, &eq_attr, &eq_, nullptr)) != 0) ThrowCoded(env, "TRANSPORT_IO", FiError("fi_eq_open", rc));
    if ((rc = fi_domain(fabric_fid_, listen_info_, &domain_, nullptr)) != 0) ThrowCoded(env, "TRANSPORT_IO", FiError("fi_domain", rc));
    if ((rc = fi_passive_ep(fabric_fid_, listen_info_, &pep_, nullptr)) != 0) ThrowCoded(env, "TRANSPORT_IO", FiError("fi_passive_ep", rc));
    if ((rc = fi_pep_bind(pep_, &eq_->fid, 0)) != 0) ThrowCoded(env, "TRANSPORT_IO", FiError("fi_pep_bind", rc));
    if ((rc = fi_listen(pep_)) != 0) ThrowCoded(env, "TRANSPORT_IO", FiError(("fi_listen on " + host + ":" + service).c_str(), rc));
    sockaddr_storage addr{};
    size_t length = sizeof addr;
    if ((rc = fi_getname(&pep_->fid, &addr, &length)) != 0) ThrowCoded(env, "TRANSPORT_IO", FiError("fi_getname", rc));
    bound_port_ = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (fi_control(&eq_->fid, FI_GETWAIT, &eq_fd_) != 0) eq_fd_ = -1;  // then it is polled
    // Dial through the same domain as the listener.
    free(hints_->domain_attr->name);
    hints_->domain_attr->name = strdup(listen_info_->domain_attr->name);
  }

  void FabricTeardown() {
    if (pep_ != nullptr) fi_close(&pep_->fid);
    if (eq_ != nullptr) fi_close(&eq_->fid);
    if (domain_ != nullptr) fi_close(&domain_->fid);
    if (fabric_fid_ != nullptr) fi_close(&fabric_fid_->fid);
    if (listen_info_ != nullptr) fi_freeinfo(listen_info_);
    if (hints_ != nullptr) fi_freeinfo(hints_);
    pep_ = nullptr;
    eq_ = nullptr;
    domain_ = nullptr;
    fabric_fid_ = nullptr;
    listen_info_ = nullptr;
    hints_ = nullptr;
  }

  static void* SlotContext(size_t slot, bool send) { return reinterpret_cast<void*>(((slot + 1) << 1) | (send ? 1u : 0u)); }

  // Creates the endpoint of `c` for `info`, with its completion queue and registered
  // buffers, and posts every receive. False on failure (the caller drops the connection).
  std::string FabricEndpoint(Conn* c, fi_info* info) {
    int rc;
    fi_cq_attr cq_attr{};
    cq_attr.size = kRecvSlots + kSendSlots + 8;
    cq_attr.format = FI_CQ_FORMAT_MSG;
    cq_attr.wait_obj = FI_WAIT_FD;
    if ((rc = fi_cq_open(domain_, &cq_attr, &c->cq, nullptr)) != 0) return FiError("fi_cq_open", rc);
    if ((rc = fi_endpoint(domain_, info, &c->ep, nullptr)) != 0) return FiError("fi_endpoint", rc);
    fid_conns_[&c->ep->fid] = c->id;
    if ((rc = fi_ep_bind(c->ep, &eq_->fid, 0)) != 0) return FiError("fi_ep_bind", rc);
    if ((rc = fi_ep_bind(c->ep, &c->cq->fid, FI_TRANSMIT | FI_RECV)) != 0) return FiError("fi_ep_bind", rc);
    if ((rc = fi_enable(c->ep)) != 0) return FiError("fi_enable", rc);
    size_t bytes = (kRecvSlots + kSendSlots) * kChunkBytes;
    c->region.reset(new uint8_t[bytes]);
    if (listen_info_->domain_attr->mr_mode & FI_MR_LOCAL) {
      // Keys are chosen here (connection ids are unique) unless the provider picks them.
      if ((rc = fi_mr_reg(domain_, c->region.get(), bytes, FI_SEND | FI_RECV, 0, c->id, 0, &c->mr, nullptr)) != 0)
        return FiError("fi_mr_reg", rc);
      c->desc = fi_mr_desc(c->mr);
    }
    for (size_t slot = 0; slot < kRecvSlots; slot++) {
      ssize_t posted = fi_recv(c->ep, c->region.get() + slot * kChunkBytes, kChunkBytes, c->desc, 0, SlotContext(slot, false));
      if (posted != 0) return FiError("fi_recv", static_cast<int>(posted));
    }
    c->free_send.clear();
    for (size_t slot = 0; slot < kSendSlots; slot++) c->free_send.push_back(slot);
    if (fi_control(&c->cq->fid, FI_GETWAIT, &c->cq_fd) == 0) Watch(c->cq_fd, c->id, EPOLLIN);
    else c->cq_fd = -1;
    return std::string();
  }

  // `ip` is the peer's address, looked up already (Connect): the numeric host makes
  // fi_getinfo's own resolution immediate.
  void FabricConnect(int p, uint32_t ip) {
    Peer& peer = *peers_[p];
    fi_info* info = nullptr;
    std::string service = std::to_string(peer.address.port);
    char node[INET_ADDRSTRLEN] = {0};
    in_addr addr{};
    addr.s_addr = ip;
    inet_ntop(AF_INET, &addr, node, sizeof node);
    if (fi_getinfo(FI_VERSION(1, 9), node, service.c_str(), FI_NUMERICHOST, hints_, &info) != 0) {
      counters_.connect_failures++;
      Backoff(p);
      return;
    }
    Conn* c = AddConn(-1, true, p);
    c->state = ConnState::kConnecting;
    peer.outbound = c->id;
    std::string problem = FabricEndpoint(c, info);
    int rc = problem.empty() ? fi_connect(c->ep, info->dest_addr, nullptr, 0) : 0;
    if (rc != 0) problem = FiError("fi_connect", rc);
    fi_freeinfo(info);
    if (!problem.empty()) Drop(c->id, "fabric connect failed: " + problem, false);
  }

  uint32_t ConnOfFid(fid_t fid) {
    auto it = fid_conns_.find(fid);
    return it == fid_conns_.end() ? 0 : it->second;
  }

  // Connection management events, then every connection's completions.
  void FabricPoll() {
    fabric_backlog_ = false;
    for (int taken = 0;; taken++) {
      if (taken == kAcceptsPerTurn) {
        fabric_backlog_ = true;  // the queue may hold more: the loop comes back without sleeping
        break;
      }
      uint32_t event = 0;
      alignas(fi_eq_cm_entry) uint8_t raw[sizeof(fi_eq_cm_entry) + 64];
      auto* entry = reinterpret_cast<fi_eq_cm_entry*>(raw);
      ssize_t rc = fi_eq_read(eq_, &event, raw, sizeof raw, 0);
      if (rc == -FI_EAGAIN) break;
      if (rc == -FI_EAVAIL) {
        fi_eq_err_entry err{};
        if (fi_eq_readerr(eq_, &err, 0) < 0) break;
        uint32_t id = ConnOfFid(err.fid);
        if (id != 0) Drop(id, std::string("fabric: ") + fi_strerror(err.err), false);
        continue;
      }
      if (rc < 0) break;
      if (event == FI_CONNREQ) {
        uint32_t ip = 0;
        if (entry->info->dest_addr != nullptr && entry->info->addr_format == FI_SOCKADDR_IN)
          ip = static_cast<const sockaddr_in*>(entry->info->dest_addr)->sin_addr.s_addr;
        if (!AdmitPending(ip)) {
          fi_reject(pep_, entry->info->handle, nullptr, 0);
          fi_freeinfo(entry->info);
          counters_.handshakes_refused++;
          continue;
        }
        Conn* c = AddConn(-1, false, -1);
        c->state = ConnState::kConnecting;
        CountPending(c, ip);
        std::string problem = FabricEndpoint(c, entry->info);
        int rc = problem.empty() ? fi_accept(c->ep, nullptr, 0) : 0;
        if (rc != 0) problem = FiError("fi_accept", rc);
        fi_freeinfo(entry->info);
        if (!problem.empty()) Drop(c->id, "fabric accept failed: " + problem, true);
      } else if (event == FI_CONNECTED) {
        Conn* c = Find(ConnOfFid(entry->fid));
        if (c == nullptr || c->state != ConnState::kConnecting) continue;
        c->state = ConnState::kHandshake;
        c->started_ms = NowMs();
        auto e = std::make_unique<Event>();
        e->kind = c->outbound ? kConnected : kAccepted;
        e->conn = c->id;
        e->peer = c->outbound ? c->peer : -1;
        e->outbound = c->outbound;
        Post(std::move(e));
      } else if (event == FI_SHUTDOWN) {
        uint32_t id = ConnOfFid(entry->fid);
        if (id != 0) Drop(id, "peer closed the connection", false);
      }
    }
    std::vector<uint32_t> ids;
    ids.reserve(conns_.size());
    for (auto& [id, c] : conns_) ids.push_back(id);
    for (uint32_t id : ids) FabricProgress(id);
  }

  void FabricProgress(uint32_t id) {
    Conn* c = Find(id);
    if (c == nullptr || c->cq == nullptr) return;
    bool received = false, sent = false;
    // At most kFabricReceivesPerTurn receive completions per turn (8 MiB), then parse: a
    // sender at line rate must not hold this thread here, nor grow the connection's buffer
    // before Parse has checked a frame header (before 2026-12-02 the queue was read until
    // empty; review of 2026-11-30). The rest is read next turn, which comes at once
    // (fabric_backlog_).
    size_t receives = 0;
    while (receives < kFabricReceivesPerTurn) {
      fi_cq_msg_entry entries[16];
      ssize_t n = fi_cq_read(c->cq, entries, 16);
      if (n == -FI_EAGAIN) break;
      if (n == -FI_EAVAIL) {
        fi_cq_err_entry err{};
        fi_cq_readerr(c->cq, &err, 0);
        Drop(id, std::string("fabric completion: ") + fi_strerror(err.err), false);
        return;
      }
      if (n < 0) {
        Drop(id, FiError("fi_cq_read", static_cast<int>(n)), false);
        return;
      }
      for (ssize_t i = 0; i < n; i++) {
        uintptr_t context = reinterpret_cast<uintptr_t>(entries[i].op_context);
        size_t slot = (context >> 1) - 1;
        if (context & 1) {
          c->free_send.push_back(slot);
          sent = true;
          continue;
        }
        size_t length = entries[i].len;
        STELE_INVARIANT(slot < kRecvSlots && length <= kChunkBytes, "fabric receive completion in bounds");
        c->in.Reserve(length);
        std::memcpy(c->in.bytes.get() + c->in.end, c->region.get() + slot * kChunkBytes, length);
        c->in.end += length;
        counters_.bytes_received += length;
        received = true;
        receives++;
        if (fi_recv(c->ep, c->region.get() + slot * kChunkBytes, kChunkBytes, c->desc, 0, SlotContext(slot, false)) != 0) {
          Drop(id, "fabric: cannot repost a receive", false);
          return;
        }
      }
    }
    if (receives >= kFabricReceivesPerTurn) {
      fabric_backlog_ = true;
      counters_.receives_cut++;
    }
    if (received) {
      if (c->state == ConnState::kConnecting) {
        Drop(id, "data before the connection was established", true);
        return;
      }
      if (!Parse(c)) return;  // dropped
    }
    if (sent || c->out_sent < c->out.size()) FabricFlush(c);
  }

  // Sends buffered output in chunks through free registered send buffers.
  bool FabricFlush(Conn* c) {
    while (c->out_sent < c->out.size() && !c->free_send.empty() && c->ep != nullptr) {
      size_t n = std::min(kChunkBytes, c->out.size() - c->out_sent);
      size_t slot = c->free_send.back();
      uint8_t* buffer = c->region.get() + (kRecvSlots + slot) * kChunkBytes;
      std::memcpy(buffer, c->out.data() + c->out_sent, n);
      ssize_t rc = fi_send(c->ep, buffer, n, c->desc, 0, SlotContext(slot, true));
      if (rc == -FI_EAGAIN) break;  // progress on the next turn
      if (rc != 0) {
        Drop(c->id, FiError("fi_send", static_cast<int>(rc)), false);
        return false;
      }
      c->free_send.pop_back();
      c->out_sent += n;
      counters_.bytes_sent += n;
    }
    if (c->out_sent == c->out.size()) {
      c->out.clear();
      c->out_sent = 0;
    }
    return true;
  }

  // True when nothing needs polling: no send in flight, no output waiting, and libfabric
  // agrees that its wait objects will signal progress.
  bool FabricMaySleep() {
    std::vector<fid*> fids;
    if (eq_fd_ < 0) return false;
    fids.push_back(&eq_->fid);
    for (auto& [id, c] : conns_) {
      if (c->cq == nullptr) continue;
      if (c->cq_fd < 0 || c->free_send.size() < kSendSlots || c->out_sent < c->out.size()) return false;
      fids.push_back(&c->cq->fid);
    }
    return fi_trywait(fabric_fid_, fids.data(), static_cast<int>(fids.size())) == FI_SUCCESS;
  }
#else
  void FabricTeardown() {}
#endif

  // --- main thread: delivery and methods ------------------------------------------------

  void Deliver(Napi::Env env, Napi::Function fn, std::unique_ptr<Event> e) {
    if (stopped_) return;
    Napi::HandleScope scope(env);
    Napi::Value payload = env.Undefined();
    Napi::Value meta = env.Undefined();
    if (e->kind == kMessages) {
      auto* arena = new std::vector<uint8_t>(std::move(e->bytes));
      Napi::ArrayBuffer buffer;
      if (arena->empty()) {
        delete arena;
        buffer = Napi::ArrayBuffer::New(env, 0);
      } else {
        buffer = Napi::ArrayBuffer::New(
            env, arena->data(), arena->size(), [](Napi::Env, void*, std::vector<uint8_t>* a) { delete a; }, arena);
      }
      payload = buffer;
      Napi::Uint32Array m = Napi::Uint32Array::New(env, e->meta.size());
      std::memcpy(m.Data(), e->meta.data(), e->meta.size() * 4);
      meta = m;
    } else if (e->kind == kHandshakeMessage) {
      payload = Napi::Buffer<uint8_t>::Copy(env, e->bytes.data(), e->bytes.size());
    } else if (!e->text.empty()) {
      payload = Napi::String::New(env, e->text);
    }
    // MakeCallback, not Call: the handler runs in a callback scope, as Node's own I/O
    // callbacks do, so the promise jobs and process.nextTick callbacks it queues (the
    // staged sends, the consensus driver's next hand-off) run as soon as it returns. Node
    // 20 appeared to drain them after a plain Call too (no measured difference); this
    // makes it explicit rather than relying on it.
    Napi::AsyncContext context(env, "stele.transport");
    fn.MakeCallback(env.Global(),
                    {Napi::Number::New(env, e->kind), Napi::Number::New(env, e->conn), Napi::Number::New(env, e->peer),
                     Napi::Boolean::New(env, e->outbound), payload, meta},
                    context);
  }

  void CheckOpen(Napi::Env env) {
    if (stopped_) ThrowCoded(env, "TRANSPORT_CLOSED", "the transport is closed");
  }

  int PeerArgument(Napi::Env env, const Napi::Value& v) {
    int p = v.As<Napi::Number>().Int32Value();
    if (p < 0 || p >= static_cast<int>(peers_.size()) || p == self_)
      ThrowCoded(env, "TRANSPORT_UNKNOWN_PEER", "no peer " + std::to_string(p));
    return p;
  }

  // Queues a packed chunk unless the peer's queue would pass its bound.
  bool Enqueue(int p, Chunk chunk) {
    Peer& peer = *peers_[p];
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (peer.queued_bytes + chunk.data.size() > send_queue_bytes_max_) {
        counters_.send_refused++;
        return false;
      }
      peer.queued_bytes += chunk.data.size();
      peer.queue.push_back(std::move(chunk));
    }
    Wake();
    return true;
  }

  // send(peer: number, bytes: Uint8Array): boolean; false when the peer's queue is full.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int p = PeerArgument(env, info[0]);
    Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
    if (data.ByteLength() > message_bytes_max_)
      ThrowCoded(env, "TRANSPORT_TOO_LARGE",
                 "message of " + std::to_string(data.ByteLength()) + " bytes exceeds " + std::to_string(message_bytes_max_));
    Chunk chunk;
    chunk.data.resize(4 + data.ByteLength());
    uint32_t length = static_cast<uint32_t>(data.ByteLength());
    std::memcpy(chunk.data.data(), &length, 4);
    if (length > 0) std::memcpy(chunk.data.data() + 4, data.Data(), length);
    return Napi::Boolean::New(env, Enqueue(p, std::move(chunk)));
  }

  // sendPacked(peer, packed: Uint8Array of [u32 length][bytes]...): boolean; all or none.
  Napi::Value SendPacked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int p = PeerArgument(env, info[0]);
    Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
    const uint8_t* bytes = data.Data();
    size_t total = data.ByteLength();
    uint64_t count = 0;
    for (size_t at = 0; at < total; count++) {
      uint32_t length;
      if (total - at < 4) ThrowCoded(env, "TRANSPORT_CONFIG", "packed messages are truncated");
      std::memcpy(&length, bytes + at, 4);
      if (length > message_bytes_max_ || total - at - 4 < length)
        ThrowCoded(env, "TRANSPORT_TOO_LARGE", "a packed message exceeds its bounds");
      at += 4 + length;
    }
    if (total == 0) return Napi::Boolean::New(env, true);
    if (TryDirect(p, bytes, total, count)) return Napi::Boolean::New(env, true);
    Chunk chunk;
    chunk.data.assign(bytes, bytes + total);
    return Napi::Boolean::New(env, Enqueue(p, std::move(chunk)));
  }

  // Main thread: when peer `p`'s open tcp connection has nothing queued or buffered ahead
  // and credit for the body, frames `packed` as one DATA frame and writes it to the socket
  // here. Whatever the socket does not take stays buffered for the I/O thread, which is
  // woken to finish it (and to drop the connection on a write error). False: use the queue.
  bool TryDirect(int p, const uint8_t* packed, size_t total, uint64_t count) {
    if (total > direct_bytes_max_) return false;
    Peer& peer = *peers_[p];
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Conn* c = peer.direct;
      if (c == nullptr || c->mac_failed || !peer.queue.empty() || c->out_sent != c->out.size() || total > c->credit ||
          faults_[p].load() != 0)
        return false;
      STELE_INVARIANT(c->out.empty() && c->out_sent == 0, "a direct frame starts an empty output buffer");
      c->out.resize(kHeaderBytes + total);
      std::memcpy(c->out.data() + kHeaderBytes, packed, total);
      if (!SealFrame(c, 0, kTypeData, total)) {
        c->mac_failed = true;
        c->out.clear();
        Wake();
        return false;  // queued instead, and sent on the next connection
      }
      c->credit -= total;
      counters_.credit_available[p] = static_cast<int64_t>(c->credit);
      counters_.messages_sent += count;
      counters_.direct_frames++;
      // A write error leaves the bytes buffered: the I/O thread's flush meets it and drops.
      (void)WriteOut(c);
      wake = c->out_sent < c->out.size();
    }
    if (wake) Wake();
    return true;
  }

  // queued(peer): packed bytes waiting for that peer.
  Napi::Value Queued(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int p = PeerArgument(env, info[0]);
    std::lock_guard<std::mutex> lock(mu_);
    return Napi::Number::New(env, static_cast<double>(peers_[p]->queued_bytes));
  }

  // injectFault(peer, kind): tests only; 1 flip a body bit, 2 replay the frame, 3 flip a tag bit.
  Napi::Value InjectFault(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int p = PeerArgument(env, info[0]);
    int kind = info[1].As<Napi::Number>().Int32Value();
    if (kind < 1 || kind > 3) throw Napi::RangeError::New(env, "fault kind 1..3");
    faults_[p] = kind;
    return env.Undefined();
  }

  Napi::Value HandshakeSend(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
    if (data.ByteLength() > kHandshakeBytesMax) throw Napi::RangeError::New(env, "handshake message too large");
    Command c(Command::kHandshakeSend);
    c.conn = info[0].As<Napi::Number>().Uint32Value();
    c.bytes.assign(data.Data(), data.Data() + data.ByteLength());
    Push(std::move(c));
    return env.Undefined();
  }

  // authorize(conn, peer, keys: Uint8Array(64) = send key || receive key)
  Napi::Value Authorize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    Napi::Uint8Array keys = info[2].As<Napi::Uint8Array>();
    if (keys.ByteLength() != 64) throw Napi::RangeError::New(env, "keys must be 64 bytes");
    Command c(Command::kAuthorize);
    c.conn = info[0].As<Napi::Number>().Uint32Value();
    c.peer = info[1].As<Napi::Number>().Int32Value();
    c.bytes.assign(keys.Data(), keys.Data() + 64);
    Push(std::move(c));
    return env.Undefined();
  }

  Napi::Value Reject(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    Command c(Command::kReject);
    c.conn = info[0].As<Napi::Number>().Uint32Value();
    c.reason = info[1].As<Napi::String>().Utf8Value();
    Push(std::move(c));
    return env.Undefined();
  }

  // credit(conn, bytes): the receiver consumed `bytes` delivered on `conn`.
  Napi::Value Credit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (stopped_) return env.Undefined();
    Command c(Command::kCredit);
    c.conn = info[0].As<Napi::Number>().Uint32Value();
    c.credit = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
    Push(std::move(c));
    return env.Undefined();
  }

  Napi::Value CountersMethod(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("bytesSent", static_cast<double>(counters_.bytes_sent));
    o.Set("bytesReceived", static_cast<double>(counters_.bytes_received));
    o.Set("framesSent", static_cast<double>(counters_.frames_sent));
    o.Set("framesReceived", static_cast<double>(counters_.frames_received));
    o.Set("messagesSent", static_cast<double>(counters_.messages_sent));
    o.Set("messagesDelivered", static_cast<double>(counters_.messages_delivered));
    o.Set("framesRejected", static_cast<double>(counters_.frames_rejected));
    o.Set("handshakesRefused", static_cast<double>(counters_.handshakes_refused));
    o.Set("inboundUnsettled", static_cast<double>(unsettled_inbound_.load()));
    o.Set("connectionsOpened", static_cast<double>(counters_.connections_opened));
    o.Set("connectFailures", static_cast<double>(counters_.connect_failures));
    o.Set("sendRefused", static_cast<double>(counters_.send_refused));
    o.Set("eventsParked", static_cast<double>(counters_.events_parked));
    o.Set("directFrames", static_cast<double>(counters_.direct_frames));
    o.Set("loopTimeouts", static_cast<double>(counters_.loop_timeouts));
    o.Set("receivesCut", static_cast<double>(counters_.receives_cut));
    o.Set("lookups", static_cast<double>(counters_.lookups));
    o.Set("lookupFailures", static_cast<double>(counters_.lookup_failures));
    o.Set("unreachableDropped", static_cast<double>(counters_.unreachable_dropped));
    Napi::Array queued = Napi::Array::New(env, peers_.size());
    Napi::Array credit = Napi::Array::New(env, peers_.size());
    Napi::Array granted = Napi::Array::New(env, peers_.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t p = 0; p < peers_.size(); p++) {
        queued.Set(p, static_cast<double>(peers_[p]->queued_bytes));
        credit.Set(p, static_cast<double>(counters_.credit_available[p]));
        granted.Set(p, static_cast<double>(counters_.credit_granted[p]));
      }
    }
    o.Set("sendQueueBytes", queued);
    o.Set("sendCredit", credit);
    o.Set("receiveCredit", granted);
    return o;
  }

  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), bound_port_); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    auto deferred = Napi::Promise::Deferred::New(info.Env());
    deferred.Resolve(info.Env().Undefined());
    return deferred.Promise();
  }

  // Joins the I/O thread and releases every socket and the thread-safe function. Touches
  // no JavaScript value: safe from the finalizer and the cleanup hook.
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    uint64_t one = 1;
    ssize_t n = write(wake_, &one, sizeof one);
    (void)n;
    if (thread_.joinable()) thread_.join();
    for (auto& peer : peers_) peer->direct = nullptr;
    for (auto& [id, c] : conns_) CloseIo(c.get());
    FabricTeardown();
    conns_.clear();
    parked_.clear();
    batch_.reset();
    if (listen_fd_ >= 0) close(listen_fd_);
    if (epoll_ >= 0) close(epoll_);
    if (wake_ >= 0) close(wake_);
    listen_fd_ = epoll_ = wake_ = -1;
    tsfn_.Release();
    napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
  }

  static void CleanupHook(void* arg) {
    auto* self = static_cast<NativeTransport*>(arg);
    if (self->stopped_) return;
    self->stopped_ = true;
    self->stopping_ = true;
    uint64_t one = 1;
    ssize_t n = write(self->wake_, &one, sizeof one);
    (void)n;
    if (self->thread_.joinable()) self->thread_.join();
    for (auto& peer : self->peers_) peer->direct = nullptr;
    for (auto& [id, c] : self->conns_) self->CloseIo(c.get());
    self->FabricTeardown();
    self->conns_.clear();
    if (self->listen_fd_ >= 0) close(self->listen_fd_);
    if (self->epoll_ >= 0) close(self->epoll_);
    if (self->wake_ >= 0) close(self->wake_);
    self->listen_fd_ = self->epoll_ = self->wake_ = -1;
    self->tsfn_.Release();
  }

  int self_ = 0;
  uint64_t message_bytes_max_ = 0;
  uint64_t window_bytes_ = 0;
  uint64_t send_queue_bytes_max_ = 0;
  int64_t unreachable_drop_ms_ = 0;
  uint64_t direct_bytes_max_ = 0;
  int listen_fd_ = -1;
  int64_t accept_paused_until_ms_ = 0;  // I/O thread: the listener is unwatched until then (0: watched)
  int bound_port_ = 0;
  int epoll_ = -1;
  int wake_ = -1;
  bool fabric_ = false;
#ifdef STELE_FABRIC
  std::string provider_;
  fi_info* hints_ = nullptr;
  fi_info* listen_info_ = nullptr;
  fid_fabric* fabric_fid_ = nullptr;
  fid_domain* domain_ = nullptr;
  fid_eq* eq_ = nullptr;
  fid_pep* pep_ = nullptr;
  int eq_fd_ = -1;
  std::unordered_map<fid_t, uint32_t> fid_conns_;  // endpoint -> connection id (I/O thread)
#endif
  std::vector<std::unique_ptr<Peer>> peers_;
  bool stopped_ = false;  // main thread
  std::atomic<bool> stopping_{false};
  std::atomic<bool> wake_pending_{false};
  std::mutex mu_;
  std::deque<Command> commands_;  // under mu_
  Counters counters_;
  std::atomic<int> faults_[kPeersMax] = {};  // injectFault, consumed by the next DATA frame to that peer
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  // I/O thread only.
  std::unordered_map<uint32_t, std::unique_ptr<Conn>> conns_;
  uint32_t next_conn_ = 15;  // the last id handed out
  int pending_handshakes_ = 0;
  std::shared_ptr<Lookups> lookups_;  // also held by each running lookup's thread
  int lookups_running_ = 0;
  bool fabric_backlog_ = false;  // a fabric connection left completions for the next turn
  // Inbound connections admitted whose closed event the main thread has not yet taken
  // (AdmitPending): raised here, lowered on the main thread.
  std::atomic<int> unsettled_inbound_{0};
  std::unordered_map<uint32_t, int> pending_by_address_;
  std::deque<std::unique_ptr<Event>> parked_;
  std::unique_ptr<Event> batch_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace

Napi::Function TransportClass(Napi::Env env) { return NativeTransport::Define(env); }

}  // namespace stele
