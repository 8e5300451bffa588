#pragma once
#include <napi.h>

namespace stele {
// Adds sha256Many and merkleRoot (hash.cc) to the module's exports.
void ExportHash(Napi::Env env, Napi::Object exports);
}
