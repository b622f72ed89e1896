// The certificates of a cluster: one CA, and a certificate per node signed by
// it, so that a secure cluster takes two commands (`rusm cluster ca`, then
// `rusm cluster cert NAME` per node; issue 12).
//
// Everything lives in one directory:
//   ca.pem, ca.key         the CA: EC P-256, self-signed, basicConstraints
//                          CA:TRUE (critical, pathlen 0), keyUsage
//                          keyCertSign + cRLSign (critical)
//   NAME.pem, NAME.key     a node: EC P-256, CN=NAME, subjectAltName DNS:NAME,
//                          basicConstraints CA:FALSE, keyUsage
//                          digitalSignature, extendedKeyUsage serverAuth +
//                          clientAuth (the same certificate serves both ends
//                          of a mutual TLS connection), signed by the CA
// Certificates are PEM, X.509 v3, SHA-256 signatures, with a random 159-bit
// serial. Keys are unencrypted PKCS#8 PEM, created with open(O_EXCL) and mode
// 0600 (never world- or group-readable, not even for an instant); the
// directory, when created here, is 0700. Nothing is overwritten unless
// `force` is set; then the old file is unlinked first, so a symlink in its
// place is replaced, never followed.
//
// A node name is what peers check against the certificate in the handshake,
// so it must be a valid DNS name (it is the SAN) and a safe file name: 1 to
// 253 characters, dot-separated labels of 1 to 63 letters, digits and '-',
// no label starting or ending with '-'. "ca" (any case) is refused: its
// files would be the CA's.
//
// All of it goes through OpenSSL 3's C API (EVP_PKEY, X509); nothing shells
// out. Errors are values whose messages name the file or the argument.
// Thread-safety: the functions share no state; two calls writing the same
// directory at once race only as O_EXCL allows (one of them fails).
#pragma once

#include <string>
#include <string_view>

#include "rusm/result.h"

namespace rusm::cluster {

inline constexpr int kDefaultCaDays = 3650;
inline constexpr int kDefaultCertDays = 825;
inline constexpr int kMaxDays = 36500;
inline constexpr std::string_view kDefaultCertDir = "cluster-certs";

// What a call wrote.
struct CertFiles {
  std::string cert;  // "DIR/ca.pem", "DIR/NAME.pem"
  std::string key;   // "DIR/ca.key", "DIR/NAME.key"
};

// Whether `name` may name a node (see above); the error says why not.
Status check_node_name(std::string_view name);

// Where the files are ("DIR/ca.pem", ...). No checks.
std::string ca_cert_path(std::string_view dir);
std::string ca_key_path(std::string_view dir);
std::string node_cert_path(std::string_view dir, std::string_view name);
std::string node_key_path(std::string_view dir, std::string_view name);

// Makes a new CA in `dir` (created if missing), valid for `days` (1 to
// kMaxDays) from now. Errors: a bad argument, ca.pem or ca.key already there
// (without force), a file that cannot be written (the message names it).
// On error nothing this call created is left behind.
Result<CertFiles> make_ca(std::string_view dir, int days = kDefaultCaDays, bool force = false);

// Makes NAME.pem and NAME.key in `dir`, signed by the CA there (ca.pem and
// ca.key, which must match and be a CA). Errors: a bad name or days, no CA
// (the message says to run `rusm cluster ca`), a file already there (without
// force), a file that cannot be read, parsed or written.
Result<CertFiles> make_node_cert(std::string_view dir, std::string_view name,
                                 int days = kDefaultCertDays, bool force = false);

}  // namespace rusm::cluster
