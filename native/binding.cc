// N-API layer of the loopix Sphinx addon (node-addon-api; context-aware, safe in worker threads).
// Argument checks and conversion only: every byte of crypto happens in the pure C++ files below
// (x25519, symmetric, lioness, scalar, sphinx). Argument errors throw TypeError / RangeError naming the
// argument and the expected length; packet contents never cause a throw (unwrap writes an invalid record,
// openSurbReply returns false). Geometry travels as three numbers (maxHops, addressBytes, contentBytes).
#include <napi.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "format.h"
#include "link.h"
#include "lioness.h"
#include "sphinx.h"
#include "symmetric.h"
#include "x25519.h"

namespace loopix_udp {
// native/udp.cc: batched UDP I/O for the packet-path workers.
void Register(Napi::Env env, Napi::Object exports);
}  // namespace loopix_udp

namespace {

using loopix::Geometry;

struct Bytes {
  uint8_t* data;
  size_t size;
};

[[noreturn]] void throw_type(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] void throw_range(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

// A Uint8Array argument (any view: Buffer, subarray, view into a transferred ArrayBuffer).
Bytes bytes_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (index >= info.Length() ||
      napi_get_typedarray_info(info.Env(), info[index], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    throw_type(info.Env(), std::string(name) + " must be a Uint8Array");
  }
  return {static_cast<uint8_t*>(data), length};
}

// A Uint8Array argument of exactly `expected` bytes.
Bytes bytes_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t expected) {
  Bytes b = bytes_arg(info, index, name);
  if (b.size != expected) {
    throw_range(info.Env(),
                std::string(name) + " must be " + std::to_string(expected) + " bytes, got " + std::to_string(b.size));
  }
  return b;
}

// " (3 records of 64)": how a required length is made up, for an error message.
std::string made_of(size_t count, const char* what, size_t each) {
  return " (" + std::to_string(count) + " " + what + " of " + std::to_string(each) + ")";
}

// Throws RangeError unless `b` holds at least `min` bytes; `detail` (made_of) follows the length.
void require_at_least(Napi::Env env, const char* name, const Bytes& b, size_t min, const std::string& detail = "") {
  if (b.size < min) {
    throw_range(env, std::string(name) + " must be at least " + std::to_string(min) + " bytes" + detail + ", got " +
                         std::to_string(b.size));
  }
}

// Throws RangeError unless `b` holds at most `max` bytes.
void require_at_most(Napi::Env env, const char* name, const Bytes& b, size_t max) {
  if (b.size > max) {
    throw_range(
        env, std::string(name) + " must be at most " + std::to_string(max) + " bytes, got " + std::to_string(b.size));
  }
}

double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  double v = 0;
  if (index >= info.Length() || napi_get_value_double(info.Env(), info[index], &v) != napi_ok) {
    throw_type(info.Env(), std::string(name) + " must be a number");
  }
  return v;
}

// A JS number for an error message (integers without a fraction, anything else as %g).
std::string show(double v) {
  if (std::isfinite(v) && std::fabs(v) < 1e15 && std::floor(v) == v) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// An integer argument in [lo, hi].
size_t integer_arg(const Napi::CallbackInfo& info, size_t index, const char* name, double lo, double hi) {
  double v = number_arg(info, index, name);
  if (!std::isfinite(v) || std::floor(v) != v) {
    throw_type(info.Env(), std::string(name) + " must be an integer, got " + show(v));
  }
  if (v < lo || v > hi) {
    throw_range(info.Env(), std::string(name) + " must be in [" + show(lo) + ", " + show(hi) + "], got " + show(v));
  }
  return static_cast<size_t>(v);
}

// Geometry from arguments index .. index+2.
Geometry geometry_arg(const Napi::CallbackInfo& info, size_t index) {
  Geometry g{};
  std::string error;
  double r = number_arg(info, index, "geometry.maxHops");
  double a = number_arg(info, index + 1, "geometry.addressBytes");
  double c = number_arg(info, index + 2, "geometry.contentBytes");
  switch (loopix::make_geometry(r, a, c, &g, &error)) {
    case loopix::ArgCheck::kOk:
      return g;
    case loopix::ArgCheck::kTypeError:
      throw_type(info.Env(), error);
    default:
      throw_range(info.Env(), error);
  }
}

Napi::Uint8Array new_bytes(Napi::Env env, size_t n) { return Napi::Uint8Array::New(env, n); }

// Runs `body`, turning internal (OpenSSL) failures into JS Errors; Napi::Error passes through.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// ---- primitives ---------------------------------------------------------------------------------------

// x25519(scalar, point) through `kX25519` (loopix::x25519, or loopix::x25519_evp: the EVP path always);
// an all-zero result for small-order points.
template <bool (*kX25519)(uint8_t*, const uint8_t*, const uint8_t*)>
Napi::Value X25519(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Bytes scalar = bytes_arg(info, 0, "scalar", loopix::kKeyBytes);
    Bytes point = bytes_arg(info, 1, "point", loopix::kKeyBytes);
    Napi::Uint8Array out = new_bytes(info.Env(), loopix::kKeyBytes);
    kX25519(out.Data(), scalar.data, point.data);
    return out;
  });
}

