// What this machine's file system gives a mapped append log and a write() log, with no
// JavaScript and no framing: the ceiling behind bench:log's persisted ratio.
//
// Each run appends 64 MiB in batches of 256 KiB (bench:log's 64 records of 4 KiB) and
// makes every batch durable before the next:
// - mapped: a posix_fallocate'd file mapped shared, pages prefaulted for writing 4 MiB
//   ahead (MADV_POPULATE_WRITE, as the log's persist thread does), memcpy into the
//   mapping, msync(MS_SYNC) of the batch;
// - write: pwrite of the batch at the end of a plain file, fdatasync;
// - write-fallocated: the same into a posix_fallocate'd file.
// The three alternate, three runs each. Prints one line per run and a JSON line last
// (medians, MB/s). Build and run: npm run bench:log-ceiling [-- DIR] (DIR: where the
// files go, default the current directory: the disk the benchmarks write to).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum { RUNS = 3, MODES = 3 };
static const size_t kBytes = 64u << 20;
static const size_t kBatch = 256u << 10;
static const size_t kAhead = 4u << 20;

static void preallocate(int fd) {
  int rc = posix_fallocate(fd, 0, (off_t)kBytes);
  if (rc != 0) {
    fprintf(stderr, "posix_fallocate: %s\n", strerror(rc));
    exit(1);
  }
  if (fsync(fd) != 0) die("fsync");
}

// MB/s of one run of `mode` (0 mapped, 1 write, 2 write-fallocated) on a fresh file.
static double run(int mode, const char* path, const uint8_t* batch) {
  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  if (mode != 1) preallocate(fd);
  uint8_t* map = NULL;
  if (mode == 0) {
    map = mmap(NULL, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) die("mmap");
  }
  double start = now();
  size_t populated = 0;
  for (size_t at = 0; at + kBatch <= kBytes; at += kBatch) {
    if (mode == 0) {
      if (populated < at + kBatch || populated - at < kAhead / 2) {
        size_t to = at + kAhead < kBytes ? at + kAhead : kBytes;
        if (to > populated && madvise(map + populated, to - populated, MADV_POPULATE_WRITE) != 0) die("madvise");
        populated = to;
      }
      memcpy(map + at, batch, kBatch);
      if (msync(map + at, kBatch, MS_SYNC) != 0) die("msync");
    } else {
      if (pwrite(fd, batch, kBatch, (off_t)at) != (ssize_t)kBatch) die("pwrite");
      if (fdatasync(fd) != 0) die("fdatasync");
    }
  }
  double seconds = now() - start;
  if (map != NULL) munmap(map, kBytes);
  close(fd);
  unlink(path);
  return (double)kBytes / 1e6 / seconds;
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : ".";
  char path[4096];
  snprintf(path, sizeof path, "%s/.stele-log-ceiling-%d", dir, (int)getpid());
  uint8_t* batch = malloc(kBatch);
  if (batch == NULL) die("malloc");
  for (size_t i = 0; i < kBatch; i++) batch[i] = (uint8_t)(i * 31 + 7);
  static const char* names[MODES] = {"mapped", "write", "write_fallocated"};
  double rates[MODES][RUNS];
  for (int r = 0; r < RUNS; r++) {
    for (int m = 0; m < MODES; m++) {
      rates[m][r] = run(m, path, batch);
      fprintf(stderr, "%s: %.0f MB/s\n", names[m], rates[m][r]);
    }
  }
  double medians[MODES];
  for (int m = 0; m < MODES; m++) {
    qsort(rates[m], RUNS, sizeof rates[m][0], by_value);
    medians[m] = rates[m][RUNS / 2];
  }
  printf("{\"bench\":\"log-ceiling\",\"runs\":%d,\"batch_bytes\":%zu,\"mapped_mb_per_s\":%.0f,\"write_mb_per_s\":%.0f,"
         "\"write_fallocated_mb_per_s\":%.0f,\"mapped_vs_write_ratio\":%.2f}\n",
         RUNS, kBatch, medians[0], medians[1], medians[2], medians[0] / medians[1]);
  free(batch);
  return 0;
}
