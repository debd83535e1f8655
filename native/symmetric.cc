// AES-128-CTR, HMAC-SHA256 and HKDF-SHA256 over OpenSSL (see symmetric.h for the design).
//
// SHA256_Init/Update/Final are deprecated (not removed) in OpenSSL 3; they are the direct entry points to
// OpenSSL's SHA-256 block code and avoid the provider dispatch and key re-setup that EVP_MAC costs on every
// new key (measured: new-key HMAC of 20 bytes ~0.18 us vs ~0.72 us with EVP_MAC_init).
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "symmetric.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <climits>
#include <cstring>
#include <stdexcept>

#include "evp_context.h"

namespace loopix {

// ---- AES-128-CTR ------------------------------------------------------------------------------------
namespace {

// One cipher context per thread, keyed per call.
class AesCtrContext {
 public:
  EVP_CIPHER_CTX* keyed(const uint8_t key[16], const uint8_t iv[16]) {
    if (!evp_.initialized()) {
      return evp_.get(
          [&](EVP_CIPHER*& cipher, EVP_CIPHER_CTX*& ctx) {
            cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CTR", nullptr);
            ctx = EVP_CIPHER_CTX_new();
            return cipher != nullptr && ctx != nullptr && EVP_EncryptInit_ex2(ctx, cipher, key, iv, nullptr) == 1;
          },
          "AES-128-CTR setup failed (OpenSSL)");
    }
    // Same cipher: only the key schedule and counter block are reset.
    if (EVP_EncryptInit_ex(evp_.context(), nullptr, nullptr, key, iv) != 1) {
      throw std::runtime_error("AES-128-CTR re-key failed (OpenSSL)");
    }
    return evp_.context();
  }

  bool initialized() const { return evp_.initialized(); }
  EVP_CIPHER_CTX* context() const { return evp_.context(); }

 private:
  EvpContext<EVP_CIPHER, EVP_CIPHER_CTX, EVP_CIPHER_free, EVP_CIPHER_CTX_free> evp_;
};

thread_local AesCtrContext tls_aes;

}  // namespace

void aes128_ctr_xor(const uint8_t key[16], const uint8_t iv[16], const uint8_t* in, uint8_t* out, size_t len) {
  EVP_CIPHER_CTX* ctx = tls_aes.keyed(key, iv);
  while (len > 0) {
    int chunk = len > (1u << 30) ? (1 << 30) : static_cast<int>(len);
    int written = 0;
    if (EVP_EncryptUpdate(ctx, out, &written, in, chunk) != 1 || written != chunk) {
      throw std::runtime_error("AES-128-CTR failed (OpenSSL)");
    }
    in += chunk;
    out += chunk;
    len -= static_cast<size_t>(chunk);
  }
}

void aes128_ctr_stream(const uint8_t key[16], const uint8_t iv[16], uint8_t* out, size_t len) {
  std::memset(out, 0, len);
  aes128_ctr_xor(key, iv, out, out, len);
}

void aes_scrub() noexcept {
  if (!tls_aes.initialized()) return;
  static const uint8_t kZero[16] = {0};
  uint8_t byte = 0;
  int written = 0;
  // Re-key with zeros (overwrites round keys and counter block), then encrypt one byte: a partial block
  // refills OpenSSL's buffered keystream block, which may still hold unused keystream of the last real key.
  EVP_CIPHER_CTX* ctx = tls_aes.context();
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, kZero, kZero) == 1) EVP_EncryptUpdate(ctx, &byte, &written, &byte, 1);
}

// ---- HMAC-SHA256 ------------------------------------------------------------------------------------
#ifdef LOOPIX_HMAC_EVP_MAC

namespace {

class MacContext {
 public:
  EVP_MAC_CTX* get() {
    return evp_.get(
        [](EVP_MAC*& mac, EVP_MAC_CTX*& ctx) {
          mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
          ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
          char digest[] = "SHA256";
          OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
          return ctx != nullptr && EVP_MAC_CTX_set_params(ctx, params) == 1;
        },
        "HMAC-SHA256 setup failed (OpenSSL)");
  }

 private:
  EvpContext<EVP_MAC, EVP_MAC_CTX, EVP_MAC_free, EVP_MAC_CTX_free> evp_;
};

thread_local MacContext tls_mac;

}  // namespace

HmacSha256Key::~HmacSha256Key() { OPENSSL_cleanse(key_, sizeof(key_)); }

