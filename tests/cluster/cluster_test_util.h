// Helpers for the cluster tests: a throwaway PKI (an EC P-256 CA and node
// certificates with a SAN DNS name, made with the OpenSSL 3 C API into a temp
// dir), an io_context on its own thread, and an event log that tests await.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

#include "cluster/connection.h"

namespace rusm::cluster::test {

using namespace std::chrono_literals;

class TestPki {
 public:
  explicit TestPki(const std::string& ca_name) {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("rusm-cluster-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
    ca_key_ = EVP_EC_gen("P-256");
    ca_ = make_cert(ca_name, ca_key_, nullptr, ca_key_, /*ca=*/true, "");
    ca_file_ = (dir_ / "ca.pem").string();
    write_cert(ca_file_, ca_);
  }
  ~TestPki() {
    X509_free(ca_);
    EVP_PKEY_free(ca_key_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& ca_file() const { return ca_file_; }

  // A node certificate for `cn` with SAN DNS `san` (none when empty),
  // signed by this CA.
  TlsFiles node(const std::string& cn, std::optional<std::string> san = std::nullopt) {
    std::string dns = san ? *san : cn;
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = make_cert(cn, key, ca_, ca_key_, false, dns);
    std::string stem = (dir_ / (cn + "-" + std::to_string(serial_))).string();
    TlsFiles f{ca_file_, stem + ".crt", stem + ".key"};
    write_cert(f.cert_file, cert);
    FILE* fp = std::fopen(f.key_file.c_str(), "w");
    PEM_write_PrivateKey(fp, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(fp);
    X509_free(cert);
    EVP_PKEY_free(key);
    return f;
  }

 private:
  X509* make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, bool ca,
                  const std::string& dns) {
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
    auto add = [&](int nid, const std::string& value) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    };
    if (ca) {
      add(NID_basic_constraints, "critical,CA:TRUE");
      add(NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      add(NID_basic_constraints, "CA:FALSE");
      add(NID_ext_key_usage, "serverAuth,clientAuth");
      if (!dns.empty()) {
        add(NID_subject_alt_name, "DNS:" + dns);
      }
    }
    X509_sign(x, issuer_key, EVP_sha256());
    return x;
  }
  static void write_cert(const std::string& path, X509* cert) {
    FILE* fp = std::fopen(path.c_str(), "w");
    PEM_write_X509(fp, cert);
    std::fclose(fp);
  }

  std::filesystem::path dir_;
  EVP_PKEY* ca_key_ = nullptr;
  X509* ca_ = nullptr;
  std::string ca_file_;
  long serial_ = 0;
};

// An io_context run by one thread (a node's event loop).
class IoThread {
 public:
  IoThread() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~IoThread() { stop(); }
  void stop() {
    if (thread_.joinable()) {
      work_.reset();
      io_.stop();
      thread_.join();
    }
  }
  boost::asio::io_context& io() { return io_; }

  // Runs fn on the loop's thread and returns its result.
  template <typename F>
  auto run(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
};

// Lines recorded by callbacks on loop threads, awaited by the test thread.
class Events {
 public:
  void add(std::string line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::move(line));
    cv_.notify_all();
  }
  // Waits until some line contains `needle`; returns it, or "" on timeout.
  std::string wait_for(const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock(mu_);
    std::string found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& l : lines_) {
        if (l.find(needle) != std::string::npos) {
          found = l;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  size_t count(const std::string& needle) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& l : lines_) {
      n += l.find(needle) != std::string::npos;
    }
    return n;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.clear();
  }
  std::string all() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& l : lines_) {
      out += l + "\n";
    }
    return out;
  }
  std::function<void(const std::string&)> logger(const std::string& prefix) {
    return [this, prefix](const std::string& l) { add(prefix + "log: " + l); };
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

// Polls `pred` on the loop until it holds or `timeout` passes.
template <typename Pred>
bool eventually(IoThread& loop, Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (loop.run(pred)) {
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return loop.run(pred);
}

}  // namespace rusm::cluster::test
