// LIONESS over AES-128-CTR and HMAC-SHA256 (see lioness.h).
#include "lioness.h"

#include "bytes.h"
#include "symmetric.h"

namespace loopix {
namespace {

// Rb ^= S(Lb ^ k).
void stream_round(const uint8_t* k, uint8_t* block, size_t len) {
  uint8_t sk[kLionessLeftBytes];
  Wipe wipe(sk, sizeof(sk));
  for (size_t i = 0; i < kLionessLeftBytes; i++) sk[i] = block[i] ^ k[i];
  uint8_t* right = block + kLionessLeftBytes;
  aes128_ctr_xor(sk, sk + 16, right, right, len - kLionessLeftBytes);
}

// Lb ^= H(k, Rb).
void hash_round(const uint8_t* k, uint8_t* block, size_t len) {
  uint8_t h[kSha256Bytes];
  Wipe wipe(h, sizeof(h));
  {
    HmacSha256Key key(k, 32);
    key.mac(block + kLionessLeftBytes, len - kLionessLeftBytes, h);
  }
  xor_into(block, h, kLionessLeftBytes);
}

}  // namespace

void lioness_encrypt(const uint8_t key[kLionessKeyBytes], uint8_t* block, size_t len) {
  stream_round(key, block, len);
  hash_round(key + 32, block, len);
  stream_round(key + 64, block, len);
  hash_round(key + 96, block, len);
}

void lioness_decrypt(const uint8_t key[kLionessKeyBytes], uint8_t* block, size_t len) {
  hash_round(key + 96, block, len);
  stream_round(key + 64, block, len);
  hash_round(key + 32, block, len);
  stream_round(key, block, len);
}

}  // namespace loopix
