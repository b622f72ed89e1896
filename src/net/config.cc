// rusm.toml parser (toml++) and the key reference it checks against.
#include "rusm/net/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace rusm::net {

namespace {

// The reference. Defaults are written as in a file; a test checks that they
// parse to the defaults of Limits, so this table and the code cannot drift.
const ConfigKey kKeys[] = {
    {"", "listen", "[address]", "[\"127.0.0.1:8080\"]",
     "Plain HTTP listeners, \"host:port\" (IPv6 as \"[::1]:8080\")."},
    {"", "metrics_path", "string", "\"/metrics\"",
     "Path of the built-in Prometheus endpoint; \"\" turns it off."},
    {"tls", "listen", "[address]", "[]", "HTTPS/WSS listeners (need cert and key)."},
    {"tls", "cert", "path", "", "PEM certificate chain, checked at start."},
    {"tls", "key", "path", "", "PEM private key matching cert, checked at start."},
    {"tls", "client_ca", "path", "",
     "If set, clients must present a certificate signed by this CA (mutual TLS)."},
    {"limits", "header_bytes", "size", "\"16K\"",
     "Request line plus headers; more is answered 431."},
    {"limits", "body_bytes", "size", "\"1M\"",
     "Request body; more is answered 413 (before reading it when the length is known)."},
    {"limits", "body_chunk_bytes", "size", "\"64K\"",
     "Largest piece of a request body handed to a handler at once."},
    {"limits", "write_buffer_bytes", "size", "\"64K\"",
     "Per-connection write buffer; a handler's writes wait while it is full."},
    {"limits", "header_timeout", "duration", "\"10s\"",
     "From a request's first byte to the end of its head; a slower client is dropped."},
    {"limits", "idle_timeout", "duration", "\"60s\"",
     "Keep-alive wait between requests, and the longest a read or write may stall."},
    {"limits", "max_connections", "integer", "10000",
     "Open connections; excess connections are closed at accept and counted."},
    {"limits", "max_in_flight", "integer", "1024",
     "Request handlers (http, cgi routes) running at once on the node; past it, 503 with "
     "Retry-After. Streams (ws, sse) are bounded by their route's max_in_flight."},
    {"limits", "route_max_in_flight", "integer", "256",
     "Default per-route limit of request handlers; past it, 503 with Retry-After."},
    {"limits", "deadline", "duration", "\"30s\"",
     "Default per-request deadline: 504 and the handler process is killed (\"0s\": none)."},
    {"limits", "retry_after", "duration", "\"1s\"", "Retry-After sent with 503."},
    {"limits", "ws_message_bytes", "size", "\"1M\"",
     "Largest WebSocket message; a larger one closes the connection with 1009."},
    {"limits", "shutdown_timeout", "duration", "\"10s\"",
     "On SIGTERM/SIGINT, how long in-flight requests may take before they are cancelled."},
    {"kv", "path", "path", "\".rusm/kv.db\"",
     "The node's key-value store (SQLite, WAL), opened when a route is granted a bucket "
     "(allow = [\"kv:BUCKET\"])."},
    {"kv", "max_value", "size", "\"1M\"", "Largest value a process may store."},
    {"kv", "max_size", "size", "0 (no bound)",
     "Largest the store's file may grow; a commit past it fails whole (EIO), as on a full disk."},
    {"fetch", "ca_file", "path", "",
     "PEM certificates that guests' fetch trusts besides the system's; servers' certificates "
     "are always verified. Routes reach hosts through `allow = [\"net:HOST:PORT\"]`."},
    {"fetch", "timeout", "duration", "\"30s\"",
     "How long a fetch waits for the response's head, and for each read of its body."},
    {"fetch", "max_response", "size", "\"64M\"", "Body bytes one response may have."},
    {"observer", "listen", "address", "",
     "Address of the observer (dashboard, /metrics); absent: off. Use another port "
     "than the site."},
    {"access_log", "path", "path", "",
     "One JSON line per request to this file (\"-\": standard output); absent: off."},
    {"cluster", "name", "string", "",
     "This node's name in the cluster (letters, digits, '-', '_', '.'); must match the name "
     "in its certificate. Required when [cluster] is present."},
    {"cluster", "listen", "address", "",
     "Where this node accepts peers (mutual TLS). Required when [cluster] is present."},
    {"cluster", "seeds", "[address]", "[]", "Nodes to join through; members learn of the rest."},
    {"cluster", "certs", "path", "\"cluster-certs\"",
     "Directory with ca.pem, NAME.pem and NAME.key (`rusm cluster ca`, `rusm cluster cert`)."},
    {"cluster", "node_id", "integer", "derived from name",
     "1-65535, the node's id inside its pids; unique in the cluster."},
    {"cluster", "tick", "duration", "\"1s\"",
     "Heartbeat interval; a silent peer is declared down within 2 ticks."},
    {"cluster", "send_buffer", "size", "\"4M\"",
     "Bytes queued to one peer; past it, sends to that node fail until it drains."},
    {"cluster", "attach", "boolean", "true",
     "Whether operators may attach (`rusm attach`) with a certificate of the cluster's CA, "
     "which gives them control of this node (kill, exit, send)."},
    {"cluster", "busy_poll_us", "integer", "200",
     "With --io-threads: microseconds the event loop's threads keep polling the cluster's "
     "connections after traffic before they sleep (answers are read sooner, at the cost of "
     "CPU). Without (the workers run the loop): does not apply."},
    {"cluster", "remote_spawn", "boolean", "true",
     "Whether peers may spawn processes on this node (rusm_spawn_on); their modules are "
     "shipped here and cached by hash."},
    {"cluster", "remote_allow", "[string]", "[] (CPU and bounded memory only)",
     "The most a peer's process may hold here: what the peer asks for, intersected with these "
     "capabilities."},
    {"cluster", "etcd", "[string]", "[] (names on every node)",
     "etcd endpoints (\"http://host:port\") that keep the cluster's global names instead of "
     "every node: linearizable, and tied to each node's lease. Every node must list the same."},
    {"cluster", "etcd_prefix", "string", "\"rusm\"",
     "Key prefix in etcd (PREFIX/names/NAME, PREFIX/nodes/ID); one per cluster."},
    {"cluster", "etcd_lease", "duration", "\"5s\"",
     "How long a node's global names outlive it (or its losing etcd) at most; at least 1s."},
    {"route", "name", "string", "\"METHOD path\"", "Name in metrics and logs."},
    {"route", "method", "string", "any", "HTTP method to match (GET also matches HEAD)."},
    {"route", "path", "string", "",
     "Path pattern; \"{name}\" matches one segment and becomes a parameter. "
     "Exactly one of path and prefix."},
    {"route", "prefix", "string", "", "Path prefix; the rest of the path is the parameter \"*\"."},
    {"route", "kind", "string", "", "http, cgi, ws, sse or static."},
    {"route", "module", "path", "",
     "The .wasm that handles the route (all kinds but static); for http, sse and ws, a .js or "
     ".ts script (docs/js.md)."},
    {"route", "entry", "string", "\"handle\" (cgi: \"_start\")",
     "Export the process runs (for a .js script: its exported function)."},
    {"route", "allow", "[string]", "[]", "Capabilities granted to the handler process."},
    {"route", "memory", "size", "runtime default", "Memory cap of the handler process."},
    {"route", "deadline", "duration", "limits.deadline (ws, sse: none)",
     "Per-request deadline of this route."},
    {"route", "max_in_flight", "integer", "limits.route_max_in_flight (ws, sse: max_connections)",
     "Handler processes of this route at once (for ws and sse: open streams)."},
    {"route", "dir", "path", "", "static: the directory served (regular files only)."},
    {"route", "origins", "[string]", "[] (same origin only)",
     "ws: other origins whose pages may open this WebSocket (\"https://app.example.com\", "
     "or \"*\" for any); a browser's handshake from elsewhere gets 403."},
};

const char* kTables[] = {"tls",     "limits", "observer", "access_log",
                         "cluster", "kv",     "fetch",    "route"};

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    prev[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

class Parser {
 public:
  Parser(std::string file) : file_(std::move(file)) {
    std::filesystem::path p(file_);
    base_ = std::filesystem::absolute(p).parent_path();
  }

  Result<AppConfig> run(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      return Error(file_ + ":" + std::to_string(e.source().begin.line) + ": " +
                   std::string(e.description()));
    }
    AppConfig c;
    c.file = file_;
    if (auto s = check_keys(root, "", ""); !s) {
      return s.error();
    }
    // Top level.
    if (auto* n = root.get("listen")) {
      auto r = addresses(*n, "listen", false);
      if (!r) {
        return r.error();
      }
      c.listen = std::move(*r);
    }
    if (auto* n = root.get("metrics_path")) {
      auto s = string(*n, "metrics_path");
      if (!s) {
        return s.error();
      }
      if (!s->empty() && (*s)[0] != '/') {
        return err(*n, "metrics_path", "must start with '/'");
      }
      c.metrics_path = *s;
    }
    // [tls]
    if (auto* n = root.get("tls")) {
      const toml::table* t = n->as_table();
      if (!t) {
        return err(*n, "tls", "expected a table ([tls])");
      }
      if (auto s = check_keys(*t, "tls", "tls."); !s) {
        return s.error();
      }
      if (auto* l = t->get("listen")) {
        auto r = addresses(*l, "tls.listen", true);
        if (!r) {
          return r.error();
        }
        c.listen.insert(c.listen.end(), r->begin(), r->end());
      }
      for (auto [key, dst] :
           {std::pair{"cert", &c.tls.cert_file}, std::pair{"key", &c.tls.key_file},
            std::pair{"client_ca", &c.tls.client_ca}}) {
        if (auto* v = t->get(key)) {
          auto s = path(*v, std::string("tls.") + key, false);
          if (!s) {
            return s.error();
          }
          *dst = *s;
        }
      }
      bool any_tls = std::any_of(c.listen.begin(), c.listen.end(), [](auto& l) { return l.tls; });
      if (any_tls && (c.tls.cert_file.empty() || c.tls.key_file.empty())) {
        return err(*n, c.tls.cert_file.empty() ? "tls.cert" : "tls.key", "required by tls.listen");
      }
    }
    if (c.listen.empty()) {
      c.listen.push_back(Listen{"127.0.0.1", 8080, false});
    }
    // [limits]
    if (auto* n = root.get("limits")) {
      const toml::table* t = n->as_table();
      if (!t) {
        return err(*n, "limits", "expected a table ([limits])");
      }
      if (auto s = check_keys(*t, "limits", "limits."); !s) {
        return s.error();
      }
      if (auto s = limits(*t, c.limits); !s) {
        return s.error();
      }
    }
    // [observer]
    if (auto* n = root.get("observer")) {
      const toml::table* t = n->as_table();
      if (!t) {
        return err(*n, "observer", "expected a table ([observer])");
      }
      if (auto s = check_keys(*t, "observer", "observer."); !s) {
        return s.error();
      }
      if (auto* l = t->get("listen")) {
        auto a = address(*l, "observer.listen");
        if (!a) {
          return a.error();
        }
        for (const Listen& x : c.listen) {
          if (x.port == a->port && x.port != 0 && (x.host == a->host || x.host == "0.0.0.0")) {
            return err(*l, "observer.listen", "same address as a site listener; use another port");
          }
        }
        c.observer.enabled = true;
        c.observer.host = a->host;
        c.observer.port = a->port;
      }
    }
    // [access_log]
    if (auto* n = root.get("access_log")) {
      const toml::table* t = n->as_table();
      if (!t) {
        return err(*n, "access_log", "expected a table ([access_log])");
      }
      if (auto s = check_keys(*t, "access_log", "access_log."); !s) {
        return s.error();
      }
      if (auto* p = t->get("path")) {
        auto s = string(*p, "access_log.path");
        if (!s) {
          return s.error();
        }
        if (s->empty()) {
          return err(*p, "access_log.path", "empty path");
        }
        c.access_log.enabled = true;
        c.access_log.path = *s == "-" ? *s : resolve(*s);
      }
    }
    // [kv]
    c.kv.path = resolve(".rusm/kv.db");
    if (auto* n = root.get("kv")) {
      const toml::table* t = n->as_table();
      if (!t) {
        return err(*n, "kv", "expected a table ([kv])");
      }
      if (auto s = check_keys(*t, "kv", "kv."); !s) {
        return s.error();
      }
      if (auto* p = t->get("path")) {
        auto s = string(*p, "kv.path");
        if (!s) {
          return s.error();
        }
        if (s->empty()) {
          return err(*p, "kv.path", "empty path");
        }
        c.kv.path = resolve(*s);
      }
      if (auto* v = t->get("max_value")) {
        auto r = size(*v, "kv.max_value");
        if (!r) {
          return r.error();
        }
        if (*r == 0 || *r > (64u << 20)) {
          return err(*v, "kv.max_value", "between 1 byte and 64M");
        }
        c.kv.max_value = *r;
      }
      if (auto* v = t->get("max_size")) {
        auto r = size(*v, "kv.max_size");
        if (!r) {
          return r.error();
        }
        c.kv.max_size = *r;
      }
    }
    // [fetch]
    if (auto* n = root.get("fetch")) {
      const toml::table* t = n->as_table();
      if (!t) {
        return err(*n, "fetch", "expected a table ([fetch])");
      }
      if (auto s = check_keys(*t, "fetch", "fetch."); !s) {
        return s.error();
      }
      if (auto* v = t->get("ca_file")) {
        auto r = path(*v, "fetch.ca_file", true);
        if (!r) {
          return r.error();
        }
        c.fetch.ca_file = *r;
      }
      if (auto* v = t->get("timeout")) {
        auto r = duration(*v, "fetch.timeout");
        if (!r) {
          return r.error();
        }
        if (r->count() <= 0) {
          return err(*v, "fetch.timeout", "must be more than 0s");
        }
        c.fetch.timeout = *r;
      }
      if (auto* v = t->get("max_response")) {
        auto r = size(*v, "fetch.max_response");
        if (!r) {
          return r.error();
        }
        if (*r == 0) {
          return err(*v, "fetch.max_response", "must be at least 1 byte");
        }
        c.fetch.max_response = *r;
      }
    }
    // [cluster]
    if (auto* n = root.get("cluster")) {
      if (auto s = cluster(*n, c); !s) {
        return s.error();
      }
    }
    // [[route]]
    if (auto* n = root.get("route")) {
      const toml::array* arr = n->as_array();
      if (!arr) {
        return err(*n, "route", "expected an array of tables ([[route]])");
      }
      for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = (*arr)[i];
        std::string prefix = "route[" + std::to_string(i + 1) + "]";
        const toml::table* t = e.as_table();
        if (!t) {
          return err(e, prefix, "expected a table");
        }
        auto r = route(*t, prefix, c.limits);
        if (!r) {
          return r.error();
        }
        for (const RouteConfig& o : c.routes) {
          if (o.path == r->path && o.prefix == r->prefix && o.method == r->method) {
            return err(*t, prefix + "." + (r->prefix ? "prefix" : "path"),
                       "same method and path as the route on line " + std::to_string(o.line));
          }
        }
        c.routes.push_back(std::move(*r));
      }
    }
    return c;
  }

