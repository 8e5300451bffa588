// Module entry: one addon, N-API version pinned in binding.gyp (NAPI_VERSION).
#include <napi.h>

#include "common.h"

#include "hash.h"
#include "mapped_log.h"
#include "transport.h"

namespace {

// crc32c(bytes, portable?): CRC-32C of bytes, for tests (the log's checksum).
Napi::Value Crc32cMethod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsTypedArray() || !info[1].IsBoolean())
    throw Napi::TypeError::New(env, "crc32c(bytes: Uint8Array, portable: boolean)");
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  bool portable = info[1].As<Napi::Boolean>().Value();
  uint32_t crc = portable ? stele::Crc32cPortable(0, bytes.Data(), bytes.ByteLength())
                          : stele::Crc32c(0, bytes.Data(), bytes.ByteLength());
  return Napi::Number::New(env, crc);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("MappedLog", stele::MappedLogClass(env));
  exports.Set("injectLogFault", Napi::Function::New(env, stele::InjectLogFault, "injectLogFault"));
  exports.Set("Transport", stele::TransportClass(env));
  exports.Set("crc32c", Napi::Function::New(env, Crc32cMethod, "crc32c"));
  stele::ExportHash(env, exports);
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
#ifdef STELE_FABRIC
  exports.Set("fabric", Napi::Boolean::New(env, true));
#else
  exports.Set("fabric", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(stele_native, Init)
