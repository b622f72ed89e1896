/* N-body: the Computer Language Benchmarks Game's Jovian planets simulation
 * (double-precision arithmetic and sqrt), run as 2,000 simulations of 1,000
 * steps of 0.01 each.
 * Check: every simulation's energy matches the published reference output,
 * -0.169075164 at the start and -0.169087605 after its 1,000 steps, and the
 * total momentum (zeroed at the start) stays zero. */
#include <math.h>

#include "corpus.h"

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NBODIES 5

typedef struct {
  double x, y, z, vx, vy, vz, mass;
} Body;

/* volatile: read before every simulation, so that none can be skipped as a
 * repeat of the previous one. */
static volatile uint32_t nbody_steps = 1000;
static volatile uint32_t nbody_simulations = 2000;

static void init(Body* b) {
  const Body init[NBODIES] = {
      /* sun */
      {0, 0, 0, 0, 0, 0, SOLAR_MASS},
      /* jupiter */
      {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
       1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
       -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS},
      /* saturn */
      {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
       -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
       2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS},
      /* uranus */
      {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
       2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
       -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS},
      /* neptune */
      {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
       2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
       -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS},
  };
  for (int i = 0; i < NBODIES; ++i) {
    b[i] = init[i];
  }
  double px = 0, py = 0, pz = 0;
  for (int i = 0; i < NBODIES; ++i) {
    px += b[i].vx * b[i].mass;
    py += b[i].vy * b[i].mass;
    pz += b[i].vz * b[i].mass;
  }
  b[0].vx = -px / SOLAR_MASS;
  b[0].vy = -py / SOLAR_MASS;
  b[0].vz = -pz / SOLAR_MASS;
}

static void advance(Body* b, uint32_t steps, double dt) {
  for (uint32_t s = 0; s < steps; ++s) {
    for (int i = 0; i < NBODIES; ++i) {
      for (int j = i + 1; j < NBODIES; ++j) {
        double dx = b[i].x - b[j].x;
        double dy = b[i].y - b[j].y;
        double dz = b[i].z - b[j].z;
        double d2 = dx * dx + dy * dy + dz * dz;
        double mag = dt / (d2 * sqrt(d2));
        b[i].vx -= dx * b[j].mass * mag;
        b[i].vy -= dy * b[j].mass * mag;
        b[i].vz -= dz * b[j].mass * mag;
        b[j].vx += dx * b[i].mass * mag;
        b[j].vy += dy * b[i].mass * mag;
        b[j].vz += dz * b[i].mass * mag;
      }
    }
    for (int i = 0; i < NBODIES; ++i) {
      b[i].x += dt * b[i].vx;
      b[i].y += dt * b[i].vy;
      b[i].z += dt * b[i].vz;
    }
  }
}

static double energy(const Body* b) {
  double e = 0;
  for (int i = 0; i < NBODIES; ++i) {
    e += 0.5 * b[i].mass * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
    for (int j = i + 1; j < NBODIES; ++j) {
      double dx = b[i].x - b[j].x;
      double dy = b[i].y - b[j].y;
      double dz = b[i].z - b[j].z;
      e -= b[i].mass * b[j].mass / sqrt(dx * dx + dy * dy + dz * dz);
    }
  }
  return e;
}

static int near(double a, double b, double tolerance) {
  return fabs(a - b) <= tolerance;
}

uint32_t run(void) {
  Body b[NBODIES];
  uint32_t simulations = nbody_simulations;
  uint32_t checksum = 0;
  for (uint32_t sim = 0; sim < simulations; ++sim) {
    uint32_t steps = nbody_steps;
    init(b);
    double e0 = energy(b);
    /* The reference prints 9 decimals, so it is exact to within 5e-10. */
    CORPUS_CHECK(near(e0, -0.169075164, 5e-10));
    advance(b, steps, 0.01);
    double e1 = energy(b);
    CORPUS_CHECK(steps != 1000 || near(e1, -0.169087605, 5e-10));
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < NBODIES; ++i) {
      px += b[i].vx * b[i].mass;
      py += b[i].vy * b[i].mass;
      pz += b[i].vz * b[i].mass;
    }
    CORPUS_CHECK(near(px, 0, 1e-12) && near(py, 0, 1e-12) && near(pz, 0, 1e-12));
    /* Energy to 12 decimals plus the sun's position bits: identical under
     * any IEEE-754 engine that does what the C says (no fused multiply-add). */
    uint64_t bits;
    __builtin_memcpy(&bits, &b[0].x, sizeof bits);
    checksum =
        checksum * 31 + ((uint32_t)(int64_t)(-e1 * 1e12) ^ (uint32_t)(bits >> 32) ^ (uint32_t)bits);
  }
  return checksum;
}
