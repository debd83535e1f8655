// Constants of the loopix packet format, version 1 (docs/packet-format.md §1, §2, §9): the C++ twin of
// FORMAT, GEOMETRY_LIMITS, ROUTING, RECORD and RECORD_NO_KEY_REASON in src/geometry.ts. The addon exports
// every value here as `format` (binding.cc), and test/format-parity.test.ts compares them with the
// TypeScript ones, so the two cannot drift. Lengths that depend on r, A or C are computed by make_geometry
// (sphinx.cc) from these.
#ifndef LOOPIX_NATIVE_FORMAT_H_
#define LOOPIX_NATIVE_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace loopix {

constexpr uint8_t kVersion = 1;

// Fixed lengths (bytes).
constexpr size_t kPrefixBytes = 4;  // P: version, reserved, key epoch (uint16 big-endian)
constexpr size_t kEpochOffset = 2;  // key epoch inside the prefix
constexpr size_t kMaxPrefixEpoch = 0xffff;
constexpr size_t kGroupBytes = 32;  // G: X25519 group element (alpha)
constexpr size_t kMacBytes = 16;    // M: truncated HMAC-SHA256 (gamma)
constexpr size_t kCommandBytes = 1;
constexpr size_t kDelayBytes = 4;       // per-hop delay, microseconds, uint32 big-endian
constexpr size_t kIntegrityBytes = 16;  // Z: zero prefix of the payload
constexpr size_t kReplayTagBytes = 32;  // T
constexpr size_t kLionessKeyBytes = 128;
constexpr size_t kLionessMinBlockBytes = 32 + 1;  // left part (one SHA-256 output) + at least one byte
constexpr size_t kSurbKeyBytes = 32;
constexpr size_t kSeedBytes = 32;
constexpr size_t kKeyBytes = 32;                      // X25519 private and public keys
constexpr size_t kAesKeyBytes = 16;                   // AES-128-CTR key
constexpr size_t kAesIvBytes = 16;                    // AES-128-CTR initial counter block
constexpr size_t kSha256Bytes = 32;                   // SHA-256 / full HMAC-SHA256 output
constexpr size_t kHkdfMaxBytes = 255 * kSha256Bytes;  // RFC 5869: 255 * HashLen

// Ranges of the free parameters r, A, C.
constexpr size_t kMinHops = 1, kMaxHops = 32;
constexpr size_t kMinAddress = 8, kMaxAddress = 64;
constexpr size_t kMinContent = 32, kMaxContent = 65000;

// Offsets inside one hop's routing information t = command || delay || address (§2).
constexpr size_t kRoutingCommandOffset = 0;
constexpr size_t kRoutingDelayOffset = kCommandBytes;
constexpr size_t kRoutingAddressOffset = kCommandBytes + kDelayBytes;

// Offsets inside one batch-unwrap record (§9), little-endian.
constexpr size_t kRecordKindOffset = 0;
constexpr size_t kRecordReasonOffset = 1;
constexpr size_t kRecordDelayOffset = 4;
constexpr size_t kRecordAddressOffset = 8;  // then A address bytes, then the T-byte replay tag
constexpr size_t kMaxRecordBytes = kRecordAddressOffset + kMaxAddress + kReplayTagBytes;
// Reason byte a node's crypto worker writes when a packet's epoch key went away (not written by unwrap).
constexpr uint8_t kRecordNoKeyReason = 0xfe;

}  // namespace loopix

#endif  // LOOPIX_NATIVE_FORMAT_H_