void HmacSha256Key::set(const uint8_t* key, size_t key_len) {
  OPENSSL_cleanse(key_, sizeof(key_));
  if (key_len > sizeof(key_)) {
    SHA256(key, key_len, key_);  // RFC 2104: long keys are hashed first
    key_len_ = kSha256Bytes;
  } else {
    if (key_len > 0) std::memcpy(key_, key, key_len);
    key_len_ = key_len;
  }
}

void HmacSha256Key::mac(std::initializer_list<ByteSpan> parts, uint8_t out[kSha256Bytes]) const {
  EVP_MAC_CTX* ctx = tls_mac.get();
  size_t out_len = 0;
  bool ok = EVP_MAC_init(ctx, key_, key_len_, nullptr) == 1;
  for (const ByteSpan& p : parts) ok = ok && (p.size == 0 || EVP_MAC_update(ctx, p.data, p.size) == 1);
  ok = ok && EVP_MAC_final(ctx, out, &out_len, kSha256Bytes) == 1 && out_len == kSha256Bytes;
  if (!ok) throw std::runtime_error("HMAC-SHA256 failed (OpenSSL)");
}

#else  // low-level SHA-256 states

HmacSha256Key::~HmacSha256Key() {
  OPENSSL_cleanse(&inner_, sizeof(inner_));
  OPENSSL_cleanse(&outer_, sizeof(outer_));
}

void HmacSha256Key::set(const uint8_t* key, size_t key_len) {
  uint8_t block[SHA256_CBLOCK] = {0};
  Wipe wipe_block(block, sizeof(block));
  if (key_len > sizeof(block)) {
    SHA256(key, key_len, block);  // RFC 2104: long keys are hashed first
  } else if (key_len > 0) {
    std::memcpy(block, key, key_len);
  }
  for (uint8_t& b : block) b ^= 0x36;
  SHA256_Init(&inner_);
  SHA256_Update(&inner_, block, sizeof(block));
  for (uint8_t& b : block) b ^= 0x36 ^ 0x5c;
  SHA256_Init(&outer_);
  SHA256_Update(&outer_, block, sizeof(block));
}

void HmacSha256Key::mac(std::initializer_list<ByteSpan> parts, uint8_t out[kSha256Bytes]) const {
  SHA256_CTX c = inner_;
  Wipe wipe_c(&c, sizeof(c));
  for (const ByteSpan& p : parts) {
    if (p.size > 0) SHA256_Update(&c, p.data, p.size);
  }
  SHA256_Final(out, &c);
  c = outer_;
  SHA256_Update(&c, out, kSha256Bytes);
  SHA256_Final(out, &c);
}

#endif

void hmac_sha256(const uint8_t* key, size_t key_len, const uint8_t* msg, size_t len, uint8_t out[kSha256Bytes]) {
  HmacSha256Key k(key, key_len);
  k.mac(msg, len, out);
}

// ---- HKDF-SHA256 ------------------------------------------------------------------------------------
void hkdf_extract(const HmacSha256Key& salt, std::initializer_list<ByteSpan> ikm, uint8_t prk[kSha256Bytes]) {
  salt.mac(ikm, prk);
}

void hkdf_expand(const HmacSha256Key& prk, const uint8_t* info, size_t info_len, uint8_t* out, size_t len) {
  if (len > kHkdfMaxBytes) throw std::length_error("HKDF-Expand length exceeds 255 * 32");
  uint8_t t[kSha256Bytes];
  Wipe wipe_t(t, sizeof(t));
  size_t t_len = 0;
  for (uint8_t counter = 1; len > 0; counter++) {
    prk.mac({{t, t_len}, {info, info_len}, {&counter, 1}}, t);
    t_len = kSha256Bytes;
    size_t n = len < kSha256Bytes ? len : kSha256Bytes;
    std::memcpy(out, t, n);
    out += n;
    len -= n;
  }
}

void hkdf_sha256(const uint8_t* salt, size_t salt_len, const uint8_t* ikm, size_t ikm_len, const uint8_t* info,
                 size_t info_len, uint8_t* out, size_t len) {
  uint8_t prk[kSha256Bytes];
  Wipe wipe_prk(prk, sizeof(prk));
  {
    HmacSha256Key salt_key(salt, salt_len);
    hkdf_extract(salt_key, {{ikm, ikm_len}}, prk);
  }
  HmacSha256Key prk_key(prk, sizeof(prk));
  hkdf_expand(prk_key, info, info_len, out, len);
}

}  // namespace loopix
