#include "cluster/certs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace rusm::cluster {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using CertPtr = std::unique_ptr<X509, Free>;
using NamePtr = std::unique_ptr<X509_NAME, Free>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;
using BnPtr = std::unique_ptr<BIGNUM, Free>;

// Files we read are a few KiB; anything much larger is not ours.
constexpr size_t kMaxPemBytes = 1 << 20;
// Certificates start a little in the past, so a peer whose clock is a few
// minutes behind still accepts them.
constexpr long kBackdateSeconds = 300;

// The OpenSSL error queue as one line (and cleared), or `fallback`.
std::string openssl_error(const char* fallback) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out.empty() ? fallback : out;
}

std::string join(std::string_view dir, std::string_view file) {
  std::string p(dir.empty() ? "." : dir);
  if (p.back() != '/') {
    p += '/';
  }
  p += file;
  return p;
}

Status check_days(int days) {
  if (days < 1 || days > kMaxDays) {
    return Error("days must be between 1 and " + std::to_string(kMaxDays) + ", not " +
                 std::to_string(days));
  }
  return Status::ok();
}

// The directory, made 0700 if it does not exist (its parents as the umask says).
Status ensure_dir(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return Error(dir + ": exists and is not a directory");
    }
    return Status::ok();
  }
  if (errno != ENOENT) {
    return Error(dir + ": " + std::strerror(errno));
  }
  std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Error(parent.string() + ": cannot create directory (" + ec.message() + ")");
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error(dir + ": cannot create directory (" + std::strerror(errno) + ")");
  }
  return Status::ok();
}

Status refuse_existing(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    return Error(path + ": already exists; not overwriting it (--force replaces it)");
  }
  if (errno != ENOENT) {
    return Error(path + ": " + std::strerror(errno));
  }
  return Status::ok();
}

// Writes a new file with exactly `mode`. O_EXCL: an existing file (or a
// symlink planted in its place) makes this fail rather than be written
// through; with `force` the old one is unlinked first. On error the file is
// not left behind.
Status write_new_file(const std::string& path, std::string_view data, mode_t mode, bool force) {
  if (force && ::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Error(path + ": cannot remove the old file (" + std::strerror(errno) + ")");
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Error(path + ": already exists; not overwriting it (--force replaces it)");
    }
    return Error(path + ": cannot create (" + std::strerror(errno) + ")");
  }
  auto fail = [&](const char* what) {
    Error e(path + ": " + what + " (" + std::strerror(errno) + ")");
    ::close(fd);
    ::unlink(path.c_str());
    return e;
  };
  // The umask can only have removed bits; make the mode exact.
  if (::fchmod(fd, mode) != 0) {
    return fail("cannot set its mode");
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return fail("cannot write");
  }
  if (::close(fd) != 0) {
    Error e(path + ": cannot write (" + std::strerror(errno) + ")");
    ::unlink(path.c_str());
    return e;
  }
  return Status::ok();
}

Result<std::string> read_small_file(const std::string& path, const char* hint) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = path + ": cannot read (" + std::strerror(err) + ")";
    if (err == ENOENT && hint != nullptr) {
      msg += "; ";
      msg += hint;
    }
    return Error(msg);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      Error e(path + ": cannot read (" + std::strerror(errno) + ")");
      ::close(fd);
      return e;
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxPemBytes) {
      ::close(fd);
      return Error(path + ": too large for a PEM file (over " + std::to_string(kMaxPemBytes) +
                   " bytes)");
    }
  }
  ::close(fd);
  return out;
}

// Never prompts for a passphrase: our keys have none, and a command that
// waits on a terminal would hang a script.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

Result<CertPtr> load_cert(const std::string& path, const char* hint) {
  Result<std::string> text = read_small_file(path, hint);
  if (!text) {
    return text.error();
  }
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  if (!bio) {
    return Error(path + ": " + openssl_error("out of memory"));
  }
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  if (!cert) {
    return Error(path + ": not a PEM certificate (" + openssl_error("no CERTIFICATE block") + ")");
  }
  return cert;
}

