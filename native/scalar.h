// Scalar arithmetic modulo the X25519 group order ℓ = 2^252 + 27742317777372353535851937790883648493, for
// packet creation with one fixed-base and one variable-base multiplication per hop
// (docs/packet-format.md §5.1). Uses OpenSSL BIGNUM; every BIGNUM is cleared when freed.
//
//   e_0     = clamp(x) mod ℓ
//   e_{i+1} = e_i * clamp(b_i) mod ℓ
//   lift(e) = c = 8 * (e * 8^-1 mod ℓ) if 2^254 <= c < 2^255, else 8ℓ - c if that is in range, else none
#ifndef LOOPIX_NATIVE_SCALAR_H_
#define LOOPIX_NATIVE_SCALAR_H_

#include <openssl/bn.h>

#include <cstdint>

namespace loopix {

// RFC 7748 clamping of a little-endian 32-byte scalar, in place.
void clamp_scalar(uint8_t k[32]);

class BlindingScalar {
 public:
  // e = clamp(x) mod ℓ. Throws std::runtime_error on an internal OpenSSL failure.
  explicit BlindingScalar(const uint8_t x[32]);
  ~BlindingScalar();
  BlindingScalar(const BlindingScalar&) = delete;
  BlindingScalar& operator=(const BlindingScalar&) = delete;

  // e = e * clamp(b) mod ℓ.
  void multiply_clamped(const uint8_t b[32]);
  // k = lift(e), little-endian; false when e has no lift (probability ~2^-125).
  bool lift(uint8_t k[32]);

 private:
  void release();

  BN_CTX* ctx_ = nullptr;
  BIGNUM* order_ = nullptr;   // ℓ
  BIGNUM* inv8_ = nullptr;    // 8^-1 mod ℓ
  BIGNUM* order8_ = nullptr;  // 8ℓ
  BIGNUM* lo_ = nullptr;      // 2^254
  BIGNUM* hi_ = nullptr;      // 2^255
  BIGNUM* e_ = nullptr;       // the secret scalar
  BIGNUM* t_ = nullptr;       // secret temporary
};

}  // namespace loopix

#endif  // LOOPIX_NATIVE_SCALAR_H_
