// X25519 (RFC 7748) over the OpenSSL that Node ships.
//
// Fast path: Node's binary exports OpenSSL's internal ossl_x25519 / ossl_x25519_public_from_private; when
// present (weak symbols resolved at load time) they are called directly, with no EVP_PKEY allocation.
// Otherwise every operation goes through EVP_PKEY (raw keys + EVP_PKEY_derive). x25519_evp() always takes
// the EVP path so tests can cross-check the two.
#ifndef LOOPIX_NATIVE_X25519_H_
#define LOOPIX_NATIVE_X25519_H_

#include <cstdint>

namespace loopix {

// out = X25519(scalar, point). Returns false when the result is all-zero (point of small order);
// out is then all-zero. Throws std::runtime_error only on an internal OpenSSL failure.
bool x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]);

// out = X25519(scalar, 9): the public key of `scalar`.
void x25519_base(uint8_t out[32], const uint8_t scalar[32]);

// Same as x25519() but always through EVP_PKEY_derive.
bool x25519_evp(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]);

// "openssl-internal" or "openssl-evp": which path x25519()/x25519_base() use.
const char* x25519_impl();

}  // namespace loopix

#endif  // LOOPIX_NATIVE_X25519_H_