Napi::Value X25519Base(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Bytes scalar = bytes_arg(info, 0, "scalar", loopix::kKeyBytes);
    Napi::Uint8Array out = new_bytes(info.Env(), loopix::kKeyBytes);
    loopix::x25519_base(out.Data(), scalar.data);
    return out;
  });
}

Napi::Value Aes128Ctr(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Bytes key = bytes_arg(info, 0, "key", loopix::kAesKeyBytes);
    Bytes iv = bytes_arg(info, 1, "iv", loopix::kAesIvBytes);
    Bytes data = bytes_arg(info, 2, "data");
    Napi::Uint8Array out = new_bytes(info.Env(), data.size);
    loopix::AesScrubOnExit scrub;
    if (data.size > 0) loopix::aes128_ctr_xor(key.data, iv.data, data.data, out.Data(), data.size);
    return out;
  });
}

Napi::Value HmacSha256(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Bytes key = bytes_arg(info, 0, "key");
    Bytes data = bytes_arg(info, 1, "data");
    Napi::Uint8Array out = new_bytes(info.Env(), loopix::kSha256Bytes);
    loopix::hmac_sha256(key.data, key.size, data.data, data.size, out.Data());
    return out;
  });
}

Napi::Value HkdfSha256(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Bytes salt = bytes_arg(info, 0, "salt");
    Bytes ikm = bytes_arg(info, 1, "ikm");
    Bytes infob = bytes_arg(info, 2, "info");
    size_t length = integer_arg(info, 3, "length", 0, static_cast<double>(loopix::kHkdfMaxBytes));
    Napi::Uint8Array out = new_bytes(info.Env(), length);
    loopix::hkdf_sha256(salt.data, salt.size, ikm.data, ikm.size, infob.data, infob.size, out.Data(), length);
    return out;
  });
}

template <bool kEncrypt>
Napi::Value Lioness(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Bytes key = bytes_arg(info, 0, "key", loopix::kLionessKeyBytes);
    Bytes block = bytes_arg(info, 1, "block");
    if (block.size <= loopix::kLionessLeftBytes) {
      throw_range(info.Env(), "block must be more than " + std::to_string(loopix::kLionessLeftBytes) + " bytes, got " +
                                  std::to_string(block.size));
    }
    Napi::Uint8Array out = new_bytes(info.Env(), block.size);
    std::memcpy(out.Data(), block.data, block.size);
    loopix::AesScrubOnExit scrub;
    if (kEncrypt) {
      loopix::lioness_encrypt(key.data, out.Data(), block.size);
    } else {
      loopix::lioness_decrypt(key.data, out.Data(), block.size);
    }
    return out;
  });
}

// ---- packets --------------------------------------------------------------------------------------------

