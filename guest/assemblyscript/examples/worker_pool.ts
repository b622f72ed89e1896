// A supervised worker pool: a one_for_one supervisor runs 4 workers; a worker
// crashes after every odd job and the supervisor starts a new one in its
// place. The boss (_start) hands 20 jobs to the workers that said they are
// ready and monitors each worker while it holds a job, so a job whose
// worker died before answering would be handed out again.
// `rusm run worker_pool.wasm --allow spawn`.
import * as rusm from "rusm";

const TAG_READY: u64 = 1; // worker -> boss: give me a job
const TAG_JOB: u64 = 2; // boss -> worker: u64 job
const TAG_DONE: u64 = 3; // worker -> boss: u64 job, u64 job * job

const JOBS: u64 = 20;
const WORKERS = 4;

function u64s(a: u64, b: u64): Uint8Array {
  const out = new Uint8Array(16);
  store<u64>(out.dataStart, a);
  store<u64>(out.dataStart, b, 8);
  return out;
}

function u64At(data: Uint8Array, i: i32): u64 {
  assert(data.byteLength >= (i + 1) * 8, "short message");
  return load<u64>(data.dataStart + <usize>(i * 8));
}

// A supervised child: started (and restarted) by the supervisor with the
// boss's pid.
export function worker(boss: u64): void {
  rusm.send(boss, TAG_READY, "");
  for (;;) {
    const m = changetype<rusm.Message>(rusm.receiveTag(TAG_JOB));
    const job = u64At(m.data, 0);
    rusm.send(boss, TAG_DONE, u64s(job, job * job));
    if (job % 2 == 1) rusm.exitError("crashed on an odd job");
    rusm.send(boss, TAG_READY, "");
  }
}

export function _start(): void {
  const me = rusm.self();
  const children = new Array<rusm.ChildSpec>();
  for (let i = 0; i < WORKERS; i++) {
    children.push(new rusm.ChildSpec("worker" + i.toString(), "worker", [me]));
  }
  const sup = rusm.Supervisor.start(rusm.ONE_FOR_ONE, children, 100, 1000)
    .expect("supervisor (grant it with --allow spawn)");
  const seen = new Set<u64>(); // workers that were ever ready
  const first = sup.whichChildren().expect("which_children");
  assert(first.length == WORKERS, "the supervisor should start every worker");
  for (let i = 0; i < first.length; i++) seen.add(first[i]);

  const pending = new Array<u64>();
  for (let j: u64 = 0; j < JOBS; j++) pending.push(j);
  const holding = new Map<u64, u64>(); // monitor ref -> job
  const holder = new Map<u64, u64>(); // worker -> monitor ref
  const ready = new Array<u64>();
  let answered: u64 = 0;
  let crashing: u64 = 0;
  let restarted: u64 = 0;
  // Until every job is answered and every worker that crashed is back.
  while (answered < JOBS || restarted < crashing) {
    while (ready.length > 0 && pending.length > 0) {
      const w = ready.shift();
      const job = pending.shift();
      const ref = rusm.monitor(w).unwrap();
      holding.set(ref, job);
      holder.set(w, ref);
      rusm.send(w, TAG_JOB, u64s(job, 0));
    }
    const m = rusm.receive();
    if (m.tag == TAG_READY) {
      if (!seen.has(m.from)) {
        seen.add(m.from);
        restarted++;
      }
      ready.push(m.from);
    } else if (m.tag == TAG_DONE) {
      const job = u64At(m.data, 0);
      assert(u64At(m.data, 1) == job * job, "a wrong answer");
      answered++;
      if (job % 2 == 1) crashing++;
      if (holder.has(m.from)) {
        const ref = holder.get(m.from);
        rusm.demonitor(ref, true);
        holding.delete(ref);
        holder.delete(m.from);
      }
    } else if (m.isDown()) {
      const down = changetype<rusm.Exit>(m.exit());
      if (holding.has(down.monitor)) {
        pending.unshift(holding.get(down.monitor)); // it died holding a job: hand it out again
        holding.delete(down.monitor);
        holder.delete(down.from);
      }
    }
  }
  const crashed = restarted.toString();
  console.log(answered.toString() + " jobs answered, " + crashed + " workers crashed and were restarted");
}
