// LIONESS (Anderson-Biham 1996) as used by the loopix packet format (docs/packet-format.md §6): a wide-block
// cipher over the whole payload, built from AES-128-CTR (stream S) and HMAC-SHA256 (hash H).
//
//   K = K1 || K2 || K3 || K4 (32 bytes each); block = Lb (32 bytes) || Rb (the rest)
//   Encrypt: Rb ^= S(Lb ^ K1); Lb ^= H(K2, Rb); Rb ^= S(Lb ^ K3); Lb ^= H(K4, Rb)
//   Decrypt: the same rounds in reverse order
//   S(k) = AES-128-CTR with key k[0..16) and initial counter block k[16..32)
#ifndef LOOPIX_NATIVE_LIONESS_H_
#define LOOPIX_NATIVE_LIONESS_H_

#include <cstddef>
#include <cstdint>

#include "format.h"

namespace loopix {

constexpr size_t kLionessLeftBytes = kSha256Bytes;
static_assert(kLionessMinBlockBytes == kLionessLeftBytes + 1, "format.h and LIONESS agree on the smallest block");

// In place; `len` must be > kLionessLeftBytes (checked by callers).
void lioness_encrypt(const uint8_t key[kLionessKeyBytes], uint8_t* block, size_t len);
void lioness_decrypt(const uint8_t key[kLionessKeyBytes], uint8_t* block, size_t len);

}  // namespace loopix

#endif  // LOOPIX_NATIVE_LIONESS_H_
