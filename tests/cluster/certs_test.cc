// The cluster's certificates: a CA and node certificates that verify against
// it (and only it), carry the node's name where the handshake looks for it,
// keep their keys private, and complete a mutual TLS 1.3 handshake.
#include "cluster/certs.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace rusm::cluster {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "rusm-certs-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr) << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& f) const { return path_ + "/" + f; }

 private:
  std::string path_;
};

struct Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using CertPtr = std::unique_ptr<X509, Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;

CertPtr read_cert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    return nullptr;
  }
  CertPtr c(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return c;
}

KeyPtr read_key(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    return nullptr;
  }
  KeyPtr k(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return k;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// X509_verify_cert of `leaf` against `ca` for `purpose`; the error string
// when it fails, "" when it verifies.
std::string verify(X509* ca, X509* leaf, int purpose) {
  std::unique_ptr<X509_STORE, Free> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca);
  std::unique_ptr<X509_STORE_CTX, Free> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (X509_verify_cert(ctx.get()) == 1) {
    return "";
  }
  std::string why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  ERR_clear_error();
  return why.empty() ? "failed" : why;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(Certs, NodeCertificateVerifiesAgainstItsCa) {
  TempDir dir;
  Result<CertFiles> ca = make_ca(dir.path());
  ASSERT_TRUE(ca) << ca.error().message();
  EXPECT_EQ(ca->cert, dir / "ca.pem");
  EXPECT_EQ(ca->key, dir / "ca.key");
  Result<CertFiles> n1 = make_node_cert(dir.path(), "n1");
  ASSERT_TRUE(n1) << n1.error().message();
  EXPECT_EQ(n1->cert, dir / "n1.pem");
  EXPECT_EQ(n1->key, dir / "n1.key");

  CertPtr ca_cert = read_cert(ca->cert);
  CertPtr leaf = read_cert(n1->cert);
  ASSERT_TRUE(ca_cert && leaf) << "the PEM files do not parse";
  EXPECT_EQ(verify(ca_cert.get(), leaf.get(), X509_PURPOSE_SSL_SERVER), "")
      << "n1.pem must verify as a TLS server certificate";
  EXPECT_EQ(verify(ca_cert.get(), leaf.get(), X509_PURPOSE_SSL_CLIENT), "")
      << "n1.pem must verify as a TLS client certificate";
  // The certificate's key is the one written beside it.
  KeyPtr key = read_key(n1->key);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
}

TEST(Certs, CaIsASelfSignedCertificateAuthority) {
  TempDir dir;
  ASSERT_TRUE(make_ca(dir.path(), 30));
  CertPtr ca = read_cert(dir / "ca.pem");
  ASSERT_TRUE(ca);
  EXPECT_GT(X509_check_ca(ca.get()), 0) << "basicConstraints CA:TRUE missing";
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN) << "keyUsage keyCertSign missing";
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK) << "not self-issued";
  EXPECT_EQ(verify(ca.get(), ca.get(), X509_PURPOSE_ANY), "");
  // --days: expires in 30 days, not sooner, not much later.
  int day = 0, sec = 0;
  ASSERT_EQ(ASN1_TIME_diff(&day, &sec, nullptr, X509_get0_notAfter(ca.get())), 1);
  EXPECT_TRUE(day == 29 || day == 30) << day;
}