 private:
  Error err(const toml::node& n, const std::string& key, const std::string& what) const {
    return Error(file_ + ":" + std::to_string(n.source().begin.line) + ": " + key + ": " + what);
  }

  Status check_keys(const toml::table& t, const char* table, const std::string& prefix) {
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      bool known = false;
      std::string best;
      size_t best_d = 3;
      auto consider = [&](const char* cand) {
        if (key == cand) {
          known = true;
        }
        size_t d = edit_distance(key, cand);
        if (d < best_d) {
          best_d = d;
          best = cand;
        }
      };
      for (const ConfigKey& ck : kKeys) {
        if (std::strcmp(ck.table, table) == 0) {
          consider(ck.key);
        }
      }
      if (*table == '\0') {
        for (const char* tb : kTables) {
          consider(tb);
        }
      }
      if (!known) {
        std::string msg = "unknown key";
        if (!best.empty()) {
          msg += " (did you mean \"" + best + "\"?)";
        }
        int line = k.source().begin.line ? int(k.source().begin.line) : int(v.source().begin.line);
        return Error(file_ + ":" + std::to_string(line) + ": " + prefix + key + ": " + msg);
      }
    }
    return Status::ok();
  }

  Status cluster(const toml::node& n, AppConfig& c) {
    const toml::table* t = n.as_table();
    if (!t) {
      return err(n, "cluster", "expected a table ([cluster])");
    }
    if (auto s = check_keys(*t, "cluster", "cluster."); !s) {
      return s.error();
    }
    ClusterConfig& k = c.cluster;
    k.enabled = true;
    const toml::node* name = t->get("name");
    if (!name) {
      return err(n, "cluster.name", "required by [cluster]");
    }
    auto nm = string(*name, "cluster.name");
    if (!nm) {
      return nm.error();
    }
    if (nm->empty() || nm->size() > 64 || (*nm)[0] == '.' || (*nm)[0] == '-' ||
        nm->find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
            std::string::npos) {
      return err(*name, "cluster.name",
                 "\"" + *nm + "\" is not a node name (1-64 of letters, digits, '-', '_', '.')");
    }
    k.name = *nm;
    const toml::node* listen = t->get("listen");
    if (!listen) {
      return err(n, "cluster.listen", "required by [cluster]");
    }
    auto l = address(*listen, "cluster.listen");
    if (!l) {
      return l.error();
    }
    for (const Listen& x : c.listen) {
      if (x.port == l->port && x.port != 0 && (x.host == l->host || x.host == "0.0.0.0")) {
        return err(*listen, "cluster.listen", "same address as a site listener; use another port");
      }
    }
    k.host = l->host;
    k.port = l->port;
    if (auto* v = t->get("seeds")) {
      auto r = addresses(*v, "cluster.seeds", false);
      if (!r) {
        return r.error();
      }
      k.seeds = std::move(*r);
    }
    k.certs = resolve("cluster-certs");
    if (auto* v = t->get("certs")) {
      auto s = path(*v, "cluster.certs", true);
      if (!s) {
        return s.error();
      }
      k.certs = *s;
    }
    if (auto* v = t->get("node_id")) {
      auto r = integer(*v, "cluster.node_id", 1, 65535);
      if (!r) {
        return r.error();
      }
      k.node_id = static_cast<uint16_t>(*r);
    }
    if (auto* v = t->get("tick")) {
      auto r = duration(*v, "cluster.tick");
      if (!r) {
        return r.error();
      }
      if (*r < Millis(10)) {
        return err(*v, "cluster.tick", "at least 10ms");
      }
      k.tick = *r;
    }
    if (auto* v = t->get("send_buffer")) {
      auto r = size(*v, "cluster.send_buffer");
      if (!r) {
        return r.error();
      }
      if (*r < 64 * 1024) {
        return err(*v, "cluster.send_buffer", "at least 64K");
      }
      k.send_buffer_bytes = *r;
    }
    if (auto* v = t->get("attach")) {
      if (!v->is_boolean()) {
        return err(*v, "cluster.attach", "expected true or false");
      }
      k.attach = *v->value<bool>();
    }
    if (auto* v = t->get("busy_poll_us")) {
      auto r = integer(*v, "cluster.busy_poll_us", 0, 100'000);
      if (!r) {
        return r.error();
      }
      k.busy_poll_us = static_cast<uint32_t>(*r);
    }
    if (auto* v = t->get("remote_spawn")) {
      if (!v->is_boolean()) {
        return err(*v, "cluster.remote_spawn", "expected true or false");
      }
      k.remote_spawn = *v->value<bool>();
    }
    if (auto* v = t->get("remote_allow")) {
      auto caps = cap_names(*v, "cluster.remote_allow");
      if (!caps) {
        return caps.error();
      }
      k.remote_allow = std::move(*caps);
    }
    if (auto* v = t->get("etcd")) {
      const toml::array* a = v->as_array();
      if (!a) {
        return err(*v, "cluster.etcd", "expected an array of \"http://host:port\"");
      }
      for (const toml::node& e : *a) {
        auto url = string(e, "cluster.etcd");
        if (!url) {
          return url.error();
        }
        if (url->starts_with("https://")) {
          return err(e, "cluster.etcd", "not supported yet: https (use http://)");
        }
        if (!url->starts_with("http://") || url->size() <= 7) {
          return err(e, "cluster.etcd", "expected \"http://host:port\"");
        }
        k.etcd.push_back(std::move(*url));
      }
    }
    if (auto* v = t->get("etcd_prefix")) {
      auto r = string(*v, "cluster.etcd_prefix");
      if (!r) {
        return r.error();
      }
      if (r->empty()) {
        return err(*v, "cluster.etcd_prefix", "must not be empty");
      }
      k.etcd_prefix = std::move(*r);
    }
    if (auto* v = t->get("etcd_lease")) {
      auto r = duration(*v, "cluster.etcd_lease");
      if (!r) {
        return r.error();
      }
      if (*r < Millis(1000)) {
        return err(*v, "cluster.etcd_lease", "at least 1s");
      }
      k.etcd_lease = *r;
    }
    return Status::ok();
  }

  // An array of capability names (checked against the runtime's by the app).
  Result<std::vector<std::string>> cap_names(const toml::node& n, const std::string& key) {
    const toml::array* a = n.as_array();
    if (!a) {
      return err(n, key, "expected an array of capability names");
    }
    std::vector<std::string> out;
    for (const toml::node& e : *a) {
      auto v = string(e, key);
      if (!v) {
        return v.error();
      }
      if (v->empty()) {
        return err(e, key, "empty capability name");
      }
      out.push_back(*v);
    }
    return out;
  }

  Result<std::string> string(const toml::node& n, const std::string& key) {
    if (auto s = n.value<std::string>(); s && n.is_string()) {
      return *s;
    }
    return err(n, key, "expected a string");
  }

  std::string resolve(const std::string& p) const {
    std::filesystem::path x(p);
    return (x.is_absolute() ? x : base_ / x).lexically_normal().string();
  }

  Result<std::string> path(const toml::node& n, const std::string& key, bool must_exist) {
    auto s = string(n, key);
    if (!s) {
      return s;
    }
    if (s->empty()) {
      return err(n, key, "empty path");
    }
    std::string p = resolve(*s);
    if (must_exist) {
      struct stat st {};
      if (stat(p.c_str(), &st) != 0) {
        return err(n, key, p + ": " + std::strerror(errno));
      }
    }
    return p;
  }

  Result<Listen> address(const toml::node& n, const std::string& key) {
    auto s = string(n, key);
    if (!s) {
      return s.error();
    }
    std::string v = *s;
    size_t colon = v.rfind(':');
    if (colon == std::string::npos) {
      return err(n, key, "\"" + v + "\" is not host:port");
    }
    Listen l;
    l.host = v.substr(0, colon);
    if (l.host.size() >= 2 && l.host.front() == '[' && l.host.back() == ']') {
      l.host = l.host.substr(1, l.host.size() - 2);
    }
    std::string port = v.substr(colon + 1);
    if (l.host.empty() || port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
      return err(n, key, "\"" + v + "\" is not host:port");
    }
    l.port = uint16_t(std::stoul(port));
    return l;
  }

  Result<std::vector<Listen>> addresses(const toml::node& n, const std::string& key, bool tls) {
    std::vector<Listen> out;
    const toml::array* a = n.as_array();
    if (!a) {
      auto one = address(n, key);
      if (!one) {
        return one.error();
      }
      one->tls = tls;
      out.push_back(*one);
      return out;
    }
    for (const toml::node& e : *a) {
      auto one = address(e, key);
      if (!one) {
        return one.error();
      }
      one->tls = tls;
      out.push_back(*one);
    }
    return out;
  }

  Result<uint64_t> size(const toml::node& n, const std::string& key) {
    if (n.is_integer()) {
      int64_t v = *n.value<int64_t>();
      if (v < 0) {
        return err(n, key, "must not be negative");
      }
      return uint64_t(v);
    }
    if (n.is_string()) {
      if (auto v = parse_size(*n.value<std::string>())) {
        return *v;
      }
    }
    return err(n, key, "expected a size (bytes, or \"16K\", \"1M\", \"1G\")");
  }

  Result<Millis> duration(const toml::node& n, const std::string& key) {
    if (n.is_string()) {
      if (auto v = parse_duration(*n.value<std::string>())) {
        return *v;
      }
    }
    return err(n, key, "expected a duration (\"500ms\", \"10s\", \"2m\", \"1h\")");
  }

  Result<int64_t> integer(const toml::node& n, const std::string& key, int64_t lo, int64_t hi) {
    if (!n.is_integer()) {
      return err(n, key, "expected an integer");
    }
    int64_t v = *n.value<int64_t>();
    if (v < lo || v > hi) {
      return err(n, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    return v;
  }

  Status limits(const toml::table& t, Limits& l) {
    auto sz = [&](const char* k, auto& dst, uint64_t lo, uint64_t hi) -> Status {
      if (auto* n = t.get(k)) {
        auto v = size(*n, std::string("limits.") + k);
        if (!v) {
          return v.error();
        }
        if (*v < lo || *v > hi) {
          return err(
              *n, std::string("limits.") + k,
              "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " bytes");
        }
        dst = std::remove_reference_t<decltype(dst)>(*v);
      }
      return Status::ok();
    };
    auto dur = [&](const char* k, Millis& dst, bool zero_ok) -> Status {
      if (auto* n = t.get(k)) {
        auto v = duration(*n, std::string("limits.") + k);
        if (!v) {
          return v.error();
        }
        if (v->count() == 0 && !zero_ok) {
          return err(*n, std::string("limits.") + k, "must be more than 0");
        }
        dst = *v;
      }
      return Status::ok();
    };
    auto num = [&](const char* k, uint32_t& dst, int64_t lo, int64_t hi) -> Status {
      if (auto* n = t.get(k)) {
        auto v = integer(*n, std::string("limits.") + k, lo, hi);
        if (!v) {
          return v.error();
        }
        dst = uint32_t(*v);
      }
      return Status::ok();
    };
    Status s;
    Millis retry{1000};
    if (!(s = sz("header_bytes", l.header_bytes, 256, 1 << 20)) ||
        !(s = sz("body_bytes", l.body_bytes, 0, uint64_t(1) << 40)) ||
        !(s = sz("body_chunk_bytes", l.body_chunk_bytes, 512, 16 << 20)) ||
        !(s = sz("write_buffer_bytes", l.write_buffer_bytes, 1024, 64 << 20)) ||
        !(s = sz("ws_message_bytes", l.ws_message_bytes, 16, uint64_t(1) << 32)) ||
        !(s = dur("header_timeout", l.header_timeout, false)) ||
        !(s = dur("idle_timeout", l.idle_timeout, false)) ||
        !(s = dur("deadline", l.deadline, true)) ||
        !(s = dur("shutdown_timeout", l.shutdown_timeout, true)) ||
        !(s = dur("retry_after", retry, true)) ||
        !(s = num("max_connections", l.max_connections, 1, 10'000'000)) ||
        !(s = num("max_in_flight", l.max_in_flight, 1, 10'000'000)) ||
        !(s = num("route_max_in_flight", l.route_max_in_flight, 1, 10'000'000))) {
      return s;
    }
    l.retry_after_s = uint32_t((retry.count() + 999) / 1000);
    return Status::ok();
  }

  Result<RouteConfig> route(const toml::table& t, const std::string& pre, const Limits& lim) {
    if (auto s = check_keys(t, "route", pre + "."); !s) {
      return s.error();
    }
    RouteConfig r;
    r.line = int(t.source().begin.line);
    auto str = [&](const char* k, std::string& dst) -> Status {
      if (auto* n = t.get(k)) {
        auto v = string(*n, pre + "." + k);
        if (!v) {
          return v.error();
        }
        dst = *v;
      }
      return Status::ok();
    };
    std::string kind, path_s, prefix_s;
    Status s;
    if (!(s = str("name", r.name)) || !(s = str("method", r.method)) ||
        !(s = str("path", path_s)) || !(s = str("prefix", prefix_s)) || !(s = str("kind", kind)) ||
        !(s = str("entry", r.entry))) {
      return s.error();
    }
    // Method: a token, upper case.
    for (char ch : r.method) {
      if (!(ch >= 'A' && ch <= 'Z') && ch != '-' && ch != '_') {
        return err(*t.get("method"), pre + ".method",
                   "\"" + r.method + "\" is not an HTTP method (upper case, like \"GET\")");
      }
    }
    if (path_s.empty() == prefix_s.empty()) {
      return err(t, pre, "give exactly one of path and prefix");
    }
    r.prefix = !prefix_s.empty();
    r.path = r.prefix ? prefix_s : path_s;
    const toml::node& pn = *t.get(r.prefix ? "prefix" : "path");
    std::string pkey = pre + (r.prefix ? ".prefix" : ".path");
    if (r.path[0] != '/') {
      return err(pn, pkey, "must start with '/'");
    }
    if (r.path.find_first_of(" ?#\t") != std::string::npos) {
      return err(pn, pkey, "must not contain spaces, '?' or '#'");
    }
    // Parameters are whole segments: "/a/{x}/b".
    for (size_t i = 0; i < r.path.size(); ++i) {
      char ch = r.path[i];
      if (ch == '{' || ch == '}') {
        if (r.prefix) {
          return err(pn, pkey, "a prefix cannot have parameters");
        }
        size_t close = r.path.find('}', i);
        bool ok = ch == '{' && r.path[i - 1] == '/' && close != std::string::npos &&
                  close > i + 1 && (close + 1 == r.path.size() || r.path[close + 1] == '/') &&
                  r.path.substr(i + 1, close - i - 1).find_first_of("{/") == std::string::npos;
        if (!ok) {
          return err(pn, pkey, "a parameter is a whole segment, like /user/{id}");
        }
        i = close;
      }
    }
    const toml::node* kn = t.get("kind");
    if (!kn) {
      return err(t, pre + ".kind", "missing (http, cgi, ws, sse, static)");
    }
    static const std::pair<const char*, RouteKind> kKinds[] = {{"http", RouteKind::kHttp},
                                                               {"cgi", RouteKind::kCgi},
                                                               {"ws", RouteKind::kWs},
                                                               {"sse", RouteKind::kSse},
                                                               {"static", RouteKind::kStatic}};
    bool found = false;
    for (auto& [name, k] : kKinds) {
      if (kind == name) {
        r.kind = k;
        found = true;
      }
    }
    if (!found) {
      return err(*kn, pre + ".kind", "unknown kind \"" + kind + "\" (http, cgi, ws, sse, static)");
    }
    if (r.kind == RouteKind::kStatic) {
      for (const char* k : {"module", "entry", "allow", "memory"}) {
        if (auto* n = t.get(k)) {
          return err(*n, pre + "." + k, "not used by a static route");
        }
      }
      auto* dn = t.get("dir");
      if (!dn) {
        return err(t, pre + ".dir", "missing: the directory a static route serves");
      }
      auto d = path(*dn, pre + ".dir", true);
      if (!d) {
        return d.error();
      }
      if (!std::filesystem::is_directory(*d)) {
        return err(*dn, pre + ".dir", *d + ": not a directory");
      }
      r.dir = *d;
      if (r.method.empty()) {
        r.method = "GET";
      }
    } else {
      if (auto* n = t.get("dir")) {
        return err(*n, pre + ".dir", "only a static route has a dir");
      }
      auto* mn = t.get("module");
      if (!mn) {
        return err(t, pre + ".module", "missing: the .wasm that handles this route");
      }
      auto m = path(*mn, pre + ".module", true);
      if (!m) {
        return m.error();
      }
      r.module = *m;
      if (r.entry.empty()) {
        r.entry = r.kind == RouteKind::kCgi ? "_start" : "handle";
      }
      if (auto* an = t.get("allow")) {
        auto caps = cap_names(*an, pre + ".allow");
        if (!caps) {
          return caps.error();
        }
        r.allow = std::move(*caps);
      }
      if (auto* n = t.get("memory")) {
        auto v = size(*n, pre + ".memory");
        if (!v) {
          return v.error();
        }
        if (*v < 65536 || *v > (uint64_t(4) << 30)) {
          return err(*n, pre + ".memory", "must be between 64K and 4G");
        }
        r.memory_bytes = *v;
      }
    }
    if (auto* on = t.get("origins")) {
      if (r.kind != RouteKind::kWs) {
        return err(*on, pre + ".origins", "only a ws route has origins");
      }
      const toml::array* a = on->as_array();
      if (!a) {
        return err(*on, pre + ".origins", "expected an array of origins");
      }
      for (const toml::node& e : *a) {
        auto v = string(e, pre + ".origins");
        if (!v) {
          return v.error();
        }
        auto o = normalize_origin(*v);
        if (!o) {
          return err(e, pre + ".origins", o.error().message());
        }
        r.origins.push_back(*o);
      }
    }
    if (auto* n = t.get("deadline")) {
      auto v = duration(*n, pre + ".deadline");
      if (!v) {
        return v.error();
      }
      r.deadline = *v;
    } else if (r.kind == RouteKind::kWs || r.kind == RouteKind::kSse) {
      r.deadline = Millis(0);
    }
    if (auto* n = t.get("max_in_flight")) {
      auto v = integer(*n, pre + ".max_in_flight", 1, 10'000'000);
      if (!v) {
        return v.error();
      }
      r.max_in_flight = int32_t(*v);
    }
    if (r.name.empty()) {
      r.name = (r.method.empty() ? std::string() : r.method + " ") + r.path + (r.prefix ? "*" : "");
    }
    (void)lim;
    return r;
  }

  std::string file_;
  std::filesystem::path base_;
};

}  // namespace

std::optional<uint64_t> parse_size(std::string_view s) {
  if (s.empty()) {
    return std::nullopt;
  }
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (v > (UINT64_MAX - 9) / 10) {
      return std::nullopt;
    }
    v = v * 10 + uint64_t(s[i] - '0');
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  std::string_view unit = s.substr(i);
  uint64_t mul = 1;
  if (unit.empty() || unit == "B") {
    mul = 1;
  } else if (unit == "K" || unit == "KiB" || unit == "k") {
    mul = 1024;
  } else if (unit == "M" || unit == "MiB") {
    mul = 1024 * 1024;
  } else if (unit == "G" || unit == "GiB") {
    mul = uint64_t(1) << 30;
  } else {
    return std::nullopt;
  }
  if (v > UINT64_MAX / mul) {
    return std::nullopt;
  }
  return v * mul;
}

std::optional<Millis> parse_duration(std::string_view s) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (v > 1'000'000'000'000ull) {
      return std::nullopt;
    }
    v = v * 10 + uint64_t(s[i] - '0');
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  std::string_view unit = s.substr(i);
  if (unit == "ms") {
    return Millis(v);
  }
  if (unit == "s") {
    return Millis(v * 1000);
  }
  if (unit == "m") {
    return Millis(v * 60'000);
  }
  if (unit == "h") {
    return Millis(v * 3'600'000);
  }
  return std::nullopt;
}

Result<std::string> normalize_origin(std::string_view origin) {
  if (origin == "*") {
    return std::string("*");
  }
  std::string o;
  for (char c : origin) {
    o += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const auto bad = [&](const char* why) {
    return Error("origin \"" + std::string(origin) + "\": " + why +
                 " (expected scheme://host[:port], e.g. https://app.example.com)");
  };
  std::string_view scheme;
  std::string_view rest = o;
  if (rest.starts_with("http://")) {
    scheme = "http";
  } else if (rest.starts_with("https://")) {
    scheme = "https";
  } else {
    return bad("the scheme must be http or https");
  }
  rest.remove_prefix(scheme.size() + 3);
  if (rest.empty()) {
    return bad("no host");
  }
  for (char c : rest) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']')) {
      return bad("only a host and a port may follow the scheme");
    }
  }
  // A port is what follows the last ':' outside an IPv6 literal's brackets.
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find(']', colon) == std::string_view::npos) {
    std::string_view port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(std::string(port)) > 65535) {
      return bad("bad port");
    }
    if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) {
      rest = rest.substr(0, colon);
    }
    if (colon == 0) {
      return bad("no host");
    }
  }
  return std::string(scheme) + "://" + std::string(rest);
}

