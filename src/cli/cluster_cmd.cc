// `rusm cluster ca [--dir DIR] [--days N] [--force]` and
// `rusm cluster cert NAME [--dir DIR] [--days N] [--force]`: the certificates
// of a secure cluster (src/cluster/certs.h holds the policy: key type,
// extensions, file modes, which names are allowed). Exit status 2 for bad
// arguments, 1 when a file cannot be read or written (or already exists).
#include <cstdio>
#include <memory>
#include <string>

#include "cluster/certs.h"
#include "commands.h"

namespace rusm::cli {
namespace {

struct CertArgs {
  std::string dir = std::string(cluster::kDefaultCertDir);
  std::string name;
  int days = 0;
  bool force = false;
};

void add_common(CLI::App* cmd, CertArgs& args, int default_days) {
  args.days = default_days;
  cmd->add_option("--dir", args.dir, "Directory of the cluster's certificates")
      ->capture_default_str();
  cmd->add_option("--days", args.days, "Days the certificate is valid")
      ->check(CLI::Range(1, cluster::kMaxDays))
      ->capture_default_str();
  cmd->add_flag("--force", args.force, "Replace existing files");
}

[[noreturn]] void fail(const char* command, const std::string& message, int code) {
  std::fprintf(stderr, "rusm cluster %s: %s\n", command, message.c_str());
  throw CLI::RuntimeError(code);
}

void setup_cluster(CLI::App& app) {
  CLI::App* cluster = app.add_subcommand("cluster", "Clusters: certificates for mutual TLS.");
  cluster->require_subcommand(1);

  auto ca_args = std::make_shared<CertArgs>();
  CLI::App* ca = cluster->add_subcommand(
      "ca", "Make the cluster's CA (ca.pem, ca.key): EC P-256, self-signed.");
  add_common(ca, *ca_args, cluster::kDefaultCaDays);
  ca->callback([args = ca_args] {
    Result<cluster::CertFiles> r = cluster::make_ca(args->dir, args->days, args->force);
    if (!r) {
      fail("ca", r.error().message(), 1);
    }
    std::printf("wrote %s (the CA certificate: every node gets a copy)\n", r->cert.c_str());
    std::printf("wrote %s (the CA key, mode 0600: keep it here, off the nodes)\n", r->key.c_str());
    std::printf("next: rusm cluster cert NAME --dir %s, once per node\n", args->dir.c_str());
  });

  auto cert_args = std::make_shared<CertArgs>();
  CLI::App* cert = cluster->add_subcommand(
      "cert", "Make a node's certificate (NAME.pem, NAME.key), signed by the CA in --dir.");
  cert->add_option("name", cert_args->name,
                   "Node name: a DNS name (letters, digits, '-', '.'); peers check it")
      ->required();
  add_common(cert, *cert_args, cluster::kDefaultCertDays);
  cert->callback([args = cert_args] {
    if (Status s = cluster::check_node_name(args->name); !s) {
      fail("cert", s.message(), 2);
    }
    Result<cluster::CertFiles> r =
        cluster::make_node_cert(args->dir, args->name, args->days, args->force);
    if (!r) {
      fail("cert", r.error().message(), 1);
    }
    const char* n = args->name.c_str();
    std::printf("wrote %s (%s's certificate, signed by %s)\n", r->cert.c_str(), n,
                cluster::ca_cert_path(args->dir).c_str());
    std::printf("wrote %s (%s's key, mode 0600)\n", r->key.c_str(), n);
    std::printf("next: give node %s these two files and %s; it joins the cluster as %s\n", n,
                cluster::ca_cert_path(args->dir).c_str(), n);
  });
}

CommandRegistrar registrar(setup_cluster);

}  // namespace
}  // namespace rusm::cli