Result<KeyPtr> load_key(const std::string& path, const char* hint) {
  Result<std::string> text = read_small_file(path, hint);
  if (!text) {
    return text.error();
  }
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  if (!bio) {
    return Error(path + ": " + openssl_error("out of memory"));
  }
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    return Error(path + ": not an unencrypted PEM private key (" +
                 openssl_error("no PRIVATE KEY block") + ")");
  }
  return key;
}

Result<KeyPtr> new_key() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    return Error("cannot generate an EC P-256 key: " + openssl_error("unknown error"));
  }
  return key;
}

Status add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Error(std::string("cannot add the ") + OBJ_nid2sn(nid) + " extension '" + value +
                 "': " + openssl_error("unknown error"));
  }
  return Status::ok();
}

struct CertSpec {
  std::string common_name;
  int days = 1;
  bool ca = false;
  std::string dns_name;  // node certificates: the subjectAltName
};

// A v3 certificate for `key`, signed by issuer_key (the CA's, or `key`
// itself when issuer is null: self-signed).
Result<CertPtr> build_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer,
                           EVP_PKEY* issuer_key) {
  auto fail = [](const char* what) { return Error(what + (": " + openssl_error("unknown"))); };
  CertPtr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return fail("cannot make a certificate");
  }
  // RFC 5280: positive, at most 20 bytes. 159 random bits are both.
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
    return fail("cannot draw a serial number");
  }
  if (BN_is_zero(serial.get())) {
    BN_one(serial.get());
  }
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return fail("cannot set the serial number");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.days, 0, nullptr) == nullptr) {
    return fail("cannot set the validity period");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) {
    return fail("cannot set the public key");
  }
  NamePtr subject(X509_NAME_new());
  auto add_entry = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(subject.get(), field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                      0) == 1;
  };
  if (!subject || !add_entry("O", "rusm cluster") || !add_entry("CN", spec.common_name) ||
      X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(
          cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject.get()) != 1) {
    return fail("cannot set the subject and issuer names");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  Status s = add_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (s && spec.ca) {
    s = add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    if (s) {
      s = add_ext(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
  } else if (s) {
    s = add_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    if (s) {
      s = add_ext(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    }
    if (s) {
      s = add_ext(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    if (s) {
      s = add_ext(cert.get(), &ctx, NID_subject_alt_name, ("DNS:" + spec.dns_name).c_str());
    }
  }
  if (s) {
    s = add_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  }
  if (!s) {
    return s.error();
  }
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) <= 0) {
    return fail("cannot sign the certificate");
  }
  return cert;
}

Result<std::string> cert_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Error("cannot encode the certificate: " + openssl_error("unknown"));
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Error("cannot encode the private key: " + openssl_error("unknown"));
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// Writes the key (0600) and then the certificate (0644); if the second
// write fails, the first file is removed again.
Result<CertFiles> write_pair(CertFiles files, X509* cert, EVP_PKEY* key, bool force) {
  Result<std::string> cpem = cert_pem(cert);
  if (!cpem) {
    return cpem.error();
  }
  Result<std::string> kpem = key_pem(key);
  if (!kpem) {
    return kpem.error();
  }
  if (Status s = write_new_file(files.key, *kpem, 0600, force); !s) {
    return s.error();
  }
  if (Status s = write_new_file(files.cert, *cpem, 0644, force); !s) {
    ::unlink(files.key.c_str());
    return s.error();
  }
  return files;
}

}  // namespace

Status check_node_name(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Error("bad node name '" + std::string(name.substr(0, 80)) + "': " + why);
  };
  if (name.empty()) {
    return bad("it is empty");
  }
  if (name.size() > 253) {
    return bad("longer than 253 characters");
  }
  size_t label = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0) {
        return bad("empty label (a leading, trailing or doubled '.')");
      }
      if (name[i - 1] == '-') {
        return bad("a label ends with '-'");
      }
      label = 0;
      continue;
    }
    char c = name[i];
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      return bad("only letters, digits, '-' and '.' are allowed (it is a DNS name)");
    }
    if (c == '-' && label == 0) {
      return bad("a label starts with '-'");
    }
    if (++label > 63) {
      return bad("a label is longer than 63 characters");
    }
  }
  if (name.size() == 2 && (name[0] | 0x20) == 'c' && (name[1] | 0x20) == 'a') {
    return bad("'ca' names the CA's own files");
  }
  return Status::ok();
}

