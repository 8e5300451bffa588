// CRC-32C (Castagnoli). With SSE4.2, long buffers run three interleaved streams of the
// crc32 instruction (its latency is 3 cycles, its throughput 1 per cycle) and join them
// with "append zeros" operators; shorter ones run one stream; without SSE4.2, a table.
// The method follows the well-known construction described by Mark Adler; written here
// from that description. Chosen once at start-up. Thread-safe.
#include <cstdio>
#include <cstdlib>

#include "common.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace stele {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

struct Table {
  uint32_t entries[256];
  Table() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      entries[i] = c;
    }
  }
};

const Table& CrcTable() {
  static const Table table;
  return table;
}

uint32_t Crc32cTable(uint32_t crc, const uint8_t* data, size_t length) {
  const Table& table = CrcTable();
  crc = ~crc;
  for (size_t i = 0; i < length; i++) crc = table.entries[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
// GF(2) 32x32 matrices as 32 column vectors.
uint32_t MatrixTimes(const uint32_t* matrix, uint32_t vector) {
  uint32_t sum = 0;
  for (int i = 0; vector != 0; i++, vector >>= 1)
    if (vector & 1) sum ^= matrix[i];
  return sum;
}

void MatrixSquare(uint32_t* square, const uint32_t* matrix) {
  for (int n = 0; n < 32; n++) square[n] = MatrixTimes(matrix, matrix[n]);
}

// The operator that appends `length` zero bytes to a raw CRC register, as four byte tables.
struct ZerosOperator {
  uint32_t table[4][256];
  explicit ZerosOperator(size_t length) {
    uint32_t odd[32], even[32];
    odd[0] = kPoly;  // the operator for one zero bit
    for (int n = 1; n < 32; n++) odd[n] = 1u << (n - 1);
    MatrixSquare(even, odd);  // two zero bits
    MatrixSquare(odd, even);  // four zero bits
    // Square up to one zero byte, then keep squaring, multiplying in the set bits of length.
    uint32_t op[32];
    bool have = false;
    uint32_t* current = odd;
    uint32_t* other = even;
    do {
      MatrixSquare(other, current);  // doubles: 8, 16, 32 ... zero bits
      uint32_t* t = current;
      current = other;
      other = t;
      if (length & 1) {
        if (!have) {
          for (int n = 0; n < 32; n++) op[n] = current[n];
          have = true;
        } else {
          uint32_t product[32];
          for (int n = 0; n < 32; n++) product[n] = MatrixTimes(current, op[n]);
          for (int n = 0; n < 32; n++) op[n] = product[n];
        }
      }
      length >>= 1;
    } while (length != 0);
    for (uint32_t n = 0; n < 256; n++) {
      table[0][n] = MatrixTimes(op, n);
      table[1][n] = MatrixTimes(op, n << 8);
      table[2][n] = MatrixTimes(op, n << 16);
      table[3][n] = MatrixTimes(op, n << 24);
    }
  }
  uint32_t Shift(uint32_t crc) const {
    return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
  }
};

constexpr size_t kLong = 8192;
constexpr size_t kShort = 256;

const ZerosOperator& LongZeros() {
  static const ZerosOperator op(kLong);
  return op;
}
const ZerosOperator& ShortZeros() {
  static const ZerosOperator op(kShort);
  return op;
}

__attribute__((target("sse4.2"))) uint64_t Stream(uint64_t c, const uint8_t* data, size_t length) {
  while (length >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    c = _mm_crc32_u64(c, word);
    data += 8;
    length -= 8;
  }
  return c;
}

template <size_t kBlock>
__attribute__((target("sse4.2"))) uint64_t Interleaved(uint64_t c0, const uint8_t*& data, size_t& length,
                                                        const ZerosOperator& zeros) {
  while (length >= 3 * kBlock) {
    uint64_t c1 = 0, c2 = 0;
    const uint8_t* end = data + kBlock;
    do {
      uint64_t w0, w1, w2;
      std::memcpy(&w0, data, 8);
      std::memcpy(&w1, data + kBlock, 8);
      std::memcpy(&w2, data + 2 * kBlock, 8);
      c0 = _mm_crc32_u64(c0, w0);
      c1 = _mm_crc32_u64(c1, w1);
      c2 = _mm_crc32_u64(c2, w2);
      data += 8;
    } while (data < end);
    c0 = zeros.Shift(static_cast<uint32_t>(c0)) ^ c1;
    c0 = zeros.Shift(static_cast<uint32_t>(c0)) ^ c2;
    data += 2 * kBlock;
    length -= 3 * kBlock;
  }
  return c0;
}

__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const uint8_t* data, size_t length) {
  uint64_t c = ~crc & 0xffffffffu;
  while (length > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *data);
    data++;
    length--;
  }
  c = Interleaved<kLong>(c, data, length, LongZeros());
  c = Interleaved<kShort>(c, data, length, ShortZeros());
  size_t words = length & ~static_cast<size_t>(7);
  c = Stream(c, data, words);
  data += words;
  length -= words;
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

uint32_t Crc32cPortable(uint32_t crc, const uint8_t* data, size_t length) { return Crc32cTable(crc, data, length); }

}  // namespace stele