// Path from (epoch, publicKeys, routing) at `index`: publicKeys = hops × kKeyBytes, routing = hops × t bytes.
loopix::Path path_arg(const Napi::CallbackInfo& info, size_t index, const Geometry& g, bool for_surb) {
  loopix::Path path{};
  path.epoch =
      static_cast<uint16_t>(integer_arg(info, index, "epoch", 0, static_cast<double>(loopix::kMaxPrefixEpoch)));
  Bytes keys = bytes_arg(info, index + 1, "publicKeys");
  Bytes routing = bytes_arg(info, index + 2, "routing");
  if (keys.size == 0 || keys.size % loopix::kKeyBytes != 0) {
    throw_range(info.Env(), "publicKeys must be a non-zero multiple of " + std::to_string(loopix::kKeyBytes) +
                                " bytes, got " + std::to_string(keys.size));
  }
  path.hops = keys.size / loopix::kKeyBytes;
  if (routing.size != path.hops * g.routing_bytes) {
    throw_range(info.Env(), "routing must be " + std::to_string(path.hops * g.routing_bytes) + " bytes (" +
                                std::to_string(path.hops) + " hops of " + std::to_string(g.routing_bytes) + "), got " +
                                std::to_string(routing.size));
  }
  path.public_keys = keys.data;
  path.routing = routing.data;
  std::string error;
  if (!loopix::check_path(g, path, for_surb, &error)) throw_range(info.Env(), error);
  return path;
}

void throw_create_failure(Napi::Env env, const loopix::CreateResult& r) {
  if (r.status == loopix::CreateStatus::kUnliftable) throw Napi::Error::New(env, "unliftable scalar");
  throw Napi::Error::New(
      env, "hops[" + std::to_string(r.hop) + "].publicKey gives an all-zero shared secret (point of small order)");
}

// createPacket(maxHops, addressBytes, contentBytes, epoch, publicKeys, routing, content, seed, out)
Napi::Value CreatePacket(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Geometry g = geometry_arg(info, 0);
    loopix::Path path = path_arg(info, 3, g, false);
    Bytes content = bytes_arg(info, 6, "content");
    require_at_most(info.Env(), "content", content, g.content_bytes);
    Bytes seed = bytes_arg(info, 7, "seed", loopix::kSeedBytes);
    Bytes out = bytes_arg(info, 8, "out", g.packet_bytes);
    loopix::CreateResult r = loopix::create_packet(g, path, content.data, content.size, seed.data, out.data);
    if (r.status != loopix::CreateStatus::kOk) throw_create_failure(info.Env(), r);
    return info.Env().Undefined();
  });
}

// unwrap(maxHops, addressBytes, contentBytes, privateKey, packet, record) -> kind
Napi::Value Unwrap(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Geometry g = geometry_arg(info, 0);
    Bytes sk = bytes_arg(info, 3, "privateKey", loopix::kKeyBytes);
    Bytes packet = bytes_arg(info, 4, "packet");
    Bytes record = bytes_arg(info, 5, "record");
    require_at_least(info.Env(), "record", record, g.record_bytes);
    uint8_t kind = loopix::unwrap(g, sk.data, packet.data, packet.size, record.data);
    return Napi::Number::New(info.Env(), kind);
  });
}

// unwrapBatch(maxHops, addressBytes, contentBytes, privateKey, packets, records) -> count
Napi::Value UnwrapBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Geometry g = geometry_arg(info, 0);
    Bytes sk = bytes_arg(info, 3, "privateKey", loopix::kKeyBytes);
    Bytes packets = bytes_arg(info, 4, "packets");
    Bytes records = bytes_arg(info, 5, "records");
    if (packets.size % g.packet_bytes != 0) {
      throw_range(info.Env(), "packets must be a multiple of " + std::to_string(g.packet_bytes) + " bytes, got " +
                                  std::to_string(packets.size));
    }
    size_t count = packets.size / g.packet_bytes;
    require_at_least(info.Env(), "records", records, count * g.record_bytes, made_of(count, "records", g.record_bytes));
    size_t done = count > 0 ? loopix::unwrap_batch(g, sk.data, packets.data, count, records.data) : 0;
    return Napi::Number::New(info.Env(), static_cast<double>(done));
  });
}

// createSurb(maxHops, addressBytes, contentBytes, epoch, publicKeys, routing, firstHop, seed, surbOut, keysOut)
Napi::Value CreateSurb(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Geometry g = geometry_arg(info, 0);
    loopix::Path path = path_arg(info, 3, g, true);
    Bytes first_hop = bytes_arg(info, 6, "firstHop", g.address_bytes);
    Bytes seed = bytes_arg(info, 7, "seed", loopix::kSeedBytes);
    Bytes surb = bytes_arg(info, 8, "surbOut", g.surb_bytes);
    Bytes keys = bytes_arg(info, 9, "keysOut", (path.hops + 1) * loopix::kLionessKeyBytes);
    loopix::CreateResult r = loopix::create_surb(g, path, first_hop.data, seed.data, surb.data, keys.data);
    if (r.status != loopix::CreateStatus::kOk) throw_create_failure(info.Env(), r);
    return info.Env().Undefined();
  });
}

