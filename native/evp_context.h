// A fetched OpenSSL algorithm (EVP_CIPHER, EVP_MAC) and one context of it, made on first use and freed
// together: one per thread (thread_local), since the addon runs in several worker threads at once and an
// EVP context is not safe to share. Freeing the context first cleanses the key schedule it holds.
#ifndef LOOPIX_NATIVE_EVP_CONTEXT_H_
#define LOOPIX_NATIVE_EVP_CONTEXT_H_

#include <stdexcept>

namespace loopix {

template <typename Alg, typename Ctx, void (*kFreeAlg)(Alg*), void (*kFreeCtx)(Ctx*)>
class EvpContext {
 public:
  EvpContext() = default;
  ~EvpContext() { release(); }
  EvpContext(const EvpContext&) = delete;
  EvpContext& operator=(const EvpContext&) = delete;

  // The context, made on first use by `setup(alg, ctx)`, which fetches both and returns false when OpenSSL
  // failed (then whatever it made is freed and `what` thrown, so the next call tries again).
  template <typename Setup>
  Ctx* get(Setup setup, const char* what) {
    if (ctx_ == nullptr && !setup(alg_, ctx_)) {
      release();
      throw std::runtime_error(what);
    }
    return ctx_;
  }

  bool initialized() const { return ctx_ != nullptr; }
  Alg* algorithm() const { return alg_; }
  Ctx* context() const { return ctx_; }

 private:
  void release() {
    kFreeCtx(ctx_);
    kFreeAlg(alg_);
    ctx_ = nullptr;
    alg_ = nullptr;
  }

  Alg* alg_ = nullptr;
  Ctx* ctx_ = nullptr;
};

}  // namespace loopix

#endif  // LOOPIX_NATIVE_EVP_CONTEXT_H_
