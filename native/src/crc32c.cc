// CRC-32C: SSE4.2 instruction when the CPU has it (chosen once at start-up), else a table.
#include <cstdio>
#include <cstdlib>

#include "common.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace stele {
namespace {

struct Table {
  uint32_t entries[256];
  Table() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      entries[i] = c;
    }
  }
};

uint32_t Crc32cTable(uint32_t crc, const uint8_t* data, size_t length) {
  static const Table table;
  crc = ~crc;
  for (size_t i = 0; i < length; i++) crc = table.entries[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const uint8_t* data, size_t length) {
  uint64_t c = ~crc & 0xffffffffu;
  while (length >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    c = _mm_crc32_u64(c, word);
    data += 8;
    length -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (length > 0) {
    c32 = _mm_crc32_u8(c32, *data);
    data++;
    length--;
  }
  return ~c32;
}
#endif

using CrcFunction = uint32_t (*)(uint32_t, const uint8_t*, size_t);

CrcFunction Choose() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return Crc32cHardware;
#endif
  return Crc32cTable;
}

const CrcFunction chosen = Choose();

}  // namespace

uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t length) { return chosen(crc, data, length); }

}  // namespace stele
