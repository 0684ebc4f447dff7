#include "common/sha256.h"

// SHA256_* is deprecated in OpenSSL 3 in favour of EVP, whose first use costs
// ~1.7 ms a process (sha256.h).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

namespace p2p {

// SHA256_Init/Update/Final return 0 only for a null context.

Hash sha256(const void* data, std::size_t size) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data, size);
  Hash h;
  SHA256_Final(h.bytes.data(), &ctx);
  return h;
}

Sha256::Sha256() : ctx_(std::make_unique<SHA256_CTX>()) { SHA256_Init(ctx_.get()); }

Sha256::~Sha256() = default;

void Sha256::update(const void* data, std::size_t size) { SHA256_Update(ctx_.get(), data, size); }

Hash Sha256::finish() {
  Hash h;
  SHA256_Final(h.bytes.data(), ctx_.get());
  return h;
}

}  // namespace p2p
