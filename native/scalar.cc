// Blinding-scalar arithmetic mod ℓ over OpenSSL BIGNUM (see scalar.h and docs/packet-format.md §5.1).
#include "scalar.h"

#include <cstring>
#include <stdexcept>

#include "bytes.h"

namespace loopix {
namespace {

// ℓ = 2^252 + 27742317777372353535851937790883648493, big-endian hex.
const char kOrderHex[] = "1000000000000000000000000000000014DEF9DEA2F79CD65812631A5CF5D3ED";

void check(int ok) {
  if (!ok) throw std::runtime_error("scalar arithmetic failed (OpenSSL BIGNUM)");
}

BIGNUM* lebin_to_bn(const uint8_t in[32], BIGNUM* out) {
  BIGNUM* r = BN_lebin2bn(in, 32, out);
  check(r != nullptr);
  return r;
}

}  // namespace

void clamp_scalar(uint8_t k[32]) {
  k[0] &= 248;
  k[31] &= 127;
  k[31] |= 64;
}

BlindingScalar::BlindingScalar(const uint8_t x[32]) {
  try {
    ctx_ = BN_CTX_new();  // BN_CTX_free clears every pooled BIGNUM
    order_ = BN_new();
    inv8_ = BN_new();
    order8_ = BN_new();
    lo_ = BN_new();
    hi_ = BN_new();
    e_ = BN_new();
    t_ = BN_new();
    check(ctx_ && order_ && inv8_ && order8_ && lo_ && hi_ && e_ && t_);
    BN_set_flags(e_, BN_FLG_CONSTTIME);
    BN_set_flags(t_, BN_FLG_CONSTTIME);
    check(BN_hex2bn(&order_, kOrderHex) != 0);
    check(BN_set_word(t_, 8));
    check(BN_mod_inverse(inv8_, t_, order_, ctx_) != nullptr);
    check(BN_lshift(order8_, order_, 3));
    check(BN_set_word(lo_, 1) && BN_lshift(lo_, lo_, 254));
    check(BN_set_word(hi_, 1) && BN_lshift(hi_, hi_, 255));
    uint8_t k[32];
    Wipe wipe(k, sizeof(k));
    std::memcpy(k, x, 32);
    clamp_scalar(k);
    lebin_to_bn(k, t_);
    check(BN_nnmod(e_, t_, order_, ctx_));
  } catch (...) {
    release();
    throw;
  }
}

BlindingScalar::~BlindingScalar() { release(); }

void BlindingScalar::release() {
  BN_clear_free(t_);
  BN_clear_free(e_);
  BN_free(hi_);
  BN_free(lo_);
  BN_free(order8_);
  BN_free(inv8_);
  BN_free(order_);
  BN_CTX_free(ctx_);
  t_ = e_ = hi_ = lo_ = order8_ = inv8_ = order_ = nullptr;
  ctx_ = nullptr;
}

void BlindingScalar::multiply_clamped(const uint8_t b[32]) {
  uint8_t k[32];
  Wipe wipe(k, sizeof(k));
  std::memcpy(k, b, 32);
  clamp_scalar(k);
  lebin_to_bn(k, t_);
  check(BN_mod_mul(e_, e_, t_, order_, ctx_));
}

bool BlindingScalar::lift(uint8_t k[32]) {
  // c = 8 * (e * 8^-1 mod ℓ): the unique c in [0, 8ℓ) with c ≡ e (mod ℓ) and c ≡ 0 (mod 8).
  check(BN_mod_mul(t_, e_, inv8_, order_, ctx_));
  check(BN_lshift(t_, t_, 3));
  bool ok = BN_cmp(t_, lo_) >= 0 && BN_cmp(t_, hi_) < 0;
  if (!ok) {
    // c' = 8ℓ - c ≡ -e (mod ℓ): same u-coordinate, since x(kP) = x(-kP).
    check(BN_sub(t_, order8_, t_));
    ok = BN_cmp(t_, lo_) >= 0 && BN_cmp(t_, hi_) < 0;
  }
  if (ok) check(BN_bn2lebinpad(t_, k, 32) == 32);
  BN_clear(t_);
  return ok;
}

}  // namespace loopix
