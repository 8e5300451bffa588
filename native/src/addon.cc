// Module entry: one addon, N-API version pinned in binding.gyp (NAPI_VERSION).
#include <napi.h>

#include "mapped_log.h"
#include "transport.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("MappedLog", stele::MappedLogClass(env));
  exports.Set("Transport", stele::TransportClass(env));
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
