#include "common/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace p2p {

Hash sha256(const void* data, std::size_t size) {
  Hash h;
  unsigned int len = 0;
  // EVP_Digest cannot fail for SHA-256 on valid pointers; len is always 32.
  EVP_Digest(data, size, h.bytes.data(), &len, EVP_sha256(), nullptr);
  return h;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

Hash Sha256::finish() {
  Hash h;
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), h.bytes.data(), &len);
  return h;
}

}  // namespace p2p
