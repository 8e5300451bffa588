// SHA-256 over many small inputs in one call: the block's Merkle root and the ids of a
// block's transactions. In JavaScript each hash is a separate node:crypto call whose
// fixed cost (about a microsecond) is several times the hashing of a 200-byte input;
// here one call pays it once. OpenSSL (the one Node is built with) does the hashing.
// Everything runs on the calling (main or worker) thread, synchronously.
#include "hash.h"

#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include <cstdint>
#include <vector>

#include "common.h"

namespace stele {
namespace {

constexpr size_t kHash = 32;
// Inputs per call, at most (far above BLOCK_TXS_MAX of ledger/constants.ts).
constexpr uint32_t kItemsMax = 1u << 20;
constexpr uint8_t kLeafTag = 0x00;
constexpr uint8_t kNodeTag = 0x01;

const EVP_MD* Sha256() {
#if OPENSSL_VERSION_MAJOR >= 3
  // Fetched once: an implicit fetch per digest costs a lookup each time.
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? static_cast<const EVP_MD*>(fetched) : EVP_sha256();
  }();
  return md;
#else
  return EVP_sha256();
#endif
}

// One digest context per call, freed on every path.
class Digester {
 public:
  explicit Digester(Napi::Env env) : env_(env), ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr) throw Napi::Error::New(env, "sha256: out of memory for a digest context");
  }
  ~Digester() { EVP_MD_CTX_free(ctx_); }
  Digester(const Digester&) = delete;
  Digester& operator=(const Digester&) = delete;

  // SHA-256(tag byte, if tag >= 0 || a || b) into out.
  void Digest(int tag, const uint8_t* a, size_t an, const uint8_t* b, size_t bn, uint8_t* out) {
    unsigned int length = 0;
    uint8_t t = static_cast<uint8_t>(tag);
    bool ok = EVP_DigestInit_ex(ctx_, Sha256(), nullptr) == 1 && (tag < 0 || EVP_DigestUpdate(ctx_, &t, 1) == 1) &&
              (an == 0 || EVP_DigestUpdate(ctx_, a, an) == 1) && (bn == 0 || EVP_DigestUpdate(ctx_, b, bn) == 1) &&
              EVP_DigestFinal_ex(ctx_, out, &length) == 1;
    if (!ok || length != kHash) throw Napi::Error::New(env_, "sha256: OpenSSL failed to digest");
  }

 private:
  Napi::Env env_;
  EVP_MD_CTX* ctx_;
};

// The items of a JavaScript array of Uint8Arrays (TypeError for anything else).
std::vector<Napi::Uint8Array> Items(Napi::Env env, const Napi::Value& value, const char* usage) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, usage);
  Napi::Array array = value.As<Napi::Array>();
  uint32_t n = array.Length();
  if (n > kItemsMax) throw Napi::RangeError::New(env, "sha256: more than 2^20 inputs in one call");
  std::vector<Napi::Uint8Array> items;
  items.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsTypedArray() || item.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw Napi::TypeError::New(env, usage);
    items.push_back(item.As<Napi::Uint8Array>());
  }
  return items;
}

// sha256Many(items: Uint8Array[], tag: number): the SHA-256 of each item (after the one
// byte `tag` when 0..255; nothing before it when -1), concatenated: 32 bytes per item.
Napi::Value Sha256ManyMethod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "sha256Many(items: Uint8Array[], tag: -1..255)";
  if (info.Length() != 2 || !info[1].IsNumber()) throw Napi::TypeError::New(env, usage);
  int64_t tag = info[1].As<Napi::Number>().Int64Value();
  if (tag < -1 || tag > 255 || static_cast<double>(tag) != info[1].As<Napi::Number>().DoubleValue())
    throw Napi::RangeError::New(env, usage);
  std::vector<Napi::Uint8Array> items = Items(env, info[0], usage);
  Napi::Uint8Array out = Napi::Uint8Array::New(env, items.size() * kHash);
  Digester digester(env);
  for (size_t i = 0; i < items.size(); i++) {
    digester.Digest(static_cast<int>(tag), items[i].Data(), items[i].ByteLength(), nullptr, 0, out.Data() + i * kHash);
  }
  return out;
}

// merkleRoot(items: Uint8Array[]): the root of ledger/merkle.ts's tree over these leaves'
// data: leaf = SHA-256(0x00 || item), node = SHA-256(0x01 || left || right), an odd last
// node promoted as is, level by level; no items: SHA-256 of nothing.
Napi::Value MerkleRootMethod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "merkleRoot(items: Uint8Array[])";
  if (info.Length() != 1) throw Napi::TypeError::New(env, usage);
  std::vector<Napi::Uint8Array> items = Items(env, info[0], usage);
  Napi::Uint8Array root = Napi::Uint8Array::New(env, kHash);
  Digester digester(env);
  if (items.empty()) {
    digester.Digest(-1, nullptr, 0, nullptr, 0, root.Data());
    return root;
  }
  std::vector<uint8_t> level(items.size() * kHash);
  for (size_t i = 0; i < items.size(); i++) {
    digester.Digest(kLeafTag, items[i].Data(), items[i].ByteLength(), nullptr, 0, level.data() + i * kHash);
  }
  // Each level is written over the front of the one below it: node i reads 2i and 2i+1,
  // which are at or after the slot i it writes, and are read before being overwritten.
  size_t width = items.size();
  while (width > 1) {
    size_t next = 0;
    for (size_t i = 0; i + 1 < width; i += 2, next++) {
      uint8_t node[kHash];
      digester.Digest(kNodeTag, level.data() + i * kHash, kHash, level.data() + (i + 1) * kHash, kHash, node);
      std::memcpy(level.data() + next * kHash, node, kHash);
    }
    if (width % 2 == 1) {
      std::memmove(level.data() + next * kHash, level.data() + (width - 1) * kHash, kHash);
      next++;
    }
    STELE_INVARIANT(next == (width + 1) / 2, "a Merkle level halves, rounding up");
    width = next;
  }
  std::memcpy(root.Data(), level.data(), kHash);
  return root;
}

}  // namespace

void ExportHash(Napi::Env env, Napi::Object exports) {
  exports.Set("sha256Many", Napi::Function::New(env, Sha256ManyMethod, "sha256Many"));
  exports.Set("merkleRoot", Napi::Function::New(env, MerkleRootMethod, "merkleRoot"));
}

}  // namespace stele
