// SHA-256 through OpenSSL's SHA256_* functions, which use the CPU's SHA
// extensions (~1.6 GB/s a core on this machine, 4x portable code; see bench/).
//
// Not through EVP: OpenSSL 3.0's first EVP digest in a process loads its
// config and default provider, ~1.7 ms (measured 2026-12-04: 1,650-1,750 us
// against 11-14 us for the first SHA256_Init/Update/Final), a tenth of a
// whole-process `p2p get` of a small file. Both run the same block function.
// SHA256_* is deprecated in OpenSSL 3 but present through 3.x; this file is the
// one place that would change.
#pragma once

#include <cstddef>
#include <memory>

#include "common/hash.h"

struct SHA256state_st;  // OpenSSL's SHA256_CTX, kept opaque so callers need no OpenSSL headers

namespace p2p {

// One-shot digest of a buffer. Thread-safe.
Hash sha256(const void* data, std::size_t size);

// Incremental digest. Not thread-safe; one owner at a time.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  Hash finish();  // REQUIRES: called once; the object is spent afterwards

 private:
  std::unique_ptr<SHA256state_st> ctx_;
};

}  // namespace p2p
