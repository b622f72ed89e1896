/* A WebSocket chat (examples/serve/chat/rusm.toml).
 *
 * handle(ws): one process per connection. It finds the room (starting it if
 * none runs yet), joins it, and then one receive loop serves both sides:
 * a text frame from its client goes to the room as a line, a line from the
 * room goes out to the client as a text frame, and the connection's CLOSE
 * makes it leave.
 *
 * room(): one process registered as "room". It monitors every member, so a
 * member that dies without saying goodbye (a crash, a kill) is dropped when
 * its DOWN arrives, and it broadcasts every line to every member. A member
 * too slow to take its lines (its mailbox budget full) misses them rather
 * than making the room wait. */
#include <rusm.h>

enum {
  TAG_JOIN = 1,  /* member -> room: payload = the member's name */
  TAG_SAY = 2,   /* member -> room: payload = "name: text" */
  TAG_LEAVE = 3, /* member -> room */
  TAG_LINE = 4,  /* room -> member: payload = a line to show */
};

#define MAX_MEMBERS 4096
#define MAX_LINE 4096

static char buf[MAX_LINE + 64];
static char line[MAX_LINE + 128];

/* ---- the room */

typedef struct {
  rusm_pid pid;
  rusm_ref monitor;
  char name[32];
  uint32_t name_len;
} member;

static member members[MAX_MEMBERS];
static uint32_t nmembers;

static void broadcast(const char* s, uint32_t n) {
  for (uint32_t i = 0; i < nmembers; ++i) {
    rusm_send(members[i].pid, TAG_LINE, s, n); /* EFULL: that member misses it */
  }
}

static int find(rusm_pid pid) {
  for (uint32_t i = 0; i < nmembers; ++i) {
    if (members[i].pid == pid) {
      return (int)i;
    }
  }
  return -1;
}

static void announce(const member* m, const char* what) {
  uint32_t k = 0;
  memcpy(line, "* ", 2);
  k = 2;
  memcpy(line + k, m->name, m->name_len);
  k += m->name_len;
  uint32_t w = (uint32_t)strlen(what);
  memcpy(line + k, what, w);
  k += w;
  broadcast(line, k);
}

static void drop(int i, const char* why) {
  member gone = members[i];
  members[i] = members[--nmembers];
  announce(&gone, why);
}

__attribute__((export_name("room"))) void room(void) {
  if (rusm_register("room") != RUSM_OK) {
    return; /* another connection started the room first */
  }
  for (;;) {
    rusm_msg m;
    int32_t n = rusm_receive(&m, buf, sizeof buf);
    if (n < 0) {
      continue;
    }
    if (n > (int32_t)sizeof buf) {
      n = sizeof buf;
    }
    if (m.tag == TAG_JOIN && nmembers < MAX_MEMBERS && find(m.from) < 0) {
      member* p = &members[nmembers++];
      p->pid = m.from;
      p->name_len = (uint32_t)n < sizeof p->name ? (uint32_t)n : sizeof p->name;
      memcpy(p->name, buf, p->name_len);
      p->monitor = rusm_monitor(m.from);
      announce(p, " joined");
    } else if (m.tag == TAG_SAY && find(m.from) >= 0) {
      broadcast(buf, (uint32_t)n);
    } else if (m.tag == TAG_LEAVE) {
      int i = find(m.from);
      if (i >= 0) {
        rusm_demonitor(members[i].monitor, 1);
        drop(i, " left");
      }
    } else if (m.tag == RUSM_TAG_DOWN) {
      const rusm_down_payload* d = (const rusm_down_payload*)buf;
      int i = find(d->from);
      if (i >= 0) {
        drop(i, " dropped");
      }
    }
  }
}

/* ---- a connection */

static rusm_pid find_room(void) {
  rusm_pid r = (rusm_pid)rusm_whereis("room");
  if (r != 0) {
    return r;
  }
  rusm_spawn("room", 0, 0);
  /* The room registers itself; a room started by another connection at the
   * same time may win, so look the name up again. */
  for (int tries = 0; tries < 1000 && r == 0; ++tries) {
    rusm_yield();
    r = (rusm_pid)rusm_whereis("room");
  }
  return r;
}

/* The "name" query parameter (not decoded; at most 24 bytes of [A-Za-z0-9_-]),
 * else "guest". */
static uint32_t client_name(int32_t ws, char* out) {
  char q[256];
  int32_t n = rusm_ws_query(ws, q, sizeof q);
  if (n > (int32_t)sizeof q) {
    n = sizeof q;
  }
  uint32_t k = 0;
  for (int32_t i = 0; i + 5 <= n; ++i) {
    if ((i == 0 || q[i - 1] == '&') && memcmp(q + i, "name=", 5) == 0) {
      for (int32_t j = i + 5; j < n && q[j] != '&' && k < 24; ++j) {
        char c = q[j];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-') {
          out[k++] = c;
        }
      }
      break;
    }
  }
  if (k == 0) {
    memcpy(out, "guest", 5);
    k = 5;
  }
  return k;
}

__attribute__((export_name("handle"))) void handle(int32_t ws) {
  char name[32];
  uint32_t name_len = client_name(ws, name);
  char label[40] = "chat:";
  memcpy(label + 5, name, name_len);
  label[5 + name_len] = 0;
  rusm_set_label(label);

  rusm_pid room_pid = find_room();
  if (room_pid == 0) {
    rusm_ws_close(ws, 1011, "no room", 7);
    return;
  }
  rusm_ref room_monitor = rusm_monitor(room_pid);
  rusm_send(room_pid, TAG_JOIN, name, name_len);
  for (;;) {
    rusm_msg m;
    int32_t n = rusm_receive(&m, buf, sizeof buf);
    if (n < 0) {
      continue;
    }
    if (m.tag == RUSM_TAG_WS_CLOSE) {
      rusm_send(room_pid, TAG_LEAVE, 0, 0);
      return;
    }
    if (m.tag == RUSM_TAG_DOWN && m.ref == room_monitor) {
      rusm_ws_close(ws, 1012, "room gone", 9); /* the client may reconnect */
      return;
    }
    if (m.tag == RUSM_TAG_WS_TEXT) {
      if (n > MAX_LINE) {
        n = MAX_LINE; /* the rest is not read; cut on a UTF-8 boundary */
        while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80) {
          --n;
        }
      }
      memcpy(line, name, name_len);
      memcpy(line + name_len, ": ", 2);
      memcpy(line + name_len + 2, buf, (size_t)n);
      rusm_send(room_pid, TAG_SAY, line, name_len + 2 + (uint32_t)n);
    } else if (m.tag == TAG_LINE && m.from == room_pid) {
      if (n > (int32_t)sizeof buf) {
        n = sizeof buf;
      }
      if (rusm_ws_send(ws, RUSM_WS_TEXT, buf, (uint32_t)n) == RUSM_ECLOSED) {
        rusm_send(room_pid, TAG_LEAVE, 0, 0);
        return;
      }
    }
  }
}
