// The loopix Sphinx packet format, version 1 (docs/packet-format.md, normative): packet creation, one-hop
// unwrap (single and batch, in place), and single-use reply blocks. Pure C++ over OpenSSL; the N-API layer
// (binding.cc) only checks and converts arguments.
//
// Functions here assume arguments already validated by the caller (geometry from make_geometry, buffer
// lengths as documented, a path accepted by check_path). Packet contents are never trusted: unwrap and
// open_surb_reply report bad packets as results, not errors.
#ifndef LOOPIX_NATIVE_SPHINX_H_
#define LOOPIX_NATIVE_SPHINX_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "format.h"

namespace loopix {

enum Command : uint8_t { kRelay = 1, kDeliver = 2, kDrop = 3, kFinal = 4, kLoop = 5, kSurbReply = 6 };
// Record kinds (§9).
enum Kind : uint8_t {
  kKindInvalid = 0,
  kKindRelay = 1,
  kKindDeliver = 2,
  kKindDrop = 3,
  kKindFinal = 4,
  kKindLoop = 5,
  kKindSurbReply = 6
};
// Record invalid reasons (§9).
enum Reason : uint8_t {
  kReasonNone = 0,
  kReasonLength = 1,
  kReasonVersion = 2,
  kReasonPoint = 3,
  kReasonMac = 4,
  kReasonCommand = 5,
  kReasonIntegrity = 6
};

// Lengths of one network's packets (§1); same validation ranges as src/geometry.ts.
struct Geometry {
  size_t max_hops;       // r
  size_t address_bytes;  // A
  size_t content_bytes;  // C
  size_t routing_bytes;  // t = command + delay + A
  size_t slot_bytes;     // s = t + M
  size_t beta_bytes;     // L = r * s
  size_t header_bytes;   // H = P + G + L + M
  size_t payload_bytes;  // Y = Z + C
  size_t packet_bytes;   // N = H + Y
  size_t surb_bytes;     // A + H + SURB key
  size_t record_bytes;   // record header + A + T
};

enum class ArgCheck { kOk, kTypeError, kRangeError };

// Builds a geometry; on bad parameters sets `error` (naming the field and its range) and returns
// kTypeError (not an integer) or kRangeError (out of range).
ArgCheck make_geometry(double max_hops, double address_bytes, double content_bytes, Geometry* g, std::string* error);

// A path as the sender sees it: `hops` public keys (32 bytes each) and `hops` routing entries of
// g.routing_bytes each (command || delay_us big-endian || address), both contiguous.
struct Path {
  uint16_t epoch;
  size_t hops;
  const uint8_t* public_keys;
  const uint8_t* routing;
};

// Checks hop count and command bytes; `for_surb` also requires the last command to be SURB_REPLY.
// Returns false and sets `error` on a bad path.
bool check_path(const Geometry& g, const Path& path, bool for_surb, std::string* error);

enum class CreateStatus { kOk, kUnliftable, kBadPublicKey };
struct CreateResult {
  CreateStatus status;
  size_t hop;  // the offending hop for kBadPublicKey
};

// §5: writes g.packet_bytes to `packet`. content_len <= g.content_bytes.
CreateResult create_packet(const Geometry& g, const Path& path, const uint8_t* content, size_t content_len,
                           const uint8_t seed[kSeedBytes], uint8_t* packet);

// §4: unwraps one hop in place and writes one g.record_bytes record (§9); returns the record kind.
uint8_t unwrap(const Geometry& g, const uint8_t private_key[kKeyBytes], uint8_t* packet, size_t packet_len,
               uint8_t* record);

// §9: `count` packets of g.packet_bytes, contiguous; `count` records. Returns count.
size_t unwrap_batch(const Geometry& g, const uint8_t private_key[kKeyBytes], uint8_t* packets, size_t count,
                    uint8_t* records);

// §7: writes g.surb_bytes to `surb` and (path.hops + 1) * 128 decryption-key bytes to `keys`.
CreateResult create_surb(const Geometry& g, const Path& path, const uint8_t* first_hop, const uint8_t seed[kSeedBytes],
                         uint8_t* surb, uint8_t* keys);

// §7: the reply packet (g.packet_bytes) for `surb` (g.surb_bytes); content_len <= g.content_bytes.
void create_surb_reply(const Geometry& g, const uint8_t* surb, const uint8_t* content, size_t content_len,
                       uint8_t* packet);

// §7: `keys` holds key_count >= 2 LIONESS keys. Writes g.content_bytes to `content` and returns true, or
// returns false (content untouched) when payload_len != g.payload_bytes or the zero prefix does not check.
bool open_surb_reply(const Geometry& g, const uint8_t* keys, size_t key_count, const uint8_t* payload,
                     size_t payload_len, uint8_t* content);

}  // namespace loopix

#endif  // LOOPIX_NATIVE_SPHINX_H_
