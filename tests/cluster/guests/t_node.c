// A guest on a node of a cluster (tests/cluster/guest_test.cc): the v4 node
// calls, send to a name on another node, a monitor of a remote pid and
// monitor_node, all reported as text messages (tag 1) to a reporter.
#include <stdio.h>

#include "rusm.h"

static void report(rusm_pid to, const char* text) {
  rusm_send(to, 1, text, (uint32_t)strlen(text));
}

// "self=ID name=NAME nodes=ID:NAME,ID:NAME," for the reporter.
RUSM_EXPORT(who) void who(rusm_pid reporter) {
  char out[512];
  char name[64];
  int32_t len = rusm_node_name((uint32_t)rusm_node_self(), name, sizeof name - 1);
  name[len > 0 ? len : 0] = 0;
  int n = snprintf(out, sizeof out, "self=%d name=%s nodes=", rusm_node_self(), name);
  uint32_t ids[16];
  int32_t count = rusm_nodes(ids, 16);
  for (int32_t i = 0; i < count && i < 16 && n < (int)sizeof out - 80; ++i) {
    len = rusm_node_name(ids[i], name, sizeof name - 1);
    name[len > 0 ? len : 0] = 0;
    n += snprintf(out + n, sizeof out - n, "%u:%s,", ids[i], name);
  }
  // A node never seen has no name; an id past 16 bits is a bad argument.
  if (rusm_node_name(65000, name, sizeof name) != RUSM_ENOTFOUND ||
      rusm_node_name(70000, name, sizeof name) != RUSM_EBADARG) {
    report(reporter, "node_name errors are wrong");
    return;
  }
  report(reporter, out);
}

// Registers as "echo" and answers every message to its sender.
RUSM_EXPORT(echo_server) void echo_server(void) {
  if (rusm_register("echo") != RUSM_OK || rusm_register_global("gecho") != RUSM_OK) {
    return;
  }
  char buf[256];
  for (;;) {
    rusm_msg h;
    int32_t n = rusm_receive(&h, buf, sizeof buf);
    if (n >= 0 && h.tag < RUSM_TAG_RESERVED) {
      rusm_send(h.from, h.tag, buf, (uint32_t)(n < (int32_t)sizeof buf ? n : sizeof buf));
    }
  }
}

// Asks "echo" on `node`, monitors the process that answered and the node,
// then reports each step; the last reports come when that node goes away.
RUSM_EXPORT(client) void client(int32_t node, rusm_pid reporter) {
  char buf[256];
  if (rusm_send_named(60000, "echo", 7, "x", 1) != RUSM_ENOTCONN ||
      rusm_send((60000ull << 48) | 5, 7, "x", 1) != RUSM_ENOTCONN) {
    report(reporter, "a node that is not connected must give ENOTCONN");
    return;
  }
  if (rusm_send_named((uint32_t)rusm_node_self(), "nobody", 7, "x", 1) != RUSM_ENOTFOUND) {
    report(reporter, "an unknown local name must give ENOTFOUND");
    return;
  }
  int32_t r = rusm_send_named((uint32_t)node, "echo", 7, "ping", 4);
  if (r != RUSM_OK) {
    snprintf(buf, sizeof buf, "send_named failed: %d", r);
    report(reporter, buf);
    return;
  }
  rusm_msg h;
  int32_t n = rusm_receive_tag(7, &h, buf, sizeof buf - 1, 5000000000ll);
  if (n < 0) {
    report(reporter, "no answer from echo");
    return;
  }
  buf[n] = 0;
  char out[256];
  snprintf(out, sizeof out, "answer=%s from_node=%llu", buf, (unsigned long long)(h.from >> 48));
  report(reporter, out);
  rusm_pid server = h.from;

  // The same server by its global name, once the name reached this node.
  int64_t g = 0;
  for (int i = 0; i < 500 && (g = rusm_whereis_global("gecho")) == 0; ++i) {
    rusm_sleep_ms(10);
  }
  if ((rusm_pid)g != server) {
    report(reporter, "whereis_global(gecho) is not the server");
    return;
  }
  if (rusm_register_global("gecho") != RUSM_EEXISTS || rusm_register_global("") != RUSM_EBADARG ||
      rusm_send_global("nobody", 8, "x", 1) != RUSM_ENOTFOUND ||
      rusm_unregister_global("nobody") != RUSM_ENOTFOUND) {
    report(reporter, "global name errors are wrong");
    return;
  }
  if (rusm_send_global("gecho", 8, "gping", 5) != RUSM_OK) {
    report(reporter, "send_global failed");
    return;
  }
  n = rusm_receive_tag(8, &h, buf, sizeof buf - 1, 5000000000ll);
  if (n < 0) {
    report(reporter, "no answer through the global name");
    return;
  }
  buf[n] = 0;
  snprintf(out, sizeof out, "global=%s same=%d", buf, h.from == server);
  report(reporter, out);

  rusm_ref ref = rusm_monitor(h.from);
  rusm_monitor_node((uint32_t)node, 1);
  report(reporter, "watching");
  int got_down = 0, got_nodedown = 0;
  while (!got_down || !got_nodedown) {
    n = rusm_receive_timeout(&h, buf, sizeof buf, 10000000000ll);
    if (n < 0) {
      report(reporter, "no DOWN or nodedown within 10 s");
      return;
    }
    if (h.tag == RUSM_TAG_DOWN && h.ref == ref) {
      rusm_down_payload d;
      if (n < (int32_t)sizeof d) {
        report(reporter, "a short DOWN payload");
        return;
      }
      memcpy(&d, buf, sizeof d);
      snprintf(out, sizeof out, "down kind=%u", d.kind);
      report(reporter, out);
      got_down = 1;
    } else if (h.tag == RUSM_TAG_NODE_DOWN) {
      uint16_t id = (uint16_t)((uint8_t)buf[0] | ((uint8_t)buf[1] << 8));
      snprintf(out, sizeof out, "nodedown %u ref=%llu", id, (unsigned long long)h.ref);
      report(reporter, out);
      got_nodedown = 1;
    }
  }
}

