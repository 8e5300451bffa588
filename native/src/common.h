// Shared helpers for the Stele addon: coded errors and small utilities.
// Every function here runs on the JavaScript main thread unless it says otherwise.
#pragma once

#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace stele {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "formats are little-endian; a big-endian port must swap");

// Throws a JavaScript Error carrying a stable `code` (listed in ledger/errors.ts
// ERROR_CODES) and optional details. The TypeScript wrappers turn it into a SteleError.
[[noreturn]] inline void ThrowCoded(Napi::Env env, const char* code, const std::string& message,
                                    const std::string& path = std::string(), int64_t offset = -1,
                                    int64_t record = -1) {
  Napi::Error error = Napi::Error::New(env, std::string(code) + ": " + message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("reason", Napi::String::New(env, message));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  if (offset >= 0) error.Set("offset", Napi::Number::New(env, static_cast<double>(offset)));
  if (record >= 0) error.Set("record", Napi::Number::New(env, static_cast<double>(record)));
  throw error;
}

// A failed system call as a message: "what path: strerror".
inline std::string SysMessage(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

// An internal invariant: breaking one means the addon's own state is corrupt, so the
// process stops (TigerStyle: corrupt internal state crashes, bad input gets an error).
#define STELE_INVARIANT(cond, msg)                                   \
  do {                                                               \
    if (!(cond)) {                                                   \
      fprintf(stderr, "stele native invariant failed: %s (%s:%d)\n", \
              msg, __FILE__, __LINE__);                              \
      abort();                                                       \
    }                                                                \
  } while (0)

// CRC-32C (Castagnoli), hardware-accelerated where SSE4.2 exists. Thread-safe.
uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t length);
// The table implementation, for tests of the accelerated one.
uint32_t Crc32cPortable(uint32_t crc, const uint8_t* data, size_t length);

}  // namespace stele