TEST(Certs, NodeCertificateNamesTheNodeInSanAndCn) {
  TempDir dir;
  ASSERT_TRUE(make_ca(dir.path()));
  ASSERT_TRUE(make_node_cert(dir.path(), "db-1.eu.example"));
  CertPtr leaf = read_cert(dir / "db-1.eu.example.pem");
  ASSERT_TRUE(leaf);
  std::unique_ptr<GENERAL_NAMES, Free> sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr)));
  ASSERT_TRUE(sans) << "no subjectAltName";
  ASSERT_EQ(sk_GENERAL_NAME_num(sans.get()), 1);
  const GENERAL_NAME* san = sk_GENERAL_NAME_value(sans.get(), 0);
  ASSERT_EQ(san->type, GEN_DNS);
  std::string dns(reinterpret_cast<const char*>(ASN1_STRING_get0_data(san->d.dNSName)),
                  ASN1_STRING_length(san->d.dNSName));
  EXPECT_EQ(dns, "db-1.eu.example");
  EXPECT_EQ(X509_check_host(leaf.get(), "db-1.eu.example", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(leaf.get(), "db-2.eu.example", 0, 0, nullptr), 1);
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "db-1.eu.example");
  uint32_t xku = X509_get_extended_key_usage(leaf.get());
  EXPECT_TRUE(xku & XKU_SSL_SERVER) << "extendedKeyUsage serverAuth missing";
  EXPECT_TRUE(xku & XKU_SSL_CLIENT) << "extendedKeyUsage clientAuth missing";
  EXPECT_EQ(X509_check_ca(leaf.get()), 0) << "a node certificate must not be a CA";
}

TEST(Certs, KeysAreWrittenOwnerOnly) {
  TempDir dir;
  std::string sub = dir / "made/here";  // created by make_ca
  ASSERT_TRUE(make_ca(sub));
  ASSERT_TRUE(make_node_cert(sub, "n1"));
  EXPECT_EQ(mode_of(sub + "/ca.key"), 0600u);
  EXPECT_EQ(mode_of(sub + "/n1.key"), 0600u);
  EXPECT_EQ(mode_of(sub + "/ca.pem"), 0644u);
  EXPECT_EQ(mode_of(sub + "/n1.pem"), 0644u);
  EXPECT_EQ(mode_of(sub), 0700u) << "the directory holding the keys is the owner's only";
  // Even under a permissive umask.
  mode_t old = ::umask(0);
  Result<CertFiles> n2 = make_node_cert(sub, "n2");
  ::umask(old);
  ASSERT_TRUE(n2) << n2.error().message();
  EXPECT_EQ(mode_of(n2->key), 0600u);
}

TEST(Certs, RefusesToOverwriteWithoutForce) {
  TempDir dir;
  ASSERT_TRUE(make_ca(dir.path()));
  std::string ca_before = slurp(dir / "ca.pem");
  Result<CertFiles> again = make_ca(dir.path());
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find(dir / "ca.key"), std::string::npos)
      << again.error().message();
  EXPECT_NE(again.error().message().find("already exists"), std::string::npos);
  EXPECT_EQ(slurp(dir / "ca.pem"), ca_before) << "the CA changed although the call failed";

  ASSERT_TRUE(make_node_cert(dir.path(), "n1"));
  std::string n1_before = slurp(dir / "n1.pem");
  Result<CertFiles> n1 = make_node_cert(dir.path(), "n1");
  ASSERT_FALSE(n1);
  EXPECT_NE(n1.error().message().find("n1.key"), std::string::npos) << n1.error().message();
  EXPECT_EQ(slurp(dir / "n1.pem"), n1_before);

  // With force: new files, and the new certificate verifies.
  ASSERT_TRUE(make_node_cert(dir.path(), "n1", kDefaultCertDays, true));
  EXPECT_NE(slurp(dir / "n1.pem"), n1_before);
  EXPECT_EQ(mode_of(dir / "n1.key"), 0600u);
  ASSERT_TRUE(make_ca(dir.path(), kDefaultCaDays, true));
  EXPECT_NE(slurp(dir / "ca.pem"), ca_before);
}

