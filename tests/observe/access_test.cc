#include "observe/access.h"

#include <gtest/gtest.h>

namespace rusm::observe {
namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";

AccessPolicy policy(std::string ip, uint16_t port, AccessOptions o = {}) {
  if (o.token.empty()) {
    o.token = kToken;
  }
  Result<AccessPolicy> p = AccessPolicy::make(ip, port, o);
  EXPECT_TRUE(p) << p.error().message();
  return std::move(*p);
}

RequestHeaders headers(std::string_view target, std::string_view host,
                       std::optional<std::string_view> origin = std::nullopt,
                       std::string_view authorization = "") {
  RequestHeaders h;
  h.target = target;
  h.host = host;
  h.origin = origin;
  h.authorization = authorization;
  return h;
}

TEST(Access, LoopbackAcceptsItsOwnSpellingsOnItsPortOnly) {
  AccessPolicy p = policy("127.0.0.1", 4000);
  EXPECT_TRUE(p.loopback());
  for (const char* ok : {"127.0.0.1:4000", "localhost:4000", "LocalHost:4000", "[::1]:4000",
                         "[0:0:0:0:0:0:0:1]:4000"}) {
    EXPECT_TRUE(p.host_allowed(ok)) << ok;
  }
  for (const char* bad :
       {"127.0.0.1:4001", "127.0.0.1", "evil.example:4000", "localhost.:4000", "", ":4000", "[::1",
        "[::1]4000", "127.0.0.1:4000x", "127.0.0.1:99999", "127.0.0.1:0", "::1:4000",
        "127.0.0.2:4000", "localhost:4000 ", "local host:4000", "127.0.0.1:+4000"}) {
    EXPECT_FALSE(p.host_allowed(bad)) << bad;
  }
}

TEST(Access, OriginMustBeThisServer) {
  AccessPolicy p = policy("127.0.0.1", 4000);
  for (const char* ok : {"http://127.0.0.1:4000", "http://localhost:4000", "HTTP://LOCALHOST:4000",
                         "http://[::1]:4000"}) {
    EXPECT_TRUE(p.origin_allowed(ok)) << ok;
  }
  for (const char* bad :
       {"null", "", "http://evil.example", "http://127.0.0.1:4001", "http://127.0.0.1",
        "https://127.0.0.1:4000", "http://127.0.0.1:4000/", "http://user@127.0.0.1:4000",
        "ws://127.0.0.1:4000", "http://127.0.0.1.evil.example:4000", "file://"}) {
    EXPECT_FALSE(p.origin_allowed(bad)) << bad;
  }
}

TEST(Access, AllowListsAddNamesAndOrigins) {
  AccessOptions o;
  o.allow_hosts = {"Dash.Example.com", "[2001:db8::1]"};
  o.allow_origins = {"https://dash.example.com/"};
  AccessPolicy p = policy("127.0.0.1", 4000, o);
  EXPECT_TRUE(p.host_allowed("dash.example.com"));
  EXPECT_TRUE(p.host_allowed("dash.example.com:443"));
  EXPECT_TRUE(p.host_allowed("[2001:db8:0::1]:8080"));
  EXPECT_FALSE(p.host_allowed("other.example.com"));
  EXPECT_TRUE(p.origin_allowed("https://dash.example.com"));
  EXPECT_FALSE(p.origin_allowed("https://dash.example.com:8443"));
  EXPECT_TRUE(p.origin_allowed("http://dash.example.com"));  // an allowed host, plain http
}

TEST(Access, BadOptionsAreErrorsThatNameThem) {
  AccessOptions o;
  o.token = kToken;
  auto msg = [](Result<AccessPolicy> r) { return r ? std::string("ok") : r.error().message(); };
  EXPECT_NE(msg(AccessPolicy::make("localhost", 1, o)).find("not an IP address"),
            std::string::npos);
  AccessOptions h = o;
  h.allow_hosts = {"dash.example.com:443"};
  EXPECT_NE(msg(AccessPolicy::make("127.0.0.1", 1, h)).find("--allow-host"), std::string::npos);
  h.allow_hosts = {"a b"};
  EXPECT_NE(msg(AccessPolicy::make("127.0.0.1", 1, h)).find("--allow-host"), std::string::npos);
  for (const char* bad : {"dash.example.com", "ftp://x", "https://x/path", "https://"}) {
    AccessOptions g = o;
    g.allow_origins = {bad};
    EXPECT_NE(msg(AccessPolicy::make("127.0.0.1", 1, g)).find("--allow-origin"), std::string::npos)
        << bad;
  }
  AccessOptions t;
  t.token = "short";
  EXPECT_NE(msg(AccessPolicy::make("127.0.0.1", 1, t)).find("--token"), std::string::npos);
}

TEST(Access, SpecificAddressIsNotLoopbackAndNeedsTheTokenForEverything) {
  AccessPolicy p = policy("192.168.1.5", 80);
  EXPECT_FALSE(p.loopback());
  EXPECT_TRUE(p.host_allowed("192.168.1.5"));
  EXPECT_TRUE(p.host_allowed("192.168.1.5:80"));
  EXPECT_FALSE(p.host_allowed("localhost:80"));
  EXPECT_FALSE(p.host_allowed("127.0.0.1:80"));
  Verdict v = p.check(headers("/metrics", "192.168.1.5"));
  EXPECT_EQ(v.access, Access::kNone);
  EXPECT_EQ(v.status, 401);
  EXPECT_EQ(p.check(headers("/metrics?token=" + kToken, "192.168.1.5")).access, Access::kControl);
  EXPECT_EQ(p.check_site(headers("/", "192.168.1.5")).access, Access::kObserve);
  EXPECT_EQ(p.url(), "http://192.168.1.5:80/?token=" + kToken);
}

TEST(Access, WildcardAcceptsLoopbackNamesAndPrintsALoopbackUrl) {
  AccessPolicy p = policy("0.0.0.0", 4000);
  EXPECT_TRUE(p.wildcard());
  EXPECT_FALSE(p.loopback());
  EXPECT_TRUE(p.host_allowed("127.0.0.1:4000"));
  EXPECT_TRUE(p.host_allowed("localhost:4000"));
  EXPECT_FALSE(p.host_allowed("evil.example:4000"));
  EXPECT_EQ(p.url(), "http://127.0.0.1:4000/?token=" + kToken);
  EXPECT_EQ(policy("::", 4000).url(), "http://[::1]:4000/?token=" + kToken);
  EXPECT_EQ(policy("::1", 4000).url(), "http://[::1]:4000/?token=" + kToken);
}

TEST(Access, TheTokenGrantsControlItsAbsenceObservationOnLoopback) {
  AccessPolicy p = policy("127.0.0.1", 4000);
  const char* host = "127.0.0.1:4000";
  EXPECT_EQ(p.check(headers("/ws", host)).access, Access::kObserve);
  EXPECT_EQ(p.check(headers("/ws?token=" + kToken, host)).access, Access::kControl);
  EXPECT_EQ(p.check(headers("/ws?a=1&token=" + kToken + "&b=2", host)).access, Access::kControl);
  EXPECT_EQ(p.check(headers("/ws", host, std::nullopt, "Bearer " + kToken)).access,
            Access::kControl);
  EXPECT_EQ(p.check(headers("/ws", host, std::nullopt, "bearer " + kToken)).access,
            Access::kControl);
  for (std::string bad :
       {kToken + "0", kToken.substr(1), std::string(kToken.size(), '0'), std::string("x")}) {
    Verdict v = p.check(headers("/ws?token=" + bad, host));
    EXPECT_EQ(v.access, Access::kNone) << bad;
    EXPECT_EQ(v.status, 401) << bad;
  }
  // Host and Origin are checked before the token: a right token from a
  // foreign page is still refused.
  Verdict foreign = p.check(headers("/ws?token=" + kToken, host, "http://evil.example"));
  EXPECT_EQ(foreign.access, Access::kNone);
  EXPECT_EQ(foreign.status, 403);
  EXPECT_NE(foreign.reason.find("evil.example"), std::string::npos);
  Verdict no_host;
  RequestHeaders h;
  h.target = "/ws";
  no_host = p.check(h);
  EXPECT_EQ(no_host.status, 400);
}

TEST(Access, TokenMatchingIsExact) {
  AccessPolicy p = policy("127.0.0.1", 1);
  EXPECT_TRUE(p.token_matches(kToken));
  EXPECT_FALSE(p.token_matches(""));
  EXPECT_FALSE(p.token_matches(kToken + '\0'));
  EXPECT_FALSE(p.token_matches(kToken.substr(0, kToken.size() - 1)));
}

TEST(Access, TokenFromTarget) {
  EXPECT_EQ(token_from_target("/ws?token=abc"), "abc");
  EXPECT_EQ(token_from_target("/ws?x=1&token=abc&y"), "abc");
  EXPECT_EQ(token_from_target("/ws?xtoken=abc"), "");
  EXPECT_EQ(token_from_target("/ws"), "");
  EXPECT_EQ(token_from_target("/ws?token="), "");
  EXPECT_EQ(token_from_target("/?token=abc#frag"), "abc");
}

TEST(Access, GeneratedTokensAreLongRandomAndValid) {
  Result<std::string> a = generate_token(), b = generate_token();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(check_token(*a));
  EXPECT_FALSE(check_token("short"));
  EXPECT_FALSE(check_token(std::string(20, 'a') + "?x=1"));
  EXPECT_FALSE(check_token(std::string(300, 'a')));
  EXPECT_TRUE(check_token("0123456789abcdef-scripted"));
}

TEST(Access, LoopbackAddresses) {
  EXPECT_TRUE(is_loopback_ip("127.0.0.1"));
  EXPECT_TRUE(is_loopback_ip("127.1.2.3"));
  EXPECT_TRUE(is_loopback_ip("::1"));
  EXPECT_TRUE(is_loopback_ip("::ffff:127.0.0.1"));
  EXPECT_FALSE(is_loopback_ip("0.0.0.0"));
  EXPECT_FALSE(is_loopback_ip("::"));
  EXPECT_FALSE(is_loopback_ip("10.0.0.1"));
  EXPECT_FALSE(is_loopback_ip("localhost"));
}

}  // namespace
}  // namespace rusm::observe