Result<AppConfig> parse_config(std::string_view text, const std::string& path) {
  return Parser(path).run(text);
}

Result<AppConfig> load_config(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return Error(path + ": " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_config(ss.str(), path);
}

std::span<const ConfigKey> config_keys() {
  return kKeys;
}

std::string config_reference_markdown() {
  std::string o;
  std::string table = "-";
  for (const ConfigKey& k : kKeys) {
    if (table != k.table) {
      table = k.table;
      std::string title = table.empty()      ? "Top level"
                          : table == "route" ? "`[[route]]` (one per route, first match wins)"
                                             : "`[" + table + "]`";
      o += "\n### " + title + "\n\n| key | type | default | meaning |\n|---|---|---|---|\n";
    }
    o += std::string("| `") + k.key + "` | " + k.type + " | " +
         (*k.default_value ? std::string("`") + k.default_value + "`" : std::string("—")) + " | " +
         k.doc + " |\n";
  }
  return o;
}

std::string config_reference_text() {
  std::string o;
  std::string table = "-";
  for (const ConfigKey& k : kKeys) {
    if (table != k.table) {
      table = k.table;
      o += table.empty()      ? "\ntop level:\n"
           : table == "route" ? "\n[[route]]:\n"
                              : "\n[" + table + "]:\n";
    }
    std::string left = std::string("  ") + k.key + " (" + k.type + ")";
    if (*k.default_value) {
      left += " = " + std::string(k.default_value);
    }
    o += left + "\n      " + k.doc + "\n";
  }
  return o;
}

}  // namespace rusm::net
