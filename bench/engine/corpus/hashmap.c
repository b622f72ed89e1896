/* A hash map with open addressing (linear probing, backward-shift deletion,
 * doubling at 3/4 load) from 64-bit keys to 32-bit values: inserts, hits,
 * misses, deletes and re-inserts into the holes.
 * Check: keys are mix64(i + c) for distinct i, and mix64 is a bijection, so
 * the keys are distinct and every count and sum has a closed form: after
 * inserting i in [0, n) the size is n and the values found sum to n(n-1)/2;
 * keys for i in [n, 2n) all miss; after deleting the even i, exactly the odd
 * i remain and their values sum to (n/2)^2; re-inserting n/2 new keys brings
 * the size back to n. */
#include <stdlib.h>

#include "corpus.h"

static volatile uint32_t hashmap_n = 1u << 18;
static volatile uint32_t hashmap_rounds = 4;

typedef struct {
  uint64_t* keys; /* 0 = empty */
  uint32_t* values;
  size_t capacity; /* a power of two */
  size_t size;
} Map;

static uint64_t key_of(uint64_t i) {
  return corpus_mix64(i + 0x9e3779b97f4a7c15ULL);
}

/* The keys are already mixed; the slot is their high bits. */
static size_t slot_of(const Map* m, uint64_t key) {
  return (size_t)(key >> 20) & (m->capacity - 1);
}

static void map_init(Map* m, size_t capacity) {
  m->keys = calloc(capacity, sizeof *m->keys);
  m->values = malloc(capacity * sizeof *m->values);
  CORPUS_CHECK(m->keys != NULL && m->values != NULL);
  m->capacity = capacity;
  m->size = 0;
}

static void map_free(Map* m) {
  free(m->keys);
  free(m->values);
}

static int map_put(Map* m, uint64_t key, uint32_t value);

static void map_grow(Map* m) {
  Map bigger;
  map_init(&bigger, m->capacity * 2);
  for (size_t i = 0; i < m->capacity; ++i) {
    if (m->keys[i] != 0) {
      map_put(&bigger, m->keys[i], m->values[i]);
    }
  }
  map_free(m);
  *m = bigger;
}

/* Returns 1 if the key was new, 0 if its value was replaced. */
static int map_put(Map* m, uint64_t key, uint32_t value) {
  CORPUS_CHECK(key != 0);
  if ((m->size + 1) * 4 > m->capacity * 3) {
    map_grow(m);
  }
  size_t mask = m->capacity - 1;
  for (size_t s = slot_of(m, key);; s = (s + 1) & mask) {
    if (m->keys[s] == key) {
      m->values[s] = value;
      return 0;
    }
    if (m->keys[s] == 0) {
      m->keys[s] = key;
      m->values[s] = value;
      ++m->size;
      return 1;
    }
  }
}

static const uint32_t* map_get(const Map* m, uint64_t key) {
  size_t mask = m->capacity - 1;
  for (size_t s = slot_of(m, key);; s = (s + 1) & mask) {
    if (m->keys[s] == key) {
      return &m->values[s];
    }
    if (m->keys[s] == 0) {
      return NULL;
    }
  }
}

/* Backward-shift deletion: no tombstones, probe chains stay short. */
static int map_erase(Map* m, uint64_t key) {
  size_t mask = m->capacity - 1;
  size_t s = slot_of(m, key);
  while (m->keys[s] != key) {
    if (m->keys[s] == 0) {
      return 0;
    }
    s = (s + 1) & mask;
  }
  size_t hole = s;
  for (size_t t = (hole + 1) & mask; m->keys[t] != 0; t = (t + 1) & mask) {
    size_t home = slot_of(m, m->keys[t]);
    /* Move t into the hole unless its home lies cyclically in (hole, t]. */
    int stays = hole <= t ? (hole < home && home <= t) : (hole < home || home <= t);
    if (!stays) {
      m->keys[hole] = m->keys[t];
      m->values[hole] = m->values[t];
      hole = t;
    }
  }
  m->keys[hole] = 0;
  --m->size;
  return 1;
}

uint32_t run(void) {
  uint64_t n = hashmap_n;
  uint32_t rounds = hashmap_rounds;
  CORPUS_CHECK(n % 2 == 0);
  uint32_t checksum = 0;
  for (uint32_t r = 0; r < rounds; ++r) {
    Map m;
    map_init(&m, 16);
    for (uint64_t i = 0; i < n; ++i) {
      CORPUS_CHECK(map_put(&m, key_of(i), (uint32_t)i) == 1);
    }
    CORPUS_CHECK(m.size == n);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const uint32_t* v = map_get(&m, key_of(i));
      CORPUS_CHECK(v != NULL && *v == (uint32_t)i);
      sum += *v;
    }
    CORPUS_CHECK(sum == n * (n - 1) / 2);
    for (uint64_t i = n; i < 2 * n; ++i) {
      CORPUS_CHECK(map_get(&m, key_of(i)) == NULL);
    }
    for (uint64_t i = 0; i < n; i += 2) {
      CORPUS_CHECK(map_erase(&m, key_of(i)) == 1);
    }
    CORPUS_CHECK(m.size == n / 2);
    uint64_t odd_sum = 0, found = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const uint32_t* v = map_get(&m, key_of(i));
      CORPUS_CHECK((v != NULL) == (i % 2 == 1));
      if (v != NULL) {
        odd_sum += *v;
        ++found;
      }
    }
    CORPUS_CHECK(found == n / 2 && odd_sum == (n / 2) * (n / 2));
    for (uint64_t i = 2 * n; i < 2 * n + n / 2; ++i) {
      CORPUS_CHECK(map_put(&m, key_of(i), (uint32_t)i) == 1);
    }
    CORPUS_CHECK(m.size == n);
    /* Replacing a value does not change the size. */
    CORPUS_CHECK(map_put(&m, key_of(1), 7) == 0 && m.size == n && *map_get(&m, key_of(1)) == 7);
    checksum = checksum * 31 + (uint32_t)(sum + odd_sum) + (uint32_t)m.capacity;
    map_free(&m);
  }
  return checksum;
}