// createSurbReply(maxHops, addressBytes, contentBytes, surb, content, out)
Napi::Value CreateSurbReply(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Geometry g = geometry_arg(info, 0);
    Bytes surb = bytes_arg(info, 3, "surb", g.surb_bytes);
    Bytes content = bytes_arg(info, 4, "content");
    require_at_most(info.Env(), "content", content, g.content_bytes);
    Bytes out = bytes_arg(info, 5, "out", g.packet_bytes);
    loopix::create_surb_reply(g, surb.data, content.data, content.size, out.data);
    return info.Env().Undefined();
  });
}

// openSurbReply(maxHops, addressBytes, contentBytes, decryptionKeys, payload, contentOut) -> boolean
Napi::Value OpenSurbReply(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Geometry g = geometry_arg(info, 0);
    Bytes keys = bytes_arg(info, 3, "decryptionKeys");
    size_t max_keys = (g.max_hops + 1) * loopix::kLionessKeyBytes;
    if (keys.size % loopix::kLionessKeyBytes != 0 || keys.size < 2 * loopix::kLionessKeyBytes || keys.size > max_keys) {
      throw_range(info.Env(), "decryptionKeys must be (hops + 1) * 128 bytes with 1 <= hops <= " +
                                  std::to_string(g.max_hops) + ", got " + std::to_string(keys.size));
    }
    Bytes payload = bytes_arg(info, 4, "payload");
    Bytes content = bytes_arg(info, 5, "contentOut", g.content_bytes);
    bool ok = loopix::open_surb_reply(g, keys.data, keys.size / loopix::kLionessKeyBytes, payload.data, payload.size,
                                      content.data);
    return Napi::Boolean::New(info.Env(), ok);
  });
}

// ---- link layer (native/link.h) -----------------------------------------------------------------------

// Checks the shared arguments of the two link batch calls; returns the count.
size_t link_batch_args(const Napi::CallbackInfo& info, Bytes& keys, Bytes& datagrams, size_t& payload_len) {
  keys = bytes_arg(info, 0, "keys");
  datagrams = bytes_arg(info, 1, "datagrams");
  payload_len = integer_arg(info, 2, "payloadBytes", 1, 65535);
  size_t count = integer_arg(info, 3, "count", 0, 1 << 24);
  size_t stride = loopix::kLinkHeaderBytes + payload_len + loopix::kLinkTagBytes;
  require_at_least(info.Env(), "keys", keys, count * loopix::kLinkKeyBytes,
                   made_of(count, "keys", loopix::kLinkKeyBytes));
  require_at_least(info.Env(), "datagrams", datagrams, count * stride, made_of(count, "datagrams", stride));
  return count;
}

// linkSealBatch(keys, datagrams, payloadBytes, count): seals in place.
Napi::Value LinkSealBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Bytes keys{}, datagrams{};
    size_t payload_len = 0;
    size_t count = link_batch_args(info, keys, datagrams, payload_len);
    if (count > 0) loopix::link_seal_batch(keys.data, datagrams.data, payload_len, count);
    return info.Env().Undefined();
  });
}

// linkOpenBatch(keys, datagrams, payloadBytes, count, ok): opens in place; ok[i] = 1 where the tag verified.
Napi::Value LinkOpenBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Bytes keys{}, datagrams{};
    size_t payload_len = 0;
    size_t count = link_batch_args(info, keys, datagrams, payload_len);
    Bytes ok = bytes_arg(info, 4, "ok");
    require_at_least(info.Env(), "ok", ok, count);
    if (count > 0) loopix::link_open_batch(keys.data, datagrams.data, payload_len, count, ok.data);
    return info.Env().Undefined();
  });
}