TEST(Certs, ForceReplacesASymlinkInsteadOfFollowingIt) {
  TempDir dir;
  ASSERT_TRUE(make_ca(dir.path()));
  std::string victim = dir / "victim.txt";
  std::ofstream(victim) << "keep me";
  ASSERT_EQ(::symlink(victim.c_str(), (dir / "n1.key").c_str()), 0);
  Result<CertFiles> plain = make_node_cert(dir.path(), "n1");
  EXPECT_FALSE(plain) << "a symlink where the key goes must not be written through";
  ASSERT_TRUE(make_node_cert(dir.path(), "n1", 10, true));
  EXPECT_EQ(slurp(victim), "keep me");
  struct stat st {};
  ASSERT_EQ(::lstat((dir / "n1.key").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(Certs, BadNodeNamesAreRejected) {
  TempDir dir;
  ASSERT_TRUE(make_ca(dir.path()));
  for (const char* name : {"", "../evil", "a/b", "ca", "CA", "-n1", "n1-", "a..b", ".n1", "n1.",
                           "a b", "n1@host", "under_score", "caf\xc3\xa9", "x\n"}) {
    Result<CertFiles> r = make_node_cert(dir.path(), name);
    EXPECT_FALSE(r) << "'" << name << "' was accepted";
    if (!r) {
      EXPECT_NE(r.error().message().find("bad node name"), std::string::npos)
          << r.error().message();
    }
  }
  EXPECT_FALSE(check_node_name(std::string(64, 'a'))) << "a 64-character label";
  EXPECT_TRUE(check_node_name(std::string(63, 'a')));
  EXPECT_TRUE(check_node_name("n1"));
  EXPECT_TRUE(check_node_name("Node-7.cluster.local"));
  EXPECT_TRUE(check_node_name("cab"));
  // Nothing but the CA was written.
  size_t files = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path())) {
    ++files;
  }
  EXPECT_EQ(files, 2u);
}

TEST(Certs, BadDaysAreRejected) {
  TempDir dir;
  EXPECT_FALSE(make_ca(dir.path(), 0));
  EXPECT_FALSE(make_ca(dir.path(), kMaxDays + 1));
  ASSERT_TRUE(make_ca(dir.path(), 1));
  Result<CertFiles> r = make_node_cert(dir.path(), "n1", -5);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("days"), std::string::npos) << r.error().message();
}

TEST(Certs, CertificateOfAnotherCaFailsVerification) {
  TempDir a, b;
  ASSERT_TRUE(make_ca(a.path()));
  ASSERT_TRUE(make_ca(b.path()));
  ASSERT_TRUE(make_node_cert(b.path(), "n1"));
  CertPtr ca_a = read_cert(a / "ca.pem");
  CertPtr ca_b = read_cert(b / "ca.pem");
  CertPtr leaf = read_cert(b / "n1.pem");
  ASSERT_TRUE(ca_a && ca_b && leaf);
  EXPECT_EQ(verify(ca_b.get(), leaf.get(), X509_PURPOSE_SSL_SERVER), "");
  EXPECT_NE(verify(ca_a.get(), leaf.get(), X509_PURPOSE_SSL_SERVER), "")
      << "a certificate of CA b verified against CA a";
}

