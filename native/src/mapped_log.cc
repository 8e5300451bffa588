// The mapped append-only log (docs/native.md, "Mapped log").
//
// Threads: every method of MappedLog runs on the JavaScript main thread. One persist
// thread per open log makes ranges durable (msync, or cache-line flush + fence on DAX) and
// never touches N-API: it publishes the highest durable sequence number under a mutex and
// posts at most one pending notification through a thread-safe function; the main thread
// resolves the waiting promises. close(), the finalizer and the environment cleanup hook
// all stop and join the thread.
//
// Ownership: each segment's mapping is held by shared_ptr. The log, queued persist ranges
// and every ArrayBuffer handed to JavaScript hold a reference, so a view stays
// memory-safe after truncate or close; the mapping is unmapped when the last holder goes.
#include "mapped_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace stele {
namespace {

constexpr char kMagic[8] = {'S', 'T', 'E', 'L', 'E', 'S', 'E', 'G'};
constexpr uint32_t kFormat = 1;
constexpr uint64_t kHeaderBytes = 64;
// The segment header's durable mark: a u64 offset at byte 48 and the CRC-32C of those 8
// bytes at 56. Every record below the mark was durable before the mark was written, so
// recovery never cuts below it (docs/native.md, "Recovery"). Zeros (segments written
// before the mark existed) fail the CRC and mean "no mark".
constexpr uint64_t kMarkOffset = 48;
constexpr uint64_t kMarkCrcOffset = 56;
// Bytes 60..63 of a segment's header: kSuccessor once the next segment exists and is
// durable (written after it, so a crash between leaves no marker: never a false alarm).
// A last segment found with it has lost its successor: before 2026-12-02 a log whose last
// segment file was gone opened shorter without a word (review of 2026-12-02). Zero in
// segments written before, and cleared before truncate removes the segments after it.
constexpr uint64_t kSuccessorOffset = 60;
constexpr uint32_t kSuccessor = 0x43435553;  // "SUCC"
constexpr uint64_t kFrameBytes = 8;
constexpr uint64_t kAlign = 8;
constexpr uint64_t kSegmentBytesMin = 1ull << 16;
constexpr uint64_t kSegmentBytesMax = 1ull << 31;
constexpr uint64_t kSegmentsMax = 1ull << 20;
constexpr uint64_t kRecordsMax = 1ull << 40;
constexpr size_t kCacheLine = 64;
// How far past the last persisted byte the persist thread prefaults pages for writing, so
// appends take fewer page faults on the main thread.
constexpr uint64_t kPopulateAheadBytes = 4ull << 20;
// How much durable data behind the newest durable byte stays mapped in this process; older
// pages are dropped from its page tables (MADV_DONTNEED: the data stays in the file and
// the page cache, and a later read faults it back in). Without this every byte ever
// written counts in the validator's resident memory. Released in steps of kReleaseStepBytes.
constexpr uint64_t kResidentBehindBytes = 4ull << 20;
constexpr uint64_t kReleaseStepBytes = 2ull << 20;
// Inline persists ask the persist thread for upkeep (prefault, release) this often.
constexpr uint64_t kUpkeepStepBytes = 1ull << 20;

uint64_t Align(uint64_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

// --- fault injection, for tests only (docs/native.md, "Fault injection") -----------------
//
// injectLogFault(op, errno, skip) arms one failure of a system call of every log in the
// process: the next call of `op` after `skip` successful ones fails with `errno` instead of
// running. Nothing but the tests calls it; unarmed, each checked call costs one relaxed
// atomic load. Thread-safe (the persist thread's msync is checked too).
enum FaultOp { kFaultMsync, kFaultFallocate, kFaultFsyncDirectory, kFaultHeaderWrite, kFaultOps };
constexpr const char* kFaultNames[kFaultOps] = {"msync", "fallocate", "fsyncDirectory", "headerWrite"};

std::atomic<int> g_faults_armed{0};
std::mutex g_faults_mu;
struct Fault {
  bool armed = false;
  int err = 0;
  uint32_t skip = 0;
};
Fault g_faults[kFaultOps];

// The errno to fail `op` with now, or -1 to run it (for kFaultHeaderWrite, 0 means a short
// write). Consumes the armed fault.
int InjectedFault(FaultOp op) {
  if (g_faults_armed.load(std::memory_order_relaxed) == 0) return -1;
  std::lock_guard<std::mutex> lock(g_faults_mu);
  Fault& f = g_faults[op];
  if (!f.armed) return -1;
  if (f.skip > 0) {
    f.skip--;
    return -1;
  }
  f.armed = false;
  g_faults_armed.fetch_sub(1, std::memory_order_relaxed);
  return f.err;
}

struct Mapping {
  int fd = -1;
  uint8_t* base = nullptr;
  uint64_t bytes = 0;
  bool dax = false;
  uint64_t populated = 0;  // persist thread only: pages prefaulted for writing up to here
  uint64_t durable_to = 0;  // persist thread, or an inline persist under mu_ while it is idle
  uint64_t mark = 0;        // the durable mark in this segment's header (same owners as durable_to)
  uint64_t released = 0;    // persist thread (main thread before it starts): pages dropped below here
  ~Mapping() {
    if (base != nullptr) munmap(base, bytes);
    if (fd >= 0) close(fd);
  }
};

struct Segment {
  std::shared_ptr<Mapping> map;
  uint64_t first_record = 0;
  uint64_t used = kHeaderBytes;  // end of the last whole record
  std::string path;
  Napi::Reference<Napi::ArrayBuffer> buffer;  // weak: the cached view over the mapping
};

struct Range {
  std::shared_ptr<Mapping> map;
  uint64_t from;
  uint64_t to;
  uint64_t seq;
};

#if defined(__x86_64__)
__attribute__((target("clwb"))) void FlushLinesClwb(uint8_t* from, uint8_t* to) {
  for (uint8_t* p = from; p < to; p += kCacheLine) _mm_clwb(p);
  _mm_sfence();
}
__attribute__((target("clflushopt"))) void FlushLinesClflushopt(uint8_t* from, uint8_t* to) {
  for (uint8_t* p = from; p < to; p += kCacheLine) _mm_clflushopt(p);
  _mm_sfence();
}
void FlushLinesClflush(uint8_t* from, uint8_t* to) {
  for (uint8_t* p = from; p < to; p += kCacheLine) _mm_clflush(p);
  _mm_mfence();
}
#endif

// The durable mark stored in a segment's header, or 0 when there is none (bad CRC, or a
// value that cannot be an offset of this segment).
uint64_t ReadMark(const uint8_t* base, uint64_t size) {
  uint64_t mark;
  uint32_t crc;
  std::memcpy(&mark, base + kMarkOffset, 8);
  std::memcpy(&crc, base + kMarkCrcOffset, 4);
  if (crc != Crc32c(0, base + kMarkOffset, 8) || mark < kHeaderBytes || mark > size || mark % kAlign != 0) return 0;
  return mark;
}

void StoreMark(Mapping& map, uint64_t mark) {
  std::memcpy(map.base + kMarkOffset, &mark, 8);
  uint32_t crc = Crc32c(0, map.base + kMarkOffset, 8);
  std::memcpy(map.base + kMarkCrcOffset, &crc, 4);
  map.mark = mark;
}

// msync of [from, to) (from rounded down to its page), or a cache-line flush on DAX; no
// bookkeeping. Returns 0 or an errno.
int SyncRange(const Mapping& map, uint64_t from, uint64_t to) {
  if (to <= from) return 0;
  if (map.dax) {
#if defined(__x86_64__)
    uint8_t* start = map.base + (from & ~(kCacheLine - 1));
    uint8_t* end = map.base + to;
    if (__builtin_cpu_supports("clwb")) FlushLinesClwb(start, end);
    else if (__builtin_cpu_supports("clflushopt")) FlushLinesClflushopt(start, end);
    else FlushLinesClflush(start, end);
    return 0;
#endif
  }
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t start = from & ~(page - 1);
  int injected = InjectedFault(kFaultMsync);
  if (injected >= 0) return injected;
  if (msync(map.base + start, to - start, MS_SYNC) != 0) return errno;
  return 0;
}

// Makes [from, to) of a mapping durable. Runs on the persist thread, or on the main thread
// while the persist thread is idle (inline persists, open, truncate). Returns 0 or an errno.
// With the range it makes the header's durable mark durable too, moved up to what earlier
// calls made durable (never to what this call is making durable: the writeback of one
// msync has no order, so a mark covering its own range could land before the range does).
int Durable(Mapping& map, uint64_t from, uint64_t to) {
  if (to <= from) return 0;
  bool mark = map.durable_to > map.mark;
  if (mark) StoreMark(map, map.durable_to);
  if (map.dax && mark) {
    int err = SyncRange(map, kMarkOffset, kMarkCrcOffset + 4);
    if (err != 0) return err;
    return SyncRange(map, from, to);
  }
  // One msync from the header page when the mark moved: it writes back only dirty pages, so
  // the clean ones between cost a walk of the page cache's dirty tags, not I/O.
  return SyncRange(map, mark ? 0 : from, to);
}

// Drops the pages of [released, to) from this process's page tables (best effort; on a
// shared file mapping this never loses data, written or not: MADV_DONTNEED moves a dirty
// page's state to the page cache, and msync still writes it).
bool DropPages(const Mapping& map, uint64_t from, uint64_t to) {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  from = (from + page - 1) & ~(page - 1);
  to = std::min(to, map.bytes) & ~(page - 1);
  return to > from && madvise(map.base + from, to - from, MADV_DONTNEED) == 0;
}

void Release(Mapping& map, uint64_t to) {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  to = std::min(to, map.bytes) & ~(page - 1);
  if (to > map.released && DropPages(map, map.released, to)) map.released = to;
}

// Offset just past the last non-zero byte of the segment, rounded up to the alignment.
uint64_t DataEnd(const uint8_t* base, uint64_t size) {
  uint64_t at = size;
  while (at > kHeaderBytes) {
    uint64_t word;
    std::memcpy(&word, base + at - 8, 8);
    if (word != 0) break;
    at -= 8;
  }
  return at;
}

bool PaddingZero(const uint8_t* base, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to; i++)
    if (base[i] != 0) return false;
  return true;
}

uint32_t FrameChecksum(uint32_t length, const uint8_t* payload) {
  uint8_t length_bytes[4];
  std::memcpy(length_bytes, &length, 4);
  return Crc32c(Crc32c(0, length_bytes, 4), payload, length);
}

void FsyncDir(Napi::Env env, const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowCoded(env, "STORE_IO", SysMessage("open directory", dir, errno), dir);
  int injected = InjectedFault(kFaultFsyncDirectory);
  int rc = injected >= 0 ? -1 : fsync(fd);
  int err = injected >= 0 ? injected : errno;
  close(fd);
  if (rc != 0) ThrowCoded(env, "STORE_IO", SysMessage("fsync directory", dir, err), dir);
}

class MappedLog : public Napi::ObjectWrap<MappedLog> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MappedLog",
                       {
                           InstanceMethod("append", &MappedLog::Append),
                           InstanceMethod("persist", &MappedLog::Persist),
                           InstanceMethod("verify", &MappedLog::Verify),
                           InstanceMethod("segment", &MappedLog::SegmentMethod),
                           InstanceMethod("positions", &MappedLog::Positions),
                           InstanceMethod("truncate", &MappedLog::Truncate),
                           InstanceMethod("close", &MappedLog::Close),
                           InstanceMethod("stats", &MappedLog::Stats),
                           InstanceAccessor("length", &MappedLog::Length, nullptr),
                       });
  }

  // new MappedLog(dir, segmentBytes, recordBytesMax, readOnly, recordBytesMin)
  explicit MappedLog(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MappedLog>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 5 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsBoolean() ||
        !info[4].IsNumber())
      throw Napi::TypeError::New(env, "MappedLog(dir: string, segmentBytes: number, recordBytesMax: number, readOnly: boolean, recordBytesMin: number)");
    read_only_ = info[3].As<Napi::Boolean>().Value();
    dir_ = info[0].As<Napi::String>().Utf8Value();
    double segment = info[1].As<Napi::Number>().DoubleValue();
    double record = info[2].As<Napi::Number>().DoubleValue();
    if (!(segment >= kSegmentBytesMin && segment <= kSegmentBytesMax) || static_cast<uint64_t>(segment) % 4096 != 0)
      throw Napi::RangeError::New(env, "segmentBytes must be a multiple of 4096 in [64 KiB, 2 GiB]");
    segment_bytes_ = static_cast<uint64_t>(segment);
    if (!(record >= 0 && record <= static_cast<double>(segment_bytes_ - kHeaderBytes - kFrameBytes)))
      throw Napi::RangeError::New(env, "recordBytesMax must fit one segment after its header and frame");
    record_bytes_max_ = static_cast<uint64_t>(record);
    // Read-only opens (audits) only: a validator must never refuse its own log over it.
    double record_min = info[4].As<Napi::Number>().DoubleValue();
    if (!(record_min >= 0 && record_min <= record) || record_min != static_cast<double>(static_cast<uint64_t>(record_min)) ||
        (record_min > 0 && !read_only_))
      throw Napi::RangeError::New(env, "recordBytesMin must be an integer in [0, recordBytesMax], and 0 unless read-only");
    record_bytes_min_ = static_cast<uint64_t>(record_min);
    Recover(env);
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                          "stele.persist", 2, 1);
    tsfn_.Unref(env);
    worker_ = std::thread([this] { WorkerLoop(); });
    napi_add_env_cleanup_hook(env, CleanupHook, this);
  }

  // The finalizer (a log collected without close()): stop as close() does, but abort the
  // thread-safe function, so a notification the persist thread queued is never called with
  // this object, which is freed when this returns (found in review, 2026-12-01: it ran
  // OnDurable on freed memory). close() keeps the object alive for it instead.
  ~MappedLog() override {
    if (stopped_) return;
    Stop(true);
    napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
  }

 private:
  // --- recovery -------------------------------------------------------------------------

  std::string SegmentPath(uint64_t index) const {
    char name[32];
    std::snprintf(name, sizeof name, "/%010llu.seg", static_cast<unsigned long long>(index));
    return dir_ + name;
  }

  void Recover(Napi::Env env) {
    if (!read_only_ && mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
      ThrowCoded(env, "STORE_IO", SysMessage("mkdir", dir_, errno), dir_);
    DIR* d = opendir(dir_.c_str());
    if (d == nullptr) ThrowCoded(env, "STORE_IO", SysMessage("opendir", dir_, errno), dir_);
    std::vector<uint64_t> found;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() == 18 && name.compare(10, 8, ".seg.tmp") == 0) {
        if (!read_only_) unlink((dir_ + "/" + name).c_str());  // a segment whose creation did not finish
        continue;
      }
      if (name.size() != 14 || name.compare(10, 4, ".seg") != 0) continue;
      if (!std::all_of(name.begin(), name.begin() + 10, [](char c) { return c >= '0' && c <= '9'; })) continue;
      found.push_back(std::stoull(name.substr(0, 10)));
    }
    closedir(d);
    std::sort(found.begin(), found.end());
    // Segments 0..present-1 are there; segment `present`, if any file follows, is missing.
    size_t present = 0;
    while (present < found.size() && found[present] == present) present++;
    if (present < found.size() && !read_only_)
      ThrowCoded(env, "STORE_CORRUPT", "segment " + std::to_string(present) + " is missing", SegmentPath(present));
    if (present > kSegmentsMax) ThrowCoded(env, "STORE_CORRUPT", "too many segments", dir_);
    // A read-only open (audits) reads the segments before damage found here, as it does the
    // records before a bad one, and records the damage at the first record it affects: the
    // audit verifies those blocks and names the first bad one (found in review, 2026-11-30:
    // "segment 1 is missing" was thrown as damage to record 0, and a bad header in segment
    // k >= 1 as damage before any block was checked).
    for (size_t i = 0; i < present && corrupt_reason_.empty(); i++) OpenSegment(env, i, i + 1 == found.size());
    if (present < found.size() && corrupt_reason_.empty())
      CorruptAt(SegmentPath(present), 0, "segment " + std::to_string(present) + " is missing");
    // The last segment says a successor was made (kSuccessor): its file is gone, and with
    // it every record from there on.
    if (present == found.size() && !segments_.empty() && corrupt_reason_.empty()) {
      uint32_t successor;
      std::memcpy(&successor, segments_.back().map->base + kSuccessorOffset, 4);
      // A read-only open (an audit of a running validator) may have listed the files just
      // before the writer made the next segment and marked this one: the file is there now.
      struct stat next;
      bool grown = read_only_ && stat(SegmentPath(present).c_str(), &next) == 0;
      // (A writable open refused this in OpenSegment, before it reserved or cut anything.)
      STELE_INVARIANT(read_only_ || successor != kSuccessor, "a lost successor is refused before the scan");
      if (successor == kSuccessor && !grown) CorruptAt(SegmentPath(present), 0, LostSuccessor(present));
    }
    // A writable log's next-to-last segment records its successor, which is there: a crash
    // just before the marker was written, a truncate cut short, or a log from before
    // markers left it without (second review of 2026-12-02).
    if (!read_only_ && segments_.size() >= 2) {
      Segment& previous = segments_[segments_.size() - 2];
      uint32_t successor;
      std::memcpy(&successor, previous.map->base + kSuccessorOffset, 4);
      if (successor != kSuccessor) {
        int err = SetSuccessor(previous, kSuccessor);
        if (err != 0) ThrowCoded(env, "STORE_IO", SysMessage("msync", previous.path, err), previous.path);
      }
    }
    if (segments_.empty()) {
      if (!read_only_) {
        CreateSegment(env, 0);
      } else if (corrupt_reason_.empty()) {
        ThrowCoded(env, "STORE_IO", "no log segments in " + dir_, dir_);
      } else {
        return;  // damage at record 0: nothing to serve, nothing to persist
      }
    }
    if (!read_only_) {
      // What a killed process appended but never persisted is still in the page cache, and
      // this log now serves it: make it durable before anything is built on it. Only the
      // last two segments can hold such records (a segment is synced before the next one
      // is created). Then the first persist can move the durable mark over it.
      for (size_t i = segments_.size() >= 2 ? segments_.size() - 2 : 0; i < segments_.size(); i++) {
        Segment& seg = segments_[i];
        int err = SyncRange(*seg.map, kHeaderBytes, seg.used);
        if (err != 0) ThrowCoded(env, "STORE_IO", SysMessage("msync", seg.path, err), seg.path);
        seg.map->durable_to = seg.used;
      }
    }
    requested_segment_ = segments_.size() - 1;
    requested_offset_ = segments_.back().used;
  }

  std::shared_ptr<Mapping> Map(Napi::Env env, int fd, uint64_t bytes, const std::string& path) {
    auto map = std::make_shared<Mapping>();
    map->fd = fd;
    map->bytes = bytes;
    // A DAX file system accepts MAP_SYNC: then stores reach persistence with a cache flush
    // and fence, and msync is not needed. Anything else refuses it (EOPNOTSUPP / EINVAL).
    void* p = read_only_ ? mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0)
                         : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
    if (read_only_) {
      if (p == MAP_FAILED) {
        int err = errno;
        ThrowCoded(env, "STORE_IO", SysMessage("mmap", path, err), path);
      }
    } else if (p != MAP_FAILED) {
      map->dax = true;
    } else {
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        ThrowCoded(env, "STORE_IO", SysMessage("mmap", path, err), path);
      }
    }
    map->base = static_cast<uint8_t*>(p);
    return map;
  }

  void OpenSegment(Napi::Env env, uint64_t index, bool last) {
    std::string path = SegmentPath(index);
    int fd = open(path.c_str(), (read_only_ ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) ThrowCoded(env, "STORE_IO", SysMessage("open", path, errno), path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      ThrowCoded(env, "STORE_IO", SysMessage("fstat", path, err), path);
    }
    uint8_t header[kHeaderBytes];
    ssize_t got = pread(fd, header, kHeaderBytes, 0);
    uint64_t bytes = 0;
    std::string problem;
    if (got != static_cast<ssize_t>(kHeaderBytes) || std::memcmp(header, kMagic, 8) != 0) {
      problem = "not a Stele log segment (bad magic)";
    } else {
      uint32_t format, header_bytes, checksum;
      uint64_t seg_index, first;
      std::memcpy(&format, header + 8, 4);
      std::memcpy(&header_bytes, header + 12, 4);
      std::memcpy(&seg_index, header + 16, 8);
      std::memcpy(&first, header + 24, 8);
      std::memcpy(&bytes, header + 32, 8);
      std::memcpy(&checksum, header + 40, 4);
      if (checksum != Crc32c(0, header, 40)) problem = "segment header checksum mismatch";
      else if (format != kFormat) problem = "segment format " + std::to_string(format) + ", expected 1";
      else if (header_bytes != kHeaderBytes) problem = "bad header size";
      else if (seg_index != index) problem = "segment index does not match its name";
      else if (first != positions_.size()) problem = "first record number does not follow the previous segment";
      else if (bytes < kSegmentBytesMin || bytes > kSegmentBytesMax || bytes % 4096 != 0 ||
               static_cast<uint64_t>(st.st_size) != bytes)
        problem = "segment size does not match its header";
    }
    if (!problem.empty()) {
      close(fd);
      if (read_only_) {
        CorruptAt(path, 0, problem);
        return;
      }
      ThrowCoded(env, "STORE_CORRUPT", problem, path, 0, static_cast<int64_t>(positions_.size()));
    }
    if (!read_only_ && last) {
      // Segment index + 1 was made, and its file is gone (see kSuccessor): refused before
      // anything here is reserved or cut.
      uint32_t successor;
      std::memcpy(&successor, header + kSuccessorOffset, 4);
      if (successor == kSuccessor) {
        close(fd);
        ThrowCoded(env, "STORE_CORRUPT", LostSuccessor(index + 1), SegmentPath(index + 1), 0);
      }
      // The segment appends go to, when it has holes, gets its blocks reserved as
      // CreateSegment does: one restored by a tool that keeps zero runs as holes (cp
      // --sparse=always, rsync -S) got a SIGBUS instead of STORE_FULL at its first append on
      // a full disk (review of 2026-12-02). Earlier segments are never written again (a
      // truncate that makes one the last reserves it then).
      int rc = ReserveBlocks(fd, st, bytes);
      if (rc != 0) {
        close(fd);
        ThrowCoded(env, rc == ENOSPC ? "STORE_FULL" : "STORE_IO", SysMessage("fallocate", path, rc), path);
      }
    }
    Segment seg;
    seg.map = Map(env, fd, bytes, path);
    seg.first_record = positions_.size();
    seg.path = path;
    segments_.push_back(std::move(seg));
    Scan(env, segments_.back(), index, last);
  }

  // Corruption at byte `at` of `seg`: STORE_CORRUPT, or for a read-only open (audits) the
  // place and reason recorded, so the audit can name the record; the scan stops there.
  void Corrupt(Napi::Env env, const Segment& seg, uint64_t at, const std::string& problem) {
    if (!read_only_) {
      ThrowCoded(env, "STORE_CORRUPT", "record " + std::to_string(positions_.size()) + " at byte " + std::to_string(at) + ": " + problem,
                 seg.path, static_cast<int64_t>(at), static_cast<int64_t>(positions_.size()));
    }
    CorruptAt(seg.path, at, problem);
  }

  // Read-only opens: damage at byte `at` of `path`, before record positions_.size().
  void CorruptAt(const std::string& path, uint64_t at, const std::string& problem) {
    STELE_INVARIANT(read_only_ && corrupt_reason_.empty(), "damage is recorded once, by read-only opens");
    corrupt_reason_ = problem;
    corrupt_path_ = path;
    corrupt_offset_ = at;
  }

  void Scan(Napi::Env env, Segment& seg, uint64_t index, bool last) {
    const uint8_t* base = seg.map->base;
    const uint64_t size = seg.map->bytes;
    const uint64_t data_end = DataEnd(base, size);
    // Records below the durable mark were acknowledged as durable: a bad frame there is
    // corruption even in the last segment, never a torn tail to cut.
    const uint64_t mark = ReadMark(base, size);
    seg.map->mark = mark;
    uint64_t at = kHeaderBytes;
    while (at + kFrameBytes <= size) {
      uint32_t length, checksum;
      std::memcpy(&length, base + at, 4);
      std::memcpy(&checksum, base + at + 4, 4);
      if (length == 0 && checksum == 0 && data_end <= at) {  // the end: zeros from here on
        if (at < mark) Corrupt(env, seg, at, "the records end before the segment's durable mark at byte " + std::to_string(mark) + ": durable records are missing");
        break;
      }
      std::string problem;
      if (length > record_bytes_max_ || at + kFrameBytes + length > size)
        problem = "record length " + std::to_string(length) + " out of bounds";
      else if (FrameChecksum(length, base + at + kFrameBytes) != checksum)
        problem = "checksum mismatch";
      else if (!PaddingZero(base, at + kFrameBytes + length, std::min(Align(at + kFrameBytes + length), size)))
        problem = "non-zero padding after the record";
      // A record shorter than the caller's smallest, unless it is the log's last: a hostile
      // log of tiny valid records (8-byte empty ones: 134 million in 1 GiB) would otherwise
      // be indexed whole, 24 bytes each here and in JavaScript, before anything reads one
      // (found in review, 2026-11-30). The plain log has the same rule (recordBytesMin).
      else if (length < record_bytes_min_ && !(last && data_end <= Align(at + kFrameBytes + length)))
        problem = "record length " + std::to_string(length) + " is below " + std::to_string(record_bytes_min_) + ", the smallest record";
      if (problem.empty()) {
        if (positions_.size() >= kRecordsMax) ThrowCoded(env, "STORE_CORRUPT", "too many records", seg.path);
        positions_.push_back((index << 32) | at);
        at += Align(kFrameBytes + length);
        continue;
      }
      // A bad frame with nothing written past its claimed extent, in the last segment and
      // at or above the durable mark, is the torn tail of an append cut short by a crash:
      // cut it. Anything else is corruption. A length out of bounds can only be torn when
      // nothing follows the header itself. (Without the mark, a bit flip that raised an
      // acknowledged record's length past the end of the data made every record after it
      // look like the torn record's payload, and they were cut.)
      bool length_ok = length <= record_bytes_max_ && at + kFrameBytes + length <= size;
      uint64_t extent = length_ok ? Align(at + kFrameBytes + length) : at + kFrameBytes;
      if (last && extent >= data_end && at >= mark) {
        // data_end was measured before the scan. An audit of a running validator can scan
        // records appended since, past data_end, and then meet an append in progress: measure
        // again (data_end - at wrapped to about 1.8e19 torn bytes; found in review, 2026-11-30).
        const uint64_t torn_end = at <= data_end ? data_end : std::max(DataEnd(base, size), at);
        torn_bytes_ = torn_end - at;
        if (read_only_) break;  // reported, never cut
        // The payload first, made durable, then the frame header: a crash between the two
        // leaves a header over zeros, which the next open cuts as torn again. Zeroing the
        // header first left, after a kill in the middle of the memset, a zero header with
        // payload bytes after it, which every later open refused as corrupt (review of
        // 2026-12-02). Truncate orders its zeroing the same way.
        const uint64_t payload = std::min(torn_end, at + kFrameBytes);
        if (torn_end > payload) {
          std::memset(seg.map->base + payload, 0, torn_end - payload);
          int err = Durable(*seg.map, payload, torn_end);
          if (err != 0) ThrowCoded(env, "STORE_IO", SysMessage("msync", seg.path, err), seg.path);
        }
        std::memset(seg.map->base + at, 0, payload - at);
        int err = Durable(*seg.map, at, payload);
        if (err != 0) ThrowCoded(env, "STORE_IO", SysMessage("msync", seg.path, err), seg.path);
        break;
      }
      Corrupt(env, seg, at, problem);
      break;
    }
    seg.used = at;
    // The scan touched every page, the zeros after the data too: drop all but the newest
    // part of the data again (see ReleaseCold); appends fault the tail back in.
    if (!seg.map->dax) {
      if (!last) {
        Release(*seg.map, size);
      } else {
        if (at > kResidentBehindBytes) Release(*seg.map, at - kResidentBehindBytes);
        DropPages(*seg.map, Align(at), size);
      }
    }
  }

  static std::string LostSuccessor(uint64_t index) {
    return "segment " + std::to_string(index) + " is missing (segment " + std::to_string(index - 1) + " records that it was made)";
  }

  // Reserves the blocks of a segment file found with holes (fewer blocks than its size);
  // posix_fallocate's error, else 0.
  static int ReserveBlocks(int fd, const struct stat& st, uint64_t bytes) {
    if (static_cast<uint64_t>(st.st_blocks) * 512 >= bytes) return 0;
    int rc = InjectedFault(kFaultFallocate);
    if (rc < 0) rc = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    return rc;
  }

  // Writes a segment's successor marker and makes it durable; an msync error, else 0.
  static int SetSuccessor(Segment& seg, uint32_t value) {
    std::memcpy(seg.map->base + kSuccessorOffset, &value, 4);
    return SyncRange(*seg.map, kSuccessorOffset, kSuccessorOffset + 4);
  }

  void CreateSegment(Napi::Env env, uint64_t index) {
    if (index >= kSegmentsMax) ThrowCoded(env, "STORE_FULL", "the log reached its segment limit", dir_);
    std::string path = SegmentPath(index);
    std::string tmp = path + ".tmp";
    int fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) ThrowCoded(env, "STORE_IO", SysMessage("create", tmp, errno), tmp);
    auto fail_with = [&](const char* code, const std::string& message) {
      close(fd);
      unlink(tmp.c_str());
      ThrowCoded(env, code, message, tmp);
    };
    auto fail = [&](const char* what, int err) { fail_with(err == ENOSPC ? "STORE_FULL" : "STORE_IO", SysMessage(what, tmp, err)); };
    // Reserve the blocks now: a store into a sparse mapping on a full disk is SIGBUS.
    int rc = InjectedFault(kFaultFallocate);
    if (rc < 0) rc = posix_fallocate(fd, 0, static_cast<off_t>(segment_bytes_));
    if (rc != 0) fail("fallocate", rc);
    uint8_t header[kHeaderBytes] = {};
    uint64_t first = positions_.size();
    std::memcpy(header, kMagic, 8);
    uint32_t format = kFormat, header_bytes = kHeaderBytes;
    std::memcpy(header + 8, &format, 4);
    std::memcpy(header + 12, &header_bytes, 4);
    std::memcpy(header + 16, &index, 8);
    std::memcpy(header + 24, &first, 8);
    std::memcpy(header + 32, &segment_bytes_, 8);
    uint32_t checksum = Crc32c(0, header, 40);
    std::memcpy(header + 40, &checksum, 4);
    int injected = InjectedFault(kFaultHeaderWrite);
    if (injected > 0) errno = injected;
    ssize_t written = injected < 0 ? pwrite(fd, header, kHeaderBytes, 0) : injected == 0 ? 10 : -1;
    if (written < 0) fail("write", errno);
    // A short write sets no errno: say what happened (found in review, 2026-12-01: the
    // message was strerror of whatever errno held, often "Success").
    if (written != static_cast<ssize_t>(kHeaderBytes))
      fail_with("STORE_IO", "write " + tmp + ": short write: " + std::to_string(written) + " of " + std::to_string(kHeaderBytes) + " bytes");
    if (fsync(fd) != 0) fail("fsync", errno);
    if (rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
    // The segment is in place under its name (a later attempt replaces it; a reopen takes
    // it as an empty last segment), but not yet this log's: close its descriptor on failure
    // (found in review, 2026-12-01: it stayed open for the life of the process).
    try {
      FsyncDir(env, dir_);
    } catch (...) {
      close(fd);
      throw;
    }
    Segment seg;
    seg.map = Map(env, fd, segment_bytes_, path);
    seg.first_record = first;
    seg.path = path;
    segments_.push_back(std::move(seg));
    if (segments_.size() >= 2) {
      // The new segment is durable: mark its predecessor (see kSuccessor). A failure fails
      // the log, as the segment's own sync just before does.
      Segment& previous = segments_[segments_.size() - 2];
      int err = SetSuccessor(previous, kSuccessor);
      if (err != 0) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (worker_errno_ == 0) worker_errno_ = err;
        }
        ThrowCoded(env, "STORE_IO", SysMessage("msync", previous.path, err), previous.path);
      }
    }
    if (worker_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(Range{segments_.back().map, kHeaderBytes, kHeaderBytes, 0});
      }
      cv_.notify_one();
    }
  }

  // --- persist thread -------------------------------------------------------------------

  void WorkerLoop() {
    for (;;) {
      std::deque<Range> batch;
      int err = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        worker_active_ = false;
        idle_cv_.notify_all();
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything asked for is done
        batch.swap(queue_);
        worker_active_ = true;
        // A failed log syncs nothing more: an msync after a writeback error can return 0
        // for pages that were lost, and the mark must not move over them.
        err = worker_errno_;
      }
      uint64_t seq = 0;
      for (const Range& r : batch) {
        if (err == 0) err = Durable(*r.map, r.from, r.to);
        if (err == 0) r.map->durable_to = std::max(r.map->durable_to, r.to);
        if (r.seq != 0) seq = r.seq;  // seq 0: a prefault hint only
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (err != 0 && worker_errno_ == 0) worker_errno_ = err;
        if (err == 0) durable_seq_ = std::max(durable_seq_, seq);
        if (seq != 0) syncs_++;
      }
      // At most one notification is ever queued, so the bounded queue cannot fill. A batch
      // of upkeep hints only (seq 0) has nobody to tell.
      if (seq != 0 && !notify_pending_.exchange(true)) {
        // A null environment: the function was aborted (the finalizer) or the environment is
        // torn down, and this object may be gone: node-addon-api does not call us then, and
        // this does not look at it either.
        napi_status status = tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function) {
          if (static_cast<napi_env>(env) == nullptr) return;
          OnDurable(env);
        });
        if (status != napi_ok) notify_pending_ = false;  // closing: the main thread settles on close
      }
      // Prefault only after the waiters are told: it can take milliseconds (a few MiB of
      // page faults) and must not delay a persist that is already durable.
      Populate(batch.back());
      ReleaseCold(batch.back().map);
    }
  }

  // Persist thread: keeps only the newest kResidentBehindBytes of durable data mapped. A
  // segment the log has moved past is released whole, prefaulted zeros after its last
  // record included.
  void ReleaseCold(const std::shared_ptr<Mapping>& newest) {
    if (newest->dax) return;
    if (release_current_ != nullptr && release_current_ != newest) Release(*release_current_, release_current_->bytes);
    release_current_ = newest;
    if (newest->durable_to < kResidentBehindBytes) return;
    uint64_t keep_from = newest->durable_to - kResidentBehindBytes;
    if (keep_from >= newest->released + kReleaseStepBytes) Release(*newest, keep_from);
  }

  // Persist thread: prefault the pages after the newest range (best effort: a kernel
  // without MADV_POPULATE_WRITE refuses it, and appends then fault as usual).
  static void Populate(const Range& r) {
    Mapping& map = *r.map;
    static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    uint64_t from = std::max(map.populated, r.to & ~(page - 1));
    uint64_t to = std::min(map.bytes, (r.to + kPopulateAheadBytes) & ~(page - 1));
    if (map.dax || to <= from || to - from < kPopulateAheadBytes / 2) return;
    if (madvise(map.base + from, to - from, MADV_POPULATE_WRITE) == 0) map.populated = to;
  }

  void OnDurable(Napi::Env env) {
    notify_pending_ = false;
    if (held_for_notify_) {  // close() kept this object alive for this call; it may go now
      held_for_notify_ = false;
      Unref();
    }
    try {
      Settle(env);
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();  // a no-op while the environment is torn down
    }
  }

  // Main thread: resolves every waiting persist whose sequence is durable.
  void Settle(Napi::Env env) {
    uint64_t durable;
    int err;
    {
      std::lock_guard<std::mutex> lock(mu_);
      durable = durable_seq_;
      err = worker_errno_;
    }
    Napi::HandleScope scope(env);
    // A callback scope, so the continuations of the promises settled here run when it
    // closes, explicitly (see transport.cc, Deliver).
    Napi::AsyncContext context(env, "stele.persist");
    Napi::CallbackScope callback_scope(env, context);
    while (!waiting_.empty() && (waiting_.front().first <= durable || err != 0)) {
      auto deferred = std::move(waiting_.front().second);
      waiting_.pop_front();
      if (err == 0) {
        deferred.Resolve(env.Undefined());
      } else {
        Napi::Error e = Napi::Error::New(env, "STORE_IO: " + SysMessage("msync", dir_, err));
        e.Set("code", Napi::String::New(env, "STORE_IO"));
        deferred.Reject(e.Value());
      }
    }
    if (waiting_.empty() && referenced_) {
      tsfn_.Unref(env);
      referenced_ = false;
    }
  }

  // close(): stops and joins the persist thread (it finishes what was queued first). A
  // notification it queued still runs (close() holds a reference for it).
  void Shutdown() {
    if (stopped_) return;
    Stop(false);
    napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
  }

  // Stops and joins the persist thread, then releases the thread-safe function; `abort`
  // (the finalizer) drops a notification still queued, which Node then passes to the call
  // with a null environment. The cleanup hook releases: the environment's own teardown of
  // the function drains its queue that way. Touches no JavaScript value.
  void Stop(bool abort) {
    stopped_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    // The persist thread's last segment and the inline persists' last upkeep hint hold the
    // newest segment's mapping and descriptor: let go of them with the log's own, not when
    // the object is collected (found in review, 2026-12-01).
    release_current_.reset();
    upkeep_map_.reset();
    if (abort) tsfn_.Abort();
    else tsfn_.Release();
  }

  static void CleanupHook(void* arg) {
    auto* self = static_cast<MappedLog*>(arg);
    // The environment is going away: join the thread; views die with the heap.
    if (self->stopped_) return;
    self->Stop(false);
  }

  void CheckWritable(Napi::Env env) {
    if (read_only_) ThrowCoded(env, "STORE_IO", dir_ + " is open read-only", dir_);
  }

  void CheckOpen(Napi::Env env) {
    if (closed_) ThrowCoded(env, "STORE_CLOSED", dir_ + " is closed", dir_);
    if (broken_) ThrowCoded(env, "STORE_IO", dir_ + ": a truncate failed part way; close and reopen the log", dir_);
    std::lock_guard<std::mutex> lock(mu_);
    if (worker_errno_ != 0)
      ThrowCoded(env, "STORE_IO", "an earlier persist failed: " + SysMessage("msync", dir_, worker_errno_), dir_);
  }

  // --- methods (main thread) -------------------------------------------------------------

  Napi::Value Length(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(positions_.size()));
  }

  // append(bytes: Uint8Array): number: copies one record into the mapping; returns its
  // position, segment * 2^32 + byte offset of its frame.
  Napi::Value Append(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    CheckWritable(env);
    if (info.Length() != 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw Napi::TypeError::New(env, "append expects a Uint8Array");
    Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
    uint64_t length = data.ByteLength();
    if (length > record_bytes_max_)
      ThrowCoded(env, "STORE_RECORD_TOO_LARGE",
                 "record of " + std::to_string(length) + " bytes exceeds " + std::to_string(record_bytes_max_), dir_);
    if (positions_.size() >= kRecordsMax) ThrowCoded(env, "STORE_FULL", "the log reached its record limit", dir_);
    uint64_t frame = Align(kFrameBytes + length);
    if (segments_.back().used + frame > segments_.back().map->bytes) {
      // The new segment's header names the number of its first record, and it is durable at
      // once: make every record of this segment durable first, or a power loss could keep
      // that header but lose records it counts (recovery would refuse the log).
      // A failure fails the log, as one of the persist thread's does: Linux reports a
      // writeback error once per file, so the next msync of these pages (the persist
      // thread's, for a persist already queued) returns 0, and without the record the
      // durable mark could cover records that never reached the disk (found in review,
      // 2026-12-01: this msync threw once and the log went on).
      Segment& full = segments_.back();
      int err = SyncRange(*full.map, kHeaderBytes, full.used);
      if (err != 0) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (worker_errno_ == 0) worker_errno_ = err;
        }
        ThrowCoded(env, "STORE_IO", SysMessage("msync", full.path, err), full.path);
      }
      CreateSegment(env, segments_.size());
    }
    Segment& seg = segments_.back();
    uint8_t* at = seg.map->base + seg.used;
    uint32_t length32 = static_cast<uint32_t>(length);
    uint32_t checksum = FrameChecksum(length32, data.Data());
    // Header first, then payload: a crash mid-copy leaves a frame whose checksum fails and
    // nothing after it, which recovery recognises as a torn tail.
    std::memcpy(at, &length32, 4);
    std::memcpy(at + 4, &checksum, 4);
    std::memcpy(at + kFrameBytes, data.Data(), length);
    uint64_t position = ((segments_.size() - 1) << 32) | seg.used;
    positions_.push_back(position);
    seg.used += frame;
    appended_bytes_ += frame;
    return Napi::Number::New(env, static_cast<double>(position));
  }

  // Main thread: the inline path of Persist. True when it ran (durable, or failed with the
  // error recorded for Settle to report); false to hand the range to the persist thread.
  bool PersistInline(uint64_t inline_max) {
    Segment& seg = segments_.back();
    if (inline_max == 0 || requested_segment_ != segments_.size() - 1 || seg.used - requested_offset_ > inline_max) return false;
    std::lock_guard<std::mutex> lock(mu_);
    // Idle and caught up: nothing queued, no batch under way, every earlier persist durable.
    if (!queue_.empty() || worker_active_ || durable_seq_ != queued_seq_ || worker_errno_ != 0) return false;
    uint64_t seq = ++queued_seq_;
    int err = Durable(*seg.map, requested_offset_, seg.used);
    syncs_++;
    inline_syncs_++;
    if (err != 0) {
      worker_errno_ = err;
      return true;
    }
    seg.map->durable_to = std::max(seg.map->durable_to, seg.used);
    durable_seq_ = seq;
    // The persist thread still prefaults ahead and releases cold pages: an upkeep hint
    // (seq 0) every kUpkeepStepBytes of inline persists, or at a new segment.
    if (upkeep_map_ != seg.map || seg.used >= upkeep_at_ + kUpkeepStepBytes) {
      upkeep_map_ = seg.map;
      upkeep_at_ = seg.used;
      queue_.push_back(Range{seg.map, seg.used, seg.used, 0});
      cv_.notify_one();
    }
    return true;
  }

  // persist(inlineBytesMax = 0): Promise<void>: durable once every record appended before
  // the call is. When the persist thread is idle and all that is new is at most
  // inlineBytesMax bytes of the newest segment, the msync runs here, on the main thread:
  // two thread hand-offs cost more than a small msync on a loaded machine (docs/native.md).
  Napi::Value Persist(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    CheckWritable(env);
    uint64_t inline_max = 0;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      double v = info[0].As<Napi::Number>().DoubleValue();
      if (!(v >= 0 && v <= static_cast<double>(segment_bytes_))) throw Napi::RangeError::New(env, "inlineBytesMax out of range");
      inline_max = static_cast<uint64_t>(v);
    }
    auto deferred = Napi::Promise::Deferred::New(env);
    Napi::Promise promise = deferred.Promise();
    uint64_t last = segments_.size() - 1;
    bool fresh = requested_segment_ < last || requested_offset_ < segments_.back().used;
    if (fresh && PersistInline(inline_max)) {
      requested_offset_ = segments_.back().used;
    } else if (fresh) {
      uint64_t seq = ++queued_seq_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (uint64_t s = requested_segment_; s <= last; s++) {
          uint64_t from = s == requested_segment_ ? requested_offset_ : kHeaderBytes;
          queue_.push_back(Range{segments_[s].map, from, segments_[s].used, seq});
        }
      }
      cv_.notify_one();
      requested_segment_ = last;
      requested_offset_ = segments_.back().used;
    }
    waiting_.emplace_back(queued_seq_, std::move(deferred));
    if (!referenced_) {
      tsfn_.Ref(env);
      referenced_ = true;
    }
    Settle(env);  // resolves at once when nothing is outstanding
    return promise;
  }

  uint64_t IndexArgument(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "expects an index");
    double index = info[0].As<Napi::Number>().DoubleValue();
    if (!(index >= 0 && index < static_cast<double>(positions_.size())) || index != static_cast<uint64_t>(index))
      throw Napi::RangeError::New(env, "record " + std::to_string(index) + " of " + std::to_string(positions_.size()));
    return static_cast<uint64_t>(index);
  }

  // verify(index: number): checks the record's checksum again (paired with the check at open).
  Napi::Value Verify(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    uint64_t index = IndexArgument(info);
    uint64_t position = positions_[index];
    Segment& seg = segments_[position >> 32];
    uint64_t offset = position & 0xffffffffu;
    uint32_t length, checksum;
    std::memcpy(&length, seg.map->base + offset, 4);
    std::memcpy(&checksum, seg.map->base + offset + 4, 4);
    // The length is read from the mapping again, so a page that left memory and came back
    // from a disk that changed it may claim more than the segment holds: corruption of the
    // file, not a broken invariant of this process (found in review, 2026-11-30).
    if (offset + kFrameBytes + length > seg.used)
      ThrowCoded(env, "STORE_CORRUPT", "record length changed in the mapping after open", seg.path,
                 static_cast<int64_t>(offset), static_cast<int64_t>(index));
    if (FrameChecksum(length, seg.map->base + offset + kFrameBytes) != checksum)
      ThrowCoded(env, "STORE_CORRUPT", "record changed in the mapping after open", seg.path,
                 static_cast<int64_t>(offset), static_cast<int64_t>(index));
    return env.Undefined();
  }

  // segment(i: number): ArrayBuffer over the whole mapping of segment i (zero-copy; holds it).
  Napi::Value SegmentMethod(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (info.Length() != 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "segment(i: number)");
    double i = info[0].As<Napi::Number>().DoubleValue();
    if (!(i >= 0 && i < static_cast<double>(segments_.size())) || i != static_cast<uint64_t>(i))
      throw Napi::RangeError::New(env, "no such segment");
    return SegmentBuffer(env, segments_[static_cast<size_t>(i)]);
  }

  // positions(): Float64Array of every record's position (read once at open).
  Napi::Value Positions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Float64Array out = Napi::Float64Array::New(env, positions_.size());
    for (size_t i = 0; i < positions_.size(); i++) out[i] = static_cast<double>(positions_[i]);
    return out;
  }

  Napi::ArrayBuffer SegmentBuffer(Napi::Env env, Segment& seg) {
    if (!seg.buffer.IsEmpty()) {
      Napi::ArrayBuffer cached = seg.buffer.Value();
      if (!cached.IsEmpty()) return cached;
    }
    auto* hold = new std::shared_ptr<Mapping>(seg.map);
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, seg.map->base, seg.map->bytes, [](Napi::Env, void*, std::shared_ptr<Mapping>* h) { delete h; }, hold);
    seg.buffer = Napi::Weak(buffer);
    return buffer;
  }

  // truncate(length: number): drops records from `length` on, durably (main thread).
  Napi::Value Truncate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    CheckWritable(env);
    if (info.Length() != 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "truncate(length: number)");
    double length = info[0].As<Napi::Number>().DoubleValue();
    if (!(length >= 0 && length <= static_cast<double>(positions_.size())) || length != static_cast<uint64_t>(length))
      throw Napi::RangeError::New(env, "truncate length outside the log");
    uint64_t keep = static_cast<uint64_t>(length);
    uint64_t segment = keep == positions_.size() ? segments_.size() - 1 : positions_[keep] >> 32;
    uint64_t offset = keep == positions_.size() ? segments_.back().used : positions_[keep] & 0xffffffffu;
    bool removed = false;
    // From here a failure leaves segments and record positions out of step: the log
    // refuses every later call until it is reopened (recovery reads what is on disk).
    broken_ = true;
    // Successor markers first, from the new last segment on, each durable before any file
    // goes: a crash while the files go then leaves no marker on a last segment that would
    // read as a lost successor.
    for (uint64_t i = segment; i + 1 < segments_.size(); i++) {
      int err = SetSuccessor(segments_[i], 0);
      if (err != 0) ThrowCoded(env, "STORE_IO", SysMessage("msync", segments_[i].path, err), segments_[i].path);
    }
    while (segments_.size() - 1 > segment) {
      if (unlink(segments_.back().path.c_str()) != 0)
        ThrowCoded(env, "STORE_IO", SysMessage("unlink", segments_.back().path, errno), segments_.back().path);
      segments_.pop_back();
      removed = true;
    }
    if (removed) {
      FsyncDir(env, dir_);
      // The new last segment takes appends from now on: reserve it if it has holes (see
      // OpenSegment).
      const std::string& path = segments_.back().path;
      int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0) ThrowCoded(env, "STORE_IO", SysMessage("open", path, errno), path);
      struct stat st;
      int rc = fstat(fd, &st) != 0 ? errno : ReserveBlocks(fd, st, segments_.back().map->bytes);
      close(fd);
      if (rc != 0) ThrowCoded(env, rc == ENOSPC ? "STORE_FULL" : "STORE_IO", SysMessage("fallocate", path, rc), path);
    }
    Segment& seg = segments_.back();
    uint64_t old_used = seg.used;
    {
      // The persist thread owns the mark and durable_to while it works: let it finish, then
      // lower both to the new end, so recovery does not take the cut for lost records.
      std::unique_lock<std::mutex> lock(mu_);
      idle_cv_.wait(lock, [this] { return !worker_active_ && queue_.empty(); });
      seg.map->durable_to = std::min(seg.map->durable_to, offset);
      // The writeback of one msync has no order across pages, so each step that must reach
      // the disk before the next gets its own (found in review, 2026-12-01: the mark and
      // the zeros went out in one msync, and a power loss could keep the old mark over
      // zeroed records, which recovery refuses, or zeros followed by stale records). First
      // the lowered mark, before anything it no longer covers is touched.
      if (seg.map->mark > offset) {
        StoreMark(*seg.map, offset);
        int err = SyncRange(*seg.map, kMarkOffset, kMarkCrcOffset + 4);
        if (err != 0) ThrowCoded(env, "STORE_IO", SysMessage("msync", seg.path, err), seg.path);
      }
      // Then zeros from the end backwards, a word at a time, each page synced before the
      // one before it is touched: a crash or power loss part way leaves the kept records,
      // then what is left of the cut ones ending in a damaged record with only zeros after
      // it (a torn tail above the lowered mark), never zeros followed by old records, which
      // recovery would call corruption. One msync per page: truncate is rare (no caller
      // in the validator; the ledger's BlockLog interface has it).
      // (Volatile stores: the compiler may not merge or reorder them into a forward memset.)
      static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
      volatile uint64_t* words = reinterpret_cast<volatile uint64_t*>(seg.map->base);
      for (uint64_t end = old_used; end > offset;) {
        uint64_t start = std::max(offset, (end - 1) & ~(page - 1));
        for (uint64_t at = end; at > start; at -= 8) words[at / 8 - 1] = 0;
        int err = SyncRange(*seg.map, start, end);
        if (err != 0) ThrowCoded(env, "STORE_IO", SysMessage("msync", seg.path, err), seg.path);
        end = start;
      }
    }
    seg.used = offset;
    positions_.resize(keep);
    broken_ = false;
    if (requested_segment_ > segment || (requested_segment_ == segment && requested_offset_ > offset)) {
      requested_segment_ = segment;
      requested_offset_ = offset;
    }
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    uint64_t syncs, inline_syncs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      syncs = syncs_;
      inline_syncs = inline_syncs_;
    }
    out.Set("records", static_cast<double>(positions_.size()));
    out.Set("segments", static_cast<double>(segments_.size()));
    out.Set("segmentBytes", static_cast<double>(segment_bytes_));
    out.Set("dax", !segments_.empty() && segments_.back().map->dax);
    out.Set("tornBytes", static_cast<double>(torn_bytes_));
    out.Set("appendedBytes", static_cast<double>(appended_bytes_));
    out.Set("syncs", static_cast<double>(syncs));
    out.Set("inlineSyncs", static_cast<double>(inline_syncs));
    out.Set("readOnly", read_only_);
    if (corrupt_reason_.empty()) {
      out.Set("corruption", env.Null());
    } else {
      Napi::Object c = Napi::Object::New(env);
      c.Set("record", static_cast<double>(positions_.size()));
      c.Set("offset", static_cast<double>(corrupt_offset_));
      c.Set("path", corrupt_path_);
      c.Set("reason", corrupt_reason_);
      out.Set("corruption", c);
    }
    return out;
  }

  // close(): Promise<void>: waits for queued persists, joins the thread, drops mappings.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto deferred = Napi::Promise::Deferred::New(env);
    if (!closed_) {
      closed_ = true;
      Shutdown();
      Settle(env);  // the thread finished the queue before stopping
      // A notification the persist thread queued before it stopped still runs, with this
      // object: keep the object alive until it has (found in review: the wrapper could be
      // collected first, an acceptor log's old generation after a compaction).
      if (notify_pending_.load() && !held_for_notify_) {
        Ref();
        held_for_notify_ = true;
      }
      // A clean close moves the durable mark over everything durable (best effort: without
      // it only the last persist's records are above the mark, as after a crash). Not
      // after a failed msync: durable_to may then count pages a later msync only claimed.
      int failed;
      {
        std::lock_guard<std::mutex> lock(mu_);
        failed = worker_errno_;
      }
      if (!read_only_ && !segments_.empty() && failed == 0) {
        Mapping& map = *segments_.back().map;
        if (map.durable_to > map.mark) {
          StoreMark(map, map.durable_to);
          (void)SyncRange(map, kMarkOffset, kMarkCrcOffset + 4);
        }
      }
      // Views handed to JavaScript keep a segment mapped until the garbage collector
      // finalizes them, which may be long after (an acceptor log's old generation, closed
      // and deleted by a compaction, stayed resident until then). Their pages leave this
      // process's page tables now; everything is durable, and a view still read faults
      // its page back in from the file.
      for (const Segment& seg : segments_) {
        if (seg.map && seg.map.use_count() > 1) DropPages(*seg.map, 0, seg.map->bytes);
      }
      segments_.clear();
      positions_.clear();
    }
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }

  std::string dir_;
  uint64_t segment_bytes_ = 0;
  uint64_t record_bytes_max_ = 0;
  uint64_t record_bytes_min_ = 0;  // read-only opens: a shorter record before the last is corruption
  uint64_t torn_bytes_ = 0;
  bool read_only_ = false;
  std::string corrupt_reason_;  // read-only opens: where scanning stopped, and why
  std::string corrupt_path_;
  uint64_t corrupt_offset_ = 0;
  uint64_t appended_bytes_ = 0;
  std::vector<Segment> segments_;
  std::vector<uint64_t> positions_;  // (segment << 32) | offset of each record's frame
  // Main thread only.
  uint64_t requested_segment_ = 0;
  uint64_t requested_offset_ = 0;
  uint64_t queued_seq_ = 0;
  std::deque<std::pair<uint64_t, Napi::Promise::Deferred>> waiting_;
  bool referenced_ = false;
  bool closed_ = false;
  bool stopped_ = false;
  // Shared with the persist thread, under mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;  // notified when the persist thread goes idle
  std::deque<Range> queue_;
  bool stopping_ = false;
  uint64_t durable_seq_ = 0;
  int worker_errno_ = 0;
  uint64_t syncs_ = 0;
  uint64_t inline_syncs_ = 0;
  bool worker_active_ = false;  // under mu_: the persist thread is working on a batch
  // Main thread: where the last upkeep hint of inline persists was.
  std::shared_ptr<Mapping> upkeep_map_;
  uint64_t upkeep_at_ = 0;
  std::atomic<bool> notify_pending_{false};
  bool held_for_notify_ = false;
  bool broken_ = false;  // a truncate failed part way (CheckOpen refuses everything)  // main thread: a strong reference taken by close() for a queued notification
  Napi::ThreadSafeFunction tsfn_;
  std::thread worker_;
  std::shared_ptr<Mapping> release_current_;  // persist thread only
};

}  // namespace

