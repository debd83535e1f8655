// The loopix Sphinx packet format, version 1: create, unwrap, batch unwrap, SURBs (see sphinx.h and
// docs/packet-format.md; section numbers below refer to that document).
#include "sphinx.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "bytes.h"
#include "lioness.h"
#include "scalar.h"
#include "symmetric.h"
#include "x25519.h"

namespace loopix {
namespace {

// ---- labels (§3, §5, §7): ASCII, no terminating zero -------------------------------------------------
constexpr char kSalt[] = "loopix-sphinx-v1";
constexpr char kLabelHeaderStream[] = "loopix-sphinx-v1 header-stream";
constexpr char kLabelHeaderMac[] = "loopix-sphinx-v1 header-mac";
constexpr char kLabelPayload[] = "loopix-sphinx-v1 payload";
constexpr char kLabelBlind[] = "loopix-sphinx-v1 blind";
constexpr char kLabelReplay[] = "loopix-sphinx-v1 replay";
constexpr char kLabelCreateScalar[] = "loopix-sphinx-v1 create-scalar";
constexpr char kLabelCreatePadding[] = "loopix-sphinx-v1 create-padding";
constexpr char kLabelSurbKey[] = "loopix-sphinx-v1 surb-key";
constexpr char kLabelSurbPayload[] = "loopix-sphinx-v1 surb-payload";

constexpr size_t kMaxSlotBytes = kRoutingAddressOffset + kMaxAddress + kMacBytes;
constexpr size_t kMaxStreamBytes = (kMaxHops + 1) * kMaxSlotBytes;  // L + s at the largest geometry

const uint8_t kZeroIv[kAesIvBytes] = {0};

template <size_t N>
void expand(const HmacSha256Key& prk, const char (&label)[N], uint8_t* out, size_t len) {
  hkdf_expand(prk, reinterpret_cast<const uint8_t*>(label), N - 1, out, len);
}

// HMAC key of HKDF-Extract's constant salt, keyed once per process (read-only afterwards).
const HmacSha256Key& salt_key() {
  static const HmacSha256Key key(reinterpret_cast<const uint8_t*>(kSalt), sizeof(kSalt) - 1);
  return key;
}

// PRK = HKDF-Extract(salt, ikm parts), returned as a keyed HMAC.
void extract(std::initializer_list<ByteSpan> ikm, HmacSha256Key* prk_key) {
  uint8_t prk[kSha256Bytes];
  Wipe wipe(prk, sizeof(prk));
  hkdf_extract(salt_key(), ikm, prk);
  prk_key->set(prk, sizeof(prk));
}

// One hop's keys (§3); wiped on destruction.
struct HopKeys {
  uint8_t rho[kAesKeyBytes];
  uint8_t mu[kSha256Bytes];
  uint8_t pi[kLionessKeyBytes];
  uint8_t b[kKeyBytes];
  uint8_t tag[kReplayTagBytes];
  HopKeys() = default;
  ~HopKeys() { OPENSSL_cleanse(this, sizeof(*this)); }
  HopKeys(const HopKeys&) = delete;
  HopKeys& operator=(const HopKeys&) = delete;
};

// The sender's seed-derived randomness (§5).
struct SeedKeys {
  uint8_t x[kKeyBytes];
  uint8_t pad_key[kAesKeyBytes];
  uint8_t surb_key[kSurbKeyBytes];
  SeedKeys(const uint8_t seed[kSeedBytes], bool with_surb_key) {
    HmacSha256Key prk;
    extract({{seed, kSeedBytes}}, &prk);
    expand(prk, kLabelCreateScalar, x, sizeof(x));
    expand(prk, kLabelCreatePadding, pad_key, sizeof(pad_key));
    if (with_surb_key) {
      expand(prk, kLabelSurbKey, surb_key, sizeof(surb_key));
    } else {
      std::memset(surb_key, 0, sizeof(surb_key));
    }
  }
  ~SeedKeys() { OPENSSL_cleanse(this, sizeof(*this)); }
  SeedKeys(const SeedKeys&) = delete;
  SeedKeys& operator=(const SeedKeys&) = delete;
};

void write_prefix(uint8_t* out, uint16_t epoch) {
  out[0] = kVersion;
  out[1] = 0;
  out[kEpochOffset] = static_cast<uint8_t>(epoch >> 8);
  out[kEpochOffset + 1] = static_cast<uint8_t>(epoch & 0xff);
}

// gamma = HMAC(mu, prefix || beta)[0..M)
void header_mac(const uint8_t mu[kSha256Bytes], const uint8_t* prefix, const uint8_t* beta, size_t beta_len,
                uint8_t out[kSha256Bytes]) {
  HmacSha256Key key(mu, kSha256Bytes);
  key.mac({{prefix, kPrefixBytes}, {beta, beta_len}}, out);
}

// §5.1-§5.2: writes the header (g.header_bytes) and every hop's LIONESS key (path.hops * 128) to `pis`.
CreateResult build_header(const Geometry& g, const Path& path, const SeedKeys& seed, uint8_t* header, uint8_t* pis) {
  const size_t nu = path.hops, r = g.max_hops, t = g.routing_bytes, s = g.slot_bytes, L = g.beta_bytes;
  const size_t stream_len = L + s;
  AesScrubOnExit scrub;
  SecretBuffer streams(nu * stream_len);
  SecretBuffer mus(nu * kSha256Bytes);
  uint8_t alpha[kGroupBytes], alpha0[kGroupBytes], secret[kKeyBytes], k[kKeyBytes];
  Wipe wipe_secret(secret, sizeof(secret));
  Wipe wipe_k(k, sizeof(k));

  {
    BlindingScalar e(seed.x);
    for (size_t i = 0; i < nu; i++) {
      if (!e.lift(k)) return {CreateStatus::kUnliftable, i};
      x25519_base(alpha, k);  // α_i = X25519(k_i, 9)
      if (i == 0) std::memcpy(alpha0, alpha, sizeof(alpha));
      if (!x25519(secret, k, path.public_keys + i * kKeyBytes)) {  // s_i = X25519(k_i, Y_i)
        return {CreateStatus::kBadPublicKey, i};
      }
      HopKeys keys;
      {
        HmacSha256Key prk;
        extract({{alpha, kGroupBytes}, {secret, sizeof(secret)}}, &prk);
        expand(prk, kLabelHeaderStream, keys.rho, sizeof(keys.rho));
        expand(prk, kLabelHeaderMac, keys.mu, sizeof(keys.mu));
        expand(prk, kLabelPayload, keys.pi, sizeof(keys.pi));
        expand(prk, kLabelBlind, keys.b, sizeof(keys.b));
      }
      aes128_ctr_stream(keys.rho, kZeroIv, streams.data() + i * stream_len, stream_len);
      std::memcpy(mus.data() + i * kSha256Bytes, keys.mu, kSha256Bytes);
      std::memcpy(pis + i * kLionessKeyBytes, keys.pi, kLionessKeyBytes);
      if (i + 1 < nu) e.multiply_clamped(keys.b);  // e_{i+1} = e_i · clamp(b_i) mod ℓ
    }
  }

  // Filler: φ_i = (φ_{i-1} || 0^s) XOR stream_{i-1}[L + s − i·s .. L + s), i = 1 .. ν−1.
  SecretBuffer phi(nu > 1 ? (nu - 1) * s : 1);
  for (size_t i = 1; i < nu; i++) {
    std::memset(phi.data() + (i - 1) * s, 0, s);
    xor_into(phi.data(), streams.data() + (i - 1) * stream_len + (stream_len - i * s), i * s);
  }

  uint8_t prefix[kPrefixBytes];
  write_prefix(prefix, path.epoch);
  SecretBuffer beta(L);
  uint8_t gamma[kSha256Bytes];
  // Last hop: beta = ((routing || 0^M || pad) XOR stream[0 .. (r−ν+1)·s)) || φ_{ν−1}.
  const size_t last = nu - 1, head = (r - nu + 1) * s;
  std::memcpy(beta.data(), path.routing + last * t, t);
  std::memset(beta.data() + t, 0, kMacBytes);
  if (r > nu) aes128_ctr_stream(seed.pad_key, kZeroIv, beta.data() + s, (r - nu) * s);
  xor_into(beta.data(), streams.data() + last * stream_len, head);
  if (last > 0) std::memcpy(beta.data() + head, phi.data(), last * s);
  header_mac(mus.data() + last * kSha256Bytes, prefix, beta.data(), L, gamma);
  // Hops ν−2 .. 0: beta_i = (routing_i || gamma_{i+1} || beta_{i+1}[0 .. L − s)) XOR stream_i[0 .. L).
  for (size_t i = last; i-- > 0;) {
    std::memmove(beta.data() + s, beta.data(), L - s);
    std::memcpy(beta.data(), path.routing + i * t, t);
    std::memcpy(beta.data() + t, gamma, kMacBytes);
    xor_into(beta.data(), streams.data() + i * stream_len, L);
    header_mac(mus.data() + i * kSha256Bytes, prefix, beta.data(), L, gamma);
  }

  std::memcpy(header, prefix, kPrefixBytes);
  std::memcpy(header + kPrefixBytes, alpha0, kGroupBytes);
  std::memcpy(header + kPrefixBytes + kGroupBytes, beta.data(), L);
  std::memcpy(header + kPrefixBytes + kGroupBytes + L, gamma, kMacBytes);
  return {CreateStatus::kOk, 0};
}

// 0^Z || content || 0^(C − |content|)
void write_plain_payload(const Geometry& g, const uint8_t* content, size_t content_len, uint8_t* payload) {
  std::memset(payload, 0, g.payload_bytes);
  if (content_len > 0) std::memcpy(payload + kIntegrityBytes, content, content_len);
}

void surb_payload_key(const uint8_t surb_key[kSurbKeyBytes], uint8_t pi_surb[kLionessKeyBytes]) {
  HmacSha256Key prk;
  extract({{surb_key, kSurbKeyBytes}}, &prk);
  expand(prk, kLabelSurbPayload, pi_surb, kLionessKeyBytes);
}

std::string show(double v) {
  if (std::isfinite(v) && std::fabs(v) < 1e15 && std::floor(v) == v) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

bool integer_in(double v, size_t lo, size_t hi, const char* name, std::string* error, ArgCheck* kind) {
  if (!std::isfinite(v) || std::floor(v) != v) {
    *error = std::string("geometry.") + name + " must be an integer, got " + show(v);
    *kind = ArgCheck::kTypeError;
    return false;
  }
  if (v < static_cast<double>(lo) || v > static_cast<double>(hi)) {
    *error = std::string("geometry.") + name + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
             "], got " + show(v);
    *kind = ArgCheck::kRangeError;
    return false;
  }
  return true;
}

}  // namespace

ArgCheck make_geometry(double max_hops, double address_bytes, double content_bytes, Geometry* g, std::string* error) {
  ArgCheck kind = ArgCheck::kOk;
  if (!integer_in(max_hops, kMinHops, kMaxHops, "maxHops", error, &kind) ||
      !integer_in(address_bytes, kMinAddress, kMaxAddress, "addressBytes", error, &kind) ||
      !integer_in(content_bytes, kMinContent, kMaxContent, "contentBytes", error, &kind)) {
    return kind;
  }
  g->max_hops = static_cast<size_t>(max_hops);
  g->address_bytes = static_cast<size_t>(address_bytes);
  g->content_bytes = static_cast<size_t>(content_bytes);
  g->routing_bytes = kRoutingAddressOffset + g->address_bytes;
  g->slot_bytes = g->routing_bytes + kMacBytes;
  g->beta_bytes = g->max_hops * g->slot_bytes;
  g->header_bytes = kPrefixBytes + kGroupBytes + g->beta_bytes + kMacBytes;
  g->payload_bytes = kIntegrityBytes + g->content_bytes;
  g->packet_bytes = g->header_bytes + g->payload_bytes;
  g->surb_bytes = g->address_bytes + g->header_bytes + kSurbKeyBytes;
  g->record_bytes = kRecordAddressOffset + g->address_bytes + kReplayTagBytes;
  return ArgCheck::kOk;
}

bool check_path(const Geometry& g, const Path& path, bool for_surb, std::string* error) {
  if (path.hops < 1 || path.hops > g.max_hops) {
    *error = "hops.length must be in [1, " + std::to_string(g.max_hops) + "], got " + std::to_string(path.hops);
    return false;
  }
  for (size_t i = 0; i < path.hops; i++) {
    uint8_t command = path.routing[i * g.routing_bytes];
    if (command < kRelay || command > kSurbReply) {
      *error = "hops[" + std::to_string(i) + "].command must be in [" + std::to_string(kRelay) + ", " +
               std::to_string(kSurbReply) + "], got " + std::to_string(command);
      return false;
    }
  }
  if (for_surb && path.routing[(path.hops - 1) * g.routing_bytes] != kSurbReply) {
    *error = "the last hop of a SURB path must have command SURB_REPLY (" + std::to_string(kSurbReply) + ")";
    return false;
  }
  return true;
}

CreateResult create_packet(const Geometry& g, const Path& path, const uint8_t* content, size_t content_len,
                           const uint8_t seed[kSeedBytes], uint8_t* packet) {
  AesScrubOnExit scrub;
  SeedKeys seed_keys(seed, false);
  SecretBuffer pis(path.hops * kLionessKeyBytes);
  CreateResult result = build_header(g, path, seed_keys, packet, pis.data());
  if (result.status != CreateStatus::kOk) return result;
  // §5.3: delta = LIONESS-Encrypt(pi_{ν−1}, plain), then pi_{ν−2} .. pi_0.
  uint8_t* payload = packet + g.header_bytes;
  write_plain_payload(g, content, content_len, payload);
  for (size_t i = path.hops; i-- > 0;) lioness_encrypt(pis.data() + i * kLionessKeyBytes, payload, g.payload_bytes);
  return result;
}

uint8_t unwrap(const Geometry& g, const uint8_t private_key[kKeyBytes], uint8_t* packet, size_t packet_len,
               uint8_t* record) {
  std::memset(record, 0, g.record_bytes);
  auto invalid = [record](Reason reason) -> uint8_t {
    record[kRecordKindOffset] = kKindInvalid;
    record[kRecordReasonOffset] = reason;
    return kKindInvalid;
  };
  // 1. Length, version.
  if (packet_len != g.packet_bytes) return invalid(kReasonLength);
  if (packet[0] != kVersion || packet[1] != 0) return invalid(kReasonVersion);
  const size_t t = g.routing_bytes, s = g.slot_bytes, L = g.beta_bytes, A = g.address_bytes;
  uint8_t* alpha = packet + kPrefixBytes;
  uint8_t* beta = alpha + kGroupBytes;
  uint8_t* gamma = beta + L;
  uint8_t* payload = packet + g.header_bytes;

  // 2. Shared secret.
  uint8_t secret[kKeyBytes];
  Wipe wipe_secret(secret, sizeof(secret));
  if (!x25519(secret, private_key, alpha)) return invalid(kReasonPoint);

  // 3. PRK, rho, mu; header MAC.
  HopKeys keys;
  HmacSha256Key prk;
  extract({{alpha, kGroupBytes}, {secret, sizeof(secret)}}, &prk);
  expand(prk, kLabelHeaderStream, keys.rho, sizeof(keys.rho));
  expand(prk, kLabelHeaderMac, keys.mu, sizeof(keys.mu));
  uint8_t mac[kSha256Bytes];
  header_mac(keys.mu, packet, beta, L, mac);
  if (!ct_equal(mac, gamma, kMacBytes)) return invalid(kReasonMac);

  // 4. pi, b, tag; B = (beta || 0^s) XOR stream(rho).
  AesScrubOnExit scrub;
  expand(prk, kLabelPayload, keys.pi, sizeof(keys.pi));
  expand(prk, kLabelBlind, keys.b, sizeof(keys.b));
  expand(prk, kLabelReplay, keys.tag, sizeof(keys.tag));
  uint8_t B[kMaxStreamBytes];
  Wipe wipe_b(B, L + s);
  std::memcpy(B, beta, L);
  std::memset(B + L, 0, s);
  aes128_ctr_xor(keys.rho, kZeroIv, B, B, L + s);
  const uint8_t command = B[kRoutingCommandOffset];
  if (command < kRelay || command > kSurbReply) return invalid(kReasonCommand);

  // 5. payload' = LIONESS-Decrypt(pi, payload), in place.
  lioness_decrypt(keys.pi, payload, g.payload_bytes);

  // 6. By command.
  uint8_t kind = kKindInvalid;
  bool with_delay = false, with_address = true;
  switch (command) {
    case kRelay:
    case kDeliver: {
      uint8_t next_alpha[kGroupBytes];
      x25519(next_alpha, keys.b, alpha);  // non-zero: alpha has a large-order component (secret != 0)
      std::memcpy(alpha, next_alpha, kGroupBytes);
      std::memcpy(beta, B + s, L);
      std::memcpy(gamma, B + t, kMacBytes);
      kind = command == kRelay ? kKindRelay : kKindDeliver;
      with_delay = true;
      break;
    }
    case kDrop:
      kind = kKindDrop;
      with_address = false;
      break;
    case kFinal:
    case kLoop:
      if (!ct_is_zero(payload, kIntegrityBytes)) return invalid(kReasonIntegrity);
      kind = command == kFinal ? kKindFinal : kKindLoop;
      break;
    default:  // kSurbReply: integrity is checked by open_surb_reply
      kind = kKindSurbReply;
      break;
  }
  record[kRecordKindOffset] = kind;
  if (with_delay) {  // big-endian in the header, little-endian in the record
    for (size_t i = 0; i < kDelayBytes; i++)
      record[kRecordDelayOffset + i] = B[kRoutingDelayOffset + kDelayBytes - 1 - i];
  }
  if (with_address) std::memcpy(record + kRecordAddressOffset, B + kRoutingAddressOffset, A);
  std::memcpy(record + kRecordAddressOffset + A, keys.tag, kReplayTagBytes);
  return kind;
}

size_t unwrap_batch(const Geometry& g, const uint8_t private_key[kKeyBytes], uint8_t* packets, size_t count,
                    uint8_t* records) {
  for (size_t i = 0; i < count; i++) {
    unwrap(g, private_key, packets + i * g.packet_bytes, g.packet_bytes, records + i * g.record_bytes);
  }
  return count;
}

CreateResult create_surb(const Geometry& g, const Path& path, const uint8_t* first_hop, const uint8_t seed[kSeedBytes],
                         uint8_t* surb, uint8_t* keys) {
  SeedKeys seed_keys(seed, true);
  SecretBuffer header(g.header_bytes);
  CreateResult result = build_header(g, path, seed_keys, header.data(), keys);
  if (result.status != CreateStatus::kOk) {
    OPENSSL_cleanse(keys, path.hops * kLionessKeyBytes);
    return result;
  }
  surb_payload_key(seed_keys.surb_key, keys + path.hops * kLionessKeyBytes);
  std::memcpy(surb, first_hop, g.address_bytes);
  std::memcpy(surb + g.address_bytes, header.data(), g.header_bytes);
  std::memcpy(surb + g.address_bytes + g.header_bytes, seed_keys.surb_key, kSurbKeyBytes);
  return result;
}

void create_surb_reply(const Geometry& g, const uint8_t* surb, const uint8_t* content, size_t content_len,
                       uint8_t* packet) {
  AesScrubOnExit scrub;
  uint8_t pi_surb[kLionessKeyBytes];
  Wipe wipe(pi_surb, sizeof(pi_surb));
  surb_payload_key(surb + g.address_bytes + g.header_bytes, pi_surb);
  std::memcpy(packet, surb + g.address_bytes, g.header_bytes);
  uint8_t* payload = packet + g.header_bytes;
  write_plain_payload(g, content, content_len, payload);
  lioness_encrypt(pi_surb, payload, g.payload_bytes);
}

bool open_surb_reply(const Geometry& g, const uint8_t* keys, size_t key_count, const uint8_t* payload,
                     size_t payload_len, uint8_t* content) {
  if (payload_len != g.payload_bytes || key_count < 2) return false;
  AesScrubOnExit scrub;
  SecretBuffer block(g.payload_bytes);
  std::memcpy(block.data(), payload, payload_len);
  const size_t hops = key_count - 1;
  // Undo every hop's decryption (last hop first), then the replier's encryption under piSurb.
  for (size_t i = hops; i-- > 0;) lioness_encrypt(keys + i * kLionessKeyBytes, block.data(), block.size());
  lioness_decrypt(keys + hops * kLionessKeyBytes, block.data(), block.size());
  if (!ct_is_zero(block.data(), kIntegrityBytes)) return false;
  std::memcpy(content, block.data() + kIntegrityBytes, g.content_bytes);
  return true;
}

}  // namespace loopix
