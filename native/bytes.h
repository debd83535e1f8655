// Small byte helpers shared by the pure C++ layer of the loopix Sphinx addon: a read-only byte span,
// a scope guard that wipes secrets with OPENSSL_cleanse, constant-time equality / zero checks
// (CRYPTO_memcmp) and XOR. No N-API types here or in any file below binding.cc.
#ifndef LOOPIX_NATIVE_BYTES_H_
#define LOOPIX_NATIVE_BYTES_H_

#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace loopix {

struct ByteSpan {
  const uint8_t* data;
  size_t size;
};

// Wipes `size` bytes at `ptr` when the scope ends (every secret on the stack gets one).
class Wipe {
 public:
  Wipe(void* ptr, size_t size) : ptr_(ptr), size_(size) {}
  ~Wipe() { OPENSSL_cleanse(ptr_, size_); }
  Wipe(const Wipe&) = delete;
  Wipe& operator=(const Wipe&) = delete;

 private:
  void* ptr_;
  size_t size_;
};

// A heap buffer for secrets: zero-initialised, wiped before it is freed.
class SecretBuffer {
 public:
  explicit SecretBuffer(size_t size) : bytes_(size, 0) {}
  ~SecretBuffer() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

// Constant-time equality of two equally long byte strings.
inline bool ct_equal(const uint8_t* a, const uint8_t* b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

// Constant-time "all bytes are zero" (compares against a zero block in 64-byte chunks).
inline bool ct_is_zero(const uint8_t* a, size_t n) {
  static const uint8_t kZero[64] = {0};
  int diff = 0;
  while (n > 0) {
    size_t k = n < sizeof(kZero) ? n : sizeof(kZero);
    diff |= CRYPTO_memcmp(a, kZero, k);
    a += k;
    n -= k;
  }
  return diff == 0;
}

// dst[i] ^= src[i] for i < n.
inline void xor_into(uint8_t* dst, const uint8_t* src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] ^= src[i];
}

}  // namespace loopix

#endif  // LOOPIX_NATIVE_BYTES_H_
