// The machine's ceiling for bench:transport's frames, with no JavaScript at all.
//
// Two processes over loopback TCP. The sender packs messages ([u32 length][bytes]) into
// DATA-sized frames of about 1 MiB ([u32 body length][4 bytes][u64 sequence], body,
// 16-byte AES-256-GMAC tag over header and body, as native/src/transport.cc frames them),
// tags each frame and writes it; the receiver reads, checks every tag and walks every
// message. No handshake, no credit, no hand-off between threads: the least work any
// implementation of these frames must do per byte and per message. Both processes run
// flat out, so on a two-core machine the figure is what both cores can move.
//
// Build and run: npm run bench:transport-ceiling (needs gcc and OpenSSL's headers,
// Debian's libssl-dev). Prints one line per run and one JSON line last (medians).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

enum { HEADER = 16, TAG = 16, FRAME_BODY = 1 << 20, RUNS = 3 };

// AES-256-GCM with the frame as additional data and no plaintext: a GMAC tag.
static void gmac(EVP_CIPHER_CTX* c, const uint8_t* frame, size_t n, uint8_t* out) {
  static const uint8_t nonce[12];
  uint8_t none[16];
  int k;
  if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 || EVP_EncryptUpdate(c, NULL, &k, frame, (int)n) != 1 ||
      EVP_EncryptFinal_ex(c, none, &k) != 1 || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG, out) != 1) {
    fprintf(stderr, "GMAC failed\n");
    exit(1);
  }
}

static EVP_CIPHER_CTX* gmac_context(void) {
  static const uint8_t key[32];
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  if (c == NULL || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, NULL) != 1) die("EVP");
  return c;
}

static void send_all(int fd, uint32_t size, long count) {
  EVP_CIPHER_CTX* c = gmac_context();
  long per = FRAME_BODY / (4 + size);
  uint8_t* message = calloc(1, size);
  uint8_t* frame = malloc(HEADER + (size_t)per * (4 + size) + TAG);
  if (message == NULL || frame == NULL) die("malloc");
  uint64_t seq = 0;
  for (long sent = 0; sent < count;) {
    long n = count - sent < per ? count - sent : per;
    size_t at = HEADER;
    for (long i = 0; i < n; i++) {
      memcpy(frame + at, &size, 4);
      memcpy(frame + at + 4, message, size);
      at += 4 + size;
    }
    uint32_t body = (uint32_t)(at - HEADER);
    memcpy(frame, &body, 4);
    memset(frame + 4, 0, 4);
    memcpy(frame + 8, &seq, 8);
    seq++;
    gmac(c, frame, at, frame + at);
    at += TAG;
    for (size_t w = 0; w < at;) {
      ssize_t r = write(fd, frame + w, at - w);
      if (r <= 0) die("write");
      w += (size_t)r;
    }
    sent += n;
  }
}

static long receive_all(int fd) {
  EVP_CIPHER_CTX* c = gmac_context();
  size_t capacity = 2 * (HEADER + FRAME_BODY + TAG);
  uint8_t* buffer = malloc(capacity);
  if (buffer == NULL) die("malloc");
  size_t have = 0;
  long messages = 0;
  uint8_t tag[TAG];
  for (;;) {
    ssize_t n = read(fd, buffer + have, capacity - have);
    if (n < 0) die("read");
    if (n == 0) break;
    have += (size_t)n;
    size_t at = 0;
    while (have - at >= HEADER) {
      uint32_t body;
      memcpy(&body, buffer + at, 4);
      size_t total = HEADER + body + TAG;
      if (total > capacity) {
        fprintf(stderr, "frame too large\n");
        exit(1);
      }
      if (have - at < total) break;
      gmac(c, buffer + at, HEADER + body, tag);
      if (CRYPTO_memcmp(tag, buffer + at + HEADER + body, TAG) != 0) {
        fprintf(stderr, "tag mismatch\n");
        exit(1);
      }
      for (size_t p = at + HEADER; p < at + HEADER + body;) {
        uint32_t m;
        memcpy(&m, buffer + p, 4);
        p += 4 + m;
        messages++;
      }
      at += total;
    }
    memmove(buffer, buffer + at, have - at);
    have -= at;
  }
  return messages;
}

// Messages per second for `count` messages of `size` bytes.
static double run(uint32_t size, long count) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t length = sizeof address;
  if (listener < 0 || bind(listener, (struct sockaddr*)&address, sizeof address) != 0 ||
      getsockname(listener, (struct sockaddr*)&address, &length) != 0 || listen(listener, 1) != 0)
    die("listen");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr*)&address, sizeof address) != 0) die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    send_all(fd, size, count);
    close(fd);
    _exit(0);
  }
  int fd = accept(listener, NULL, NULL);
  if (fd < 0) die("accept");
  double start = now();
  long got = receive_all(fd);
  double seconds = now() - start;
  int status = 0;
  waitpid(child, &status, 0);
  close(fd);
  close(listener);
  if (got != count || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "received %ld of %ld messages\n", got, count);
    exit(1);
  }
  return (double)count / seconds;
}

int main(void) {
  const struct { uint32_t size; long count; } sizes[] = {{64, 20000000}, {1024, 2000000}};
  double medians[2];
  for (int s = 0; s < 2; s++) {
    double rates[RUNS];
    for (int r = 0; r < RUNS; r++) {
      rates[r] = run(sizes[s].size, sizes[s].count);
      fprintf(stderr, "%u B: %.0f messages/s (%.0f MB/s of payload)\n", sizes[s].size, rates[r], rates[r] * sizes[s].size / 1e6);
    }
    qsort(rates, RUNS, sizeof rates[0], by_value);
    medians[s] = rates[RUNS / 2];
  }
  printf("{\"bench\":\"transport-ceiling\",\"runs\":%d,\"msgs_per_s_64B\":%.0f,\"msgs_per_s_1KiB\":%.0f}\n", RUNS, medians[0],
         medians[1]);
  return 0;
}