// ---- remote spawn (rusm_spawn_on)

// Spawned on another node: tells the reporter where it runs and whether it
// may register a name (the node's remote-spawn policy decides).
RUSM_EXPORT(remote_child) void remote_child(rusm_pid reporter) {
  char out[128];
  snprintf(out, sizeof out, "child on=%d register=%d", rusm_node_self(), rusm_register("kid"));
  report(reporter, out);
}

// Spawned on another node: ends at once with an error.
RUSM_EXPORT(remote_crasher) void remote_crasher(void) {
  rusm_exit(RUSM_EXIT_ERROR, "crashed on purpose");
}

// Spawns on `node` and reports each outcome: a plain child, a monitored one
// that crashes (its DOWN), a linked one that crashes (its EXIT, trapped), an
// unknown function, a node that is not connected.
RUSM_EXPORT(spawner) void spawner(int32_t node, rusm_pid reporter) {
  char out[256];
  uint64_t arg = reporter;
  rusm_spawned s = {0, 0};
  int32_t r = rusm_spawn_on((uint32_t)node, "t_node", "remote_child", &arg, 1, 0, &s, -1);
  snprintf(out, sizeof out, "spawn=%d child_node=%llu", r, (unsigned long long)(s.pid >> 48));
  report(reporter, out);

  rusm_spawn_opts mon = {RUSM_SPAWN_MONITOR, 0, 0, 0, 0, 0};
  r = rusm_spawn_on((uint32_t)node, "t_node", "remote_crasher", 0, 0, &mon, &s, 5000000000ll);
  if (r != RUSM_OK || s.monitor == 0) {
    snprintf(out, sizeof out, "monitored spawn failed: %d", r);
    report(reporter, out);
    return;
  }
  rusm_msg h;
  char buf[256];
  int32_t n = rusm_receive_tag(RUSM_TAG_DOWN, &h, buf, sizeof buf, 5000000000ll);
  rusm_down_payload d;
  memset(&d, 0, sizeof d);
  if (n >= (int32_t)sizeof d) {
    memcpy(&d, buf, sizeof d);
  }
  snprintf(out, sizeof out, "down ref_ok=%d kind=%u", n >= 0 && h.ref == s.monitor, d.kind);
  report(reporter, out);

  rusm_trap_exit(1);
  rusm_spawn_opts link = {RUSM_SPAWN_LINK, 0, 0, 0, 0, 0};
  r = rusm_spawn_on((uint32_t)node, "t_node", "remote_crasher", 0, 0, &link, &s, 5000000000ll);
  n = r == RUSM_OK ? rusm_receive_tag(RUSM_TAG_EXIT, &h, buf, sizeof buf, 5000000000ll) : r;
  snprintf(out, sizeof out, "exit from_ok=%d", n >= 0 && h.from == s.pid);
  report(reporter, out);

  int32_t nofn = rusm_spawn_on((uint32_t)node, "t_node", "nope", 0, 0, 0, &s, 5000000000ll);
  int32_t nomod = rusm_spawn_on((uint32_t)node, "nomodule", "x", 0, 0, 0, &s, 5000000000ll);
  int32_t noconn = rusm_spawn_on(60000, "t_node", "remote_crasher", 0, 0, 0, &s, 5000000000ll);
  snprintf(out, sizeof out, "nofn=%d nomod=%d noconn=%d", nofn, nomod, noconn);
  report(reporter, out);
}

// Lives until killed (a remote child for the multi-process test).
RUSM_EXPORT(idle) void idle(void) {
  rusm_sleep_ns(-1);
}
