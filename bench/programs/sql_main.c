// The SQL program of `rusm bench programs`: SQLite (the amalgamation from
// the npm package better-sqlite3, fetched at build time) on an in-memory
// database: create tables, insert rows in a transaction, index them, run
// indexed lookups, range queries, an aggregate over a join, updates and
// deletes. argv[1]: SCALE (default 1), the number of rounds. Prints
// {"checksum":N} over integer results only (no float formatting, so every
// engine must agree); exits 1 naming the statement that failed.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sqlite3.h"

static sqlite3* db;

static void die(const char* what) {
  fprintf(stderr, "sql: %s: %s\n", what, sqlite3_errmsg(db));
  exit(1);
}

static void exec(const char* sql) {
  char* err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "sql: %s: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

static sqlite3_stmt* prepare(const char* sql) {
  sqlite3_stmt* s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    die(sql);
  }
  return s;
}

static uint32_t lcg_state = 12345;
static uint32_t next_random(void) {
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return lcg_state >> 8;
}

// Steps `s` to the end, folding every integer column of every row into *sum.
static void fold_rows(sqlite3_stmt* s, uint64_t* sum) {
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(s); ++c) {
      *sum = *sum * 1000003u + (uint64_t)sqlite3_column_int64(s, c);
    }
  }
  if (rc != SQLITE_DONE) {
    die(sqlite3_sql(s));
  }
  sqlite3_reset(s);
}

int main(int argc, char** argv) {
  int scale = argc > 1 ? atoi(argv[1]) : 1;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    die("open");
  }
  uint64_t sum = 0;
  const int rows = 20000;
  for (int round = 0; round < scale; ++round) {
    exec(
        "DROP TABLE IF EXISTS item; DROP TABLE IF EXISTS grp;"
        "CREATE TABLE grp(id INTEGER PRIMARY KEY, label TEXT NOT NULL);"
        "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, grp INTEGER NOT NULL,"
        " qty INTEGER NOT NULL, price INTEGER NOT NULL)");
    exec("BEGIN");
    sqlite3_stmt* add_grp = prepare("INSERT INTO grp(id, label) VALUES(?, ?)");
    for (int g = 0; g < 100; ++g) {
      char label[32];
      snprintf(label, sizeof label, "group-%03d", (g * 37) % 100);
      sqlite3_bind_int(add_grp, 1, g);
      sqlite3_bind_text(add_grp, 2, label, -1, SQLITE_TRANSIENT);
      fold_rows(add_grp, &sum);
    }
    sqlite3_finalize(add_grp);
    sqlite3_stmt* add = prepare("INSERT INTO item(name, grp, qty, price) VALUES(?, ?, ?, ?)");
    for (int i = 0; i < rows; ++i) {
      char name[32];
      snprintf(name, sizeof name, "item-%08x", next_random());
      sqlite3_bind_text(add, 1, name, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(add, 2, (int)(next_random() % 100));
      sqlite3_bind_int(add, 3, (int)(next_random() % 50));
      sqlite3_bind_int(add, 4, (int)(next_random() % 10000));
      fold_rows(add, &sum);
    }
    sqlite3_finalize(add);
    exec("COMMIT");
    exec("CREATE INDEX item_name ON item(name); CREATE INDEX item_grp ON item(grp, price)");

    sqlite3_stmt* by_name =
        prepare("SELECT id, qty FROM item WHERE name >= ? ORDER BY name LIMIT 1");
    sqlite3_stmt* by_grp =
        prepare("SELECT count(*), sum(qty), max(price) FROM item WHERE grp = ? AND price < ?");
    for (int q = 0; q < 4000; ++q) {
      char name[32];
      snprintf(name, sizeof name, "item-%08x", next_random());
      sqlite3_bind_text(by_name, 1, name, -1, SQLITE_TRANSIENT);
      fold_rows(by_name, &sum);
      sqlite3_bind_int(by_grp, 1, (int)(next_random() % 100));
      sqlite3_bind_int(by_grp, 2, (int)(next_random() % 10000));
      fold_rows(by_grp, &sum);
    }
    sqlite3_finalize(by_name);
    sqlite3_finalize(by_grp);

    sqlite3_stmt* report = prepare(
        "SELECT g.label, count(*), sum(i.qty * i.price), min(i.price) FROM item i"
        " JOIN grp g ON g.id = i.grp WHERE i.qty > 10 GROUP BY g.label"
        " ORDER BY 3 DESC, 1 LIMIT 20");
    for (int k = 0; k < 10; ++k) {
      fold_rows(report, &sum);
    }
    sqlite3_finalize(report);

    exec(
        "BEGIN; UPDATE item SET qty = qty + 1 WHERE price % 7 = 0;"
        "DELETE FROM item WHERE qty > 45; COMMIT");
    sqlite3_stmt* total = prepare("SELECT count(*), sum(qty), sum(price) FROM item");
    fold_rows(total, &sum);
    sqlite3_finalize(total);
  }
  sqlite3_close(db);
  printf("{\"checksum\":%u}\n", (unsigned)(sum ^ (sum >> 32)));
  return 0;
}