// The constants of native/format.h as a frozen-by-convention plain object, for test/format-parity.test.ts.
Napi::Object FormatConstants(Napi::Env env) {
  Napi::Object f = Napi::Object::New(env);
  auto set = [&](const char* name, size_t v) { f.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
  set("version", loopix::kVersion);
  set("prefixBytes", loopix::kPrefixBytes);
  set("epochOffset", loopix::kEpochOffset);
  set("maxPrefixEpoch", loopix::kMaxPrefixEpoch);
  set("groupBytes", loopix::kGroupBytes);
  set("macBytes", loopix::kMacBytes);
  set("commandBytes", loopix::kCommandBytes);
  set("delayBytes", loopix::kDelayBytes);
  set("integrityBytes", loopix::kIntegrityBytes);
  set("replayTagBytes", loopix::kReplayTagBytes);
  set("lionessKeyBytes", loopix::kLionessKeyBytes);
  set("lionessMinBlockBytes", loopix::kLionessMinBlockBytes);
  set("surbKeyBytes", loopix::kSurbKeyBytes);
  set("seedBytes", loopix::kSeedBytes);
  set("keyBytes", loopix::kKeyBytes);
  set("aesKeyBytes", loopix::kAesKeyBytes);
  set("aesIvBytes", loopix::kAesIvBytes);
  set("sha256Bytes", loopix::kSha256Bytes);
  set("hkdfMaxBytes", loopix::kHkdfMaxBytes);
  set("minHops", loopix::kMinHops);
  set("maxHops", loopix::kMaxHops);
  set("minAddressBytes", loopix::kMinAddress);
  set("maxAddressBytes", loopix::kMaxAddress);
  set("minContentBytes", loopix::kMinContent);
  set("maxContentBytes", loopix::kMaxContent);
  set("routingCommandOffset", loopix::kRoutingCommandOffset);
  set("routingDelayOffset", loopix::kRoutingDelayOffset);
  set("routingAddressOffset", loopix::kRoutingAddressOffset);
  set("recordKindOffset", loopix::kRecordKindOffset);
  set("recordReasonOffset", loopix::kRecordReasonOffset);
  set("recordDelayOffset", loopix::kRecordDelayOffset);
  set("recordAddressOffset", loopix::kRecordAddressOffset);
  set("maxRecordBytes", loopix::kMaxRecordBytes);
  set("recordNoKeyReason", loopix::kRecordNoKeyReason);
  set("linkHeaderBytes", loopix::kLinkHeaderBytes);
  set("linkTagBytes", loopix::kLinkTagBytes);
  set("linkKeyBytes", loopix::kLinkKeyBytes);
  return f;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("format", FormatConstants(env));
  exports.Set("x25519Impl", Napi::String::New(env, loopix::x25519_impl()));
  exports.Set("x25519", Napi::Function::New(env, X25519<loopix::x25519>, "x25519"));
  exports.Set("x25519Base", Napi::Function::New(env, X25519Base, "x25519Base"));
  exports.Set("x25519Evp", Napi::Function::New(env, X25519<loopix::x25519_evp>, "x25519Evp"));
  exports.Set("aes128Ctr", Napi::Function::New(env, Aes128Ctr, "aes128Ctr"));
  exports.Set("hmacSha256", Napi::Function::New(env, HmacSha256, "hmacSha256"));
  exports.Set("hkdfSha256", Napi::Function::New(env, HkdfSha256, "hkdfSha256"));
  exports.Set("lionessEncrypt", Napi::Function::New(env, Lioness<true>, "lionessEncrypt"));
  exports.Set("lionessDecrypt", Napi::Function::New(env, Lioness<false>, "lionessDecrypt"));
  exports.Set("createPacket", Napi::Function::New(env, CreatePacket, "createPacket"));
  exports.Set("unwrap", Napi::Function::New(env, Unwrap, "unwrap"));
  exports.Set("unwrapBatch", Napi::Function::New(env, UnwrapBatch, "unwrapBatch"));
  exports.Set("createSurb", Napi::Function::New(env, CreateSurb, "createSurb"));
  exports.Set("createSurbReply", Napi::Function::New(env, CreateSurbReply, "createSurbReply"));
  exports.Set("linkSealBatch", Napi::Function::New(env, LinkSealBatch, "linkSealBatch"));
  exports.Set("linkOpenBatch", Napi::Function::New(env, LinkOpenBatch, "linkOpenBatch"));
  exports.Set("openSurbReply", Napi::Function::New(env, OpenSurbReply, "openSurbReply"));
  loopix_udp::Register(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(loopix_sphinx, Init)