Napi::Function MappedLogClass(Napi::Env env) { return MappedLog::Define(env); }

// injectLogFault(op: string, errno: number, skip: number): tests only (see InjectedFault).
Napi::Value InjectLogFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "injectLogFault(op: string, errno: number, skip: number)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int op = 0;
  while (op < kFaultOps && name != kFaultNames[op]) op++;
  if (op == kFaultOps) throw Napi::RangeError::New(env, "injectLogFault: op is one of msync, fallocate, fsyncDirectory, headerWrite");
  double err = info[1].As<Napi::Number>().DoubleValue();
  double skip = info[2].As<Napi::Number>().DoubleValue();
  bool short_write = op == kFaultHeaderWrite && err == 0;
  if (!((err >= 1 && err <= 4095) || short_write) || err != static_cast<int>(err))
    throw Napi::RangeError::New(env, "injectLogFault: errno in [1, 4095] (0: a short write, headerWrite only)");
  if (!(skip >= 0 && skip <= 1e6) || skip != static_cast<uint32_t>(skip))
    throw Napi::RangeError::New(env, "injectLogFault: skip is an integer in [0, 1e6]");
  std::lock_guard<std::mutex> lock(g_faults_mu);
  Fault& f = g_faults[op];
  if (!f.armed) g_faults_armed.fetch_add(1, std::memory_order_relaxed);
  f = Fault{true, static_cast<int>(err), static_cast<uint32_t>(skip)};
  return env.Undefined();
}

}  // namespace stele