TEST(Certs, NodeCertificateNeedsTheCa) {
  TempDir dir;
  Result<CertFiles> r = make_node_cert(dir.path(), "n1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(dir / "ca.pem"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("rusm cluster ca"), std::string::npos);

  // A CA key that is not the CA certificate's.
  TempDir other;
  ASSERT_TRUE(make_ca(dir.path()));
  ASSERT_TRUE(make_ca(other.path()));
  fs::copy_file(other / "ca.key", dir / "ca.key", fs::copy_options::overwrite_existing);
  r = make_node_cert(dir.path(), "n1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("does not match"), std::string::npos) << r.error().message();

  // Garbage where the certificate should be.
  std::ofstream(dir / "ca.pem", std::ios::trunc) << "not a certificate\n";
  r = make_node_cert(dir.path(), "n1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a PEM certificate"), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(fs::exists(dir / "n1.key")) << "a failed call left a key behind";
}

// Client and server each present their node certificate and require the
// peer's, as cluster connections do; the handshake runs over memory BIOs.
struct TlsEnd {
  std::unique_ptr<SSL_CTX, Free> ctx;
  std::unique_ptr<SSL, Free> ssl;
};

TlsEnd tls_end(const std::string& dir, const std::string& name, const std::string& trust,
               bool server) {
  TlsEnd e;
  e.ctx.reset(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  SSL_CTX_set_min_proto_version(e.ctx.get(), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_use_certificate_file(e.ctx.get(), (dir + "/" + name + ".pem").c_str(),
                                         SSL_FILETYPE_PEM),
            1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey_file(e.ctx.get(), (dir + "/" + name + ".key").c_str(),
                                        SSL_FILETYPE_PEM),
            1);
  EXPECT_EQ(SSL_CTX_load_verify_locations(e.ctx.get(), (trust + "/ca.pem").c_str(), nullptr), 1);
  SSL_CTX_set_verify(e.ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  e.ssl.reset(SSL_new(e.ctx.get()));
  return e;
}

// True when both ends finish the handshake.
bool handshake(TlsEnd& client, TlsEnd& server, const char* expect_host) {
  BIO *c_bio = nullptr, *s_bio = nullptr;
  BIO_new_bio_pair(&c_bio, 0, &s_bio, 0);
  SSL_set_bio(client.ssl.get(), c_bio, c_bio);
  SSL_set_bio(server.ssl.get(), s_bio, s_bio);
  SSL_set_connect_state(client.ssl.get());
  SSL_set_accept_state(server.ssl.get());
  SSL_set1_host(client.ssl.get(), expect_host);
  bool c_done = false, s_done = false;
  for (int round = 0; round < 20 && !(c_done && s_done); ++round) {
    if (!c_done) {
      int r = SSL_do_handshake(client.ssl.get());
      if (r == 1) {
        c_done = true;
      } else if (SSL_get_error(client.ssl.get(), r) != SSL_ERROR_WANT_READ) {
        break;
      }
    }
    if (!s_done) {
      int r = SSL_do_handshake(server.ssl.get());
      if (r == 1) {
        s_done = true;
      } else if (SSL_get_error(server.ssl.get(), r) != SSL_ERROR_WANT_READ) {
        break;
      }
    }
  }
  // TLS 1.3: the client finishes first; the server's verdict on the client
  // certificate arrives with the next read. Exchange a byte to see it.
  if (c_done && s_done) {
    char b = 'x';
    if (SSL_write(client.ssl.get(), &b, 1) != 1 || SSL_read(server.ssl.get(), &b, 1) != 1) {
      ERR_clear_error();
      return false;
    }
  }
  ERR_clear_error();
  return c_done && s_done;
}

TEST(Certs, TwoNodeCertificatesCompleteAMutualTls13Handshake) {
  TempDir dir;
  ASSERT_TRUE(make_ca(dir.path()));
  ASSERT_TRUE(make_node_cert(dir.path(), "n1"));
  ASSERT_TRUE(make_node_cert(dir.path(), "n2"));
  TlsEnd c = tls_end(dir.path(), "n1", dir.path(), false);
  TlsEnd s = tls_end(dir.path(), "n2", dir.path(), true);
  ASSERT_TRUE(handshake(c, s, "n2")) << "mutual TLS between n1 and n2 failed";
  CertPtr peer(SSL_get1_peer_certificate(s.ssl.get()));
  ASSERT_TRUE(peer) << "the server saw no client certificate";
  EXPECT_EQ(X509_check_host(peer.get(), "n1", 0, 0, nullptr), 1);
}

TEST(Certs, HandshakeFailsForAnotherCasNodeOrTheWrongName) {
  TempDir dir, rogue;
  ASSERT_TRUE(make_ca(dir.path()));
  ASSERT_TRUE(make_node_cert(dir.path(), "n2"));
  ASSERT_TRUE(make_ca(rogue.path()));
  ASSERT_TRUE(make_node_cert(rogue.path(), "n1"));
  {
    TlsEnd c = tls_end(rogue.path(), "n1", dir.path(), false);
    TlsEnd s = tls_end(dir.path(), "n2", dir.path(), true);
    EXPECT_FALSE(handshake(c, s, "n2")) << "the server accepted a client of another CA";
  }
  {
    ASSERT_TRUE(make_node_cert(dir.path(), "n1"));
    TlsEnd c = tls_end(dir.path(), "n1", dir.path(), false);
    TlsEnd s = tls_end(dir.path(), "n2", dir.path(), true);
    EXPECT_FALSE(handshake(c, s, "n3")) << "n2's certificate was accepted as n3";
  }
}

}  // namespace
}  // namespace rusm::cluster
