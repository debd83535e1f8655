// Node <-> node link layer (docs/packet-format.md "Link layer"): AES-128-GCM (NIST SP 800-38D) over the
// OpenSSL that Node ships, in batch form. Pure C++: no N-API types here.
//
// One datagram = header (link epoch uint32 BE || sequence number uint64 BE, 12 bytes) || ciphertext of the
// Sphinx packet || 16-byte tag. The header is the GCM nonce (96 bits, the size GCM is designed for) and the
// additional authenticated data, so a datagram whose header was changed does not open. The caller owns
// nonce uniqueness: a key is used for one directed link and one epoch, and the sequence number of that
// link never repeats (src/node/link/sequence.ts).
#ifndef LOOPIX_NATIVE_LINK_H_
#define LOOPIX_NATIVE_LINK_H_

#include <cstddef>
#include <cstdint>

namespace loopix {

constexpr size_t kLinkKeyBytes = 16;
constexpr size_t kLinkHeaderBytes = 12;
constexpr size_t kLinkTagBytes = 16;

// Seals `count` datagrams in place. Datagram i occupies datagrams[i*stride .. i*stride + stride) with
// stride = kLinkHeaderBytes + payload_len + kLinkTagBytes; its header and plaintext payload are already in
// place; on return the payload is ciphertext and the tag follows it. keys: count x kLinkKeyBytes.
// Throws std::runtime_error on an internal OpenSSL failure.
void link_seal_batch(const uint8_t* keys, uint8_t* datagrams, size_t payload_len, size_t count);

// Value of ok[i] on input that makes link_open_batch skip datagram i (the caller already rejected it, e.g.
// its source is not an adjacent node: no AES work is spent on it). Any other input value is overwritten.
constexpr uint8_t kLinkSkip = 0xff;

// Opens `count` datagrams in place (same layout): where the tag verifies, the payload becomes plaintext
// and ok[i] = 1; otherwise ok[i] = 0 and the payload bytes are zeroed (nothing unauthenticated leaks
// onward); datagrams with ok[i] == kLinkSkip on input are left untouched. Never throws for bad input;
// throws std::runtime_error on an internal OpenSSL failure.
void link_open_batch(const uint8_t* keys, uint8_t* datagrams, size_t payload_len, size_t count, uint8_t* ok);

}  // namespace loopix

#endif  // LOOPIX_NATIVE_LINK_H_
