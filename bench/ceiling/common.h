// Helpers shared by the ceiling programs (bench/ceiling/*.c).
#ifndef STELE_BENCH_CEILING_COMMON_H
#define STELE_BENCH_CEILING_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

// Seconds on the monotonic clock.
static inline double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

// Reports the failed call with errno's text and exits 1.
static inline void die(const char* what) {
  perror(what);
  exit(1);
}

// qsort order for doubles; the median of RUNS sorted values is at RUNS / 2.
static inline int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

#endif
