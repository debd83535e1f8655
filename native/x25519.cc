// X25519 over OpenSSL: the ossl_x25519 fast path when Node exports it, EVP_PKEY otherwise (see x25519.h).
#include "x25519.h"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

#include "bytes.h"

extern "C" {
// OpenSSL-internal (crypto/ec/curve25519.c); exported by Node's binary. Weak: null when absent.
int ossl_x25519(uint8_t out_shared_key[32], const uint8_t private_key[32], const uint8_t peer_public_value[32])
    __attribute__((weak));
void ossl_x25519_public_from_private(uint8_t out_public_value[32], const uint8_t private_key[32]) __attribute__((weak));
}

namespace loopix {
namespace {

bool have_internal() { return ossl_x25519 != nullptr && ossl_x25519_public_from_private != nullptr; }

void base_evp(uint8_t out[32], const uint8_t scalar[32]) {
  // EVP_PKEY_free cleanses the private key material it holds.
  EVP_PKEY* priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, scalar, 32);
  size_t len = 32;
  bool ok = priv != nullptr && EVP_PKEY_get_raw_public_key(priv, out, &len) == 1 && len == 32;
  EVP_PKEY_free(priv);
  if (!ok) throw std::runtime_error("X25519 public key derivation failed (OpenSSL)");
}

}  // namespace

bool x25519_evp(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]) {
  EVP_PKEY* priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, scalar, 32);
  EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, point, 32);
  EVP_PKEY_CTX* ctx = priv != nullptr ? EVP_PKEY_CTX_new_from_pkey(nullptr, priv, nullptr) : nullptr;
  if (priv == nullptr || peer == nullptr || ctx == nullptr || EVP_PKEY_derive_init(ctx) != 1 ||
      EVP_PKEY_derive_set_peer(ctx, peer) != 1) {
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(priv);
    throw std::runtime_error("X25519 key setup failed (OpenSSL)");
  }
  size_t len = 32;
  // OpenSSL's derive fails exactly when the shared secret is all-zero (small-order peer point).
  bool ok = EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  EVP_PKEY_free(priv);
  if (!ok || ct_is_zero(out, 32)) {
    std::memset(out, 0, 32);
    return false;
  }
  return true;
}

bool x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]) {
  if (have_internal()) return ossl_x25519(out, scalar, point) != 0;
  return x25519_evp(out, scalar, point);
}

void x25519_base(uint8_t out[32], const uint8_t scalar[32]) {
  if (have_internal()) {
    ossl_x25519_public_from_private(out, scalar);
    return;
  }
  base_evp(out, scalar);
}

const char* x25519_impl() { return have_internal() ? "openssl-internal" : "openssl-evp"; }

}  // namespace loopix
