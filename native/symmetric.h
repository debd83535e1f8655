// Symmetric primitives over the OpenSSL that Node ships: AES-128-CTR (EVP, one cached context per thread),
// HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869).
//
// HMAC is keyed once into an HmacSha256Key (the SHA-256 states after absorbing key^ipad and key^opad), so
// every further MAC under that key costs only the message blocks plus one outer block. This is what makes
// HKDF-Expand (one key, many blocks) and the per-hop MACs cheap. The states come from OpenSSL's SHA-256
// (SHA256_Init/Update/Final, SHA-NI/AVX code paths); when the OpenSSL headers hide that API
// (OPENSSL_NO_DEPRECATED_3_0) or LOOPIX_HMAC_EVP_MAC is defined, EVP_MAC("HMAC") is used instead.
#ifndef LOOPIX_NATIVE_SYMMETRIC_H_
#define LOOPIX_NATIVE_SYMMETRIC_H_

#include <openssl/opensslconf.h>
#include <openssl/sha.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "bytes.h"
#include "format.h"

#if defined(OPENSSL_NO_DEPRECATED_3_0) && !defined(LOOPIX_HMAC_EVP_MAC)
#define LOOPIX_HMAC_EVP_MAC 1
#endif

namespace loopix {

// ---- AES-128-CTR ------------------------------------------------------------------------------------
// out = in XOR AES-128-CTR(key, iv) keystream; the 128-bit counter block starts at `iv` and is incremented
// big-endian (SP 800-38A). `in` may equal `out`. Throws std::runtime_error on an internal OpenSSL failure.
void aes128_ctr_xor(const uint8_t key[16], const uint8_t iv[16], const uint8_t* in, uint8_t* out, size_t len);
// out = the first `len` keystream bytes.
void aes128_ctr_stream(const uint8_t key[16], const uint8_t iv[16], uint8_t* out, size_t len);
// Re-keys this thread's cached cipher context with an all-zero key, so no round keys or keystream of the
// last real key stay in memory after an operation returns.
void aes_scrub() noexcept;

// Calls aes_scrub() when the scope ends (also on early returns and exceptions).
class AesScrubOnExit {
 public:
  AesScrubOnExit() = default;
  ~AesScrubOnExit() { aes_scrub(); }
  AesScrubOnExit(const AesScrubOnExit&) = delete;
  AesScrubOnExit& operator=(const AesScrubOnExit&) = delete;
};

// ---- HMAC-SHA256 ------------------------------------------------------------------------------------
class HmacSha256Key {
 public:
  HmacSha256Key() = default;
  HmacSha256Key(const uint8_t* key, size_t key_len) { set(key, key_len); }
  ~HmacSha256Key();
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  void set(const uint8_t* key, size_t key_len);
  // out = HMAC(key, parts[0] || parts[1] || ...).
  void mac(std::initializer_list<ByteSpan> parts, uint8_t out[kSha256Bytes]) const;
  void mac(const uint8_t* msg, size_t len, uint8_t out[kSha256Bytes]) const { mac({{msg, len}}, out); }

 private:
#ifdef LOOPIX_HMAC_EVP_MAC
  uint8_t key_[64] = {0};
  size_t key_len_ = 0;
#else
  SHA256_CTX inner_{};
  SHA256_CTX outer_{};
#endif
};

void hmac_sha256(const uint8_t* key, size_t key_len, const uint8_t* msg, size_t len, uint8_t out[kSha256Bytes]);

// ---- HKDF-SHA256 (RFC 5869) -------------------------------------------------------------------------

// prk = HMAC(salt, ikm parts).
void hkdf_extract(const HmacSha256Key& salt, std::initializer_list<ByteSpan> ikm, uint8_t prk[kSha256Bytes]);
// out = T(1) || T(2) || ... truncated to len (len <= kHkdfMaxBytes); T(i) = HMAC(prk, T(i-1) || info || i).
void hkdf_expand(const HmacSha256Key& prk, const uint8_t* info, size_t info_len, uint8_t* out, size_t len);
// Convenience: one-shot extract + expand.
void hkdf_sha256(const uint8_t* salt, size_t salt_len, const uint8_t* ikm, size_t ikm_len, const uint8_t* info,
                 size_t info_len, uint8_t* out, size_t len);

}  // namespace loopix

#endif  // LOOPIX_NATIVE_SYMMETRIC_H_