std::string ca_cert_path(std::string_view dir) {
  return join(dir, "ca.pem");
}
std::string ca_key_path(std::string_view dir) {
  return join(dir, "ca.key");
}
std::string node_cert_path(std::string_view dir, std::string_view name) {
  return join(dir, std::string(name) + ".pem");
}
std::string node_key_path(std::string_view dir, std::string_view name) {
  return join(dir, std::string(name) + ".key");
}

Result<CertFiles> make_ca(std::string_view dir_in, int days, bool force) {
  ERR_clear_error();
  if (Status s = check_days(days); !s) {
    return s.error();
  }
  std::string dir(dir_in.empty() ? "." : dir_in);
  CertFiles files{ca_cert_path(dir), ca_key_path(dir)};
  if (Status s = ensure_dir(dir); !s) {
    return s.error();
  }
  if (!force) {
    for (const std::string* p : {&files.key, &files.cert}) {
      if (Status s = refuse_existing(*p); !s) {
        return s.error();
      }
    }
  }
  Result<KeyPtr> key = new_key();
  if (!key) {
    return key.error();
  }
  CertSpec spec;
  spec.common_name = "rusm cluster CA";
  spec.days = days;
  spec.ca = true;
  Result<CertPtr> cert = build_cert(spec, key->get(), nullptr, nullptr);
  if (!cert) {
    return cert.error();
  }
  return write_pair(std::move(files), cert->get(), key->get(), force);
}

Result<CertFiles> make_node_cert(std::string_view dir_in, std::string_view name, int days,
                                 bool force) {
  ERR_clear_error();
  if (Status s = check_node_name(name); !s) {
    return s.error();
  }
  if (Status s = check_days(days); !s) {
    return s.error();
  }
  std::string dir(dir_in.empty() ? "." : dir_in);
  const char* hint = "make the CA first with `rusm cluster ca`";
  Result<CertPtr> ca = load_cert(ca_cert_path(dir), hint);
  if (!ca) {
    return ca.error();
  }
  Result<KeyPtr> ca_key = load_key(ca_key_path(dir), hint);
  if (!ca_key) {
    return ca_key.error();
  }
  if (X509_check_ca(ca->get()) == 0) {
    return Error(ca_cert_path(dir) + ": not a CA certificate (no basicConstraints CA:TRUE)");
  }
  if (X509_check_private_key(ca->get(), ca_key->get()) != 1) {
    ERR_clear_error();
    return Error(ca_key_path(dir) + ": does not match the certificate in " + ca_cert_path(dir));
  }
  CertFiles files{node_cert_path(dir, name), node_key_path(dir, name)};
  if (!force) {
    for (const std::string* p : {&files.key, &files.cert}) {
      if (Status s = refuse_existing(*p); !s) {
        return s.error();
      }
    }
  }
  Result<KeyPtr> key = new_key();
  if (!key) {
    return key.error();
  }
  CertSpec spec;
  spec.common_name = std::string(name);
  spec.dns_name = std::string(name);
  spec.days = days;
  Result<CertPtr> cert = build_cert(spec, key->get(), ca->get(), ca_key->get());
  if (!cert) {
    return cert.error();
  }
  return write_pair(std::move(files), cert->get(), key->get(), force);
}

}  // namespace rusm::cluster
