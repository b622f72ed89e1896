// A supervised worker pool: 4 workers take 20 jobs; a worker crashes after
// every odd job and its supervisor (main, trapping exits) starts a new one in
// its place. `rusm run worker_pool.wasm --allow spawn --allow proc`.
use rusm::Pid;

const TAG_JOB: u64 = 1;
const TAG_DONE: u64 = 2;

#[no_mangle]
pub extern "C" fn worker(boss: u64) {
    loop {
        let m = rusm::receive_tag(TAG_JOB, None).unwrap();
        let job = u64::from_le_bytes(m.data[..8].try_into().unwrap());
        rusm::send(Pid(boss), TAG_DONE, &(job * job).to_le_bytes()).unwrap();
        if job % 2 == 1 {
            rusm::exit_error("crashed on an odd job");
        }
    }
}

fn main() {
    rusm::trap_exit(true).unwrap();
    let me = rusm::self_pid().0;
    let start = || rusm::spawn_link("worker", &[me]).expect("spawn (grant --allow spawn --allow proc)");
    let mut workers: Vec<Pid> = (0..4).map(|_| start()).collect();
    // The job each worker holds: a worker that dies holding one gives it back.
    let mut holding: Vec<Option<u64>> = vec![None; workers.len()];
    let mut pending: std::collections::VecDeque<u64> = (0..20).collect();
    let (mut answered, mut restarted, mut crashing) = (0u64, 0u64, 0u64);
    // Until every job is answered and every worker that crashed is back.
    while answered < 20 || restarted < crashing {
        for (i, w) in workers.iter().enumerate() {
            if holding[i].is_none() {
                if let Some(job) = pending.pop_front() {
                    rusm::send(*w, TAG_JOB, &job.to_le_bytes()).unwrap();
                    holding[i] = Some(job);
                }
            }
        }
        let m = rusm::receive();
        if m.tag == TAG_DONE {
            answered += 1;
            if u64::from_le_bytes(m.data[..8].try_into().unwrap()) % 2 == 1 {
                crashing += 1; // the square of an odd job is odd: that worker crashes next
            }
            if let Some(i) = workers.iter().position(|w| *w == m.from) {
                holding[i] = None;
            }
        } else if let Some(exit) = m.exit() {
            if let Some(i) = workers.iter().position(|w| *w == exit.from) {
                if let Some(job) = holding[i].take() {
                    pending.push_front(job); // sent to it after its crash: not done
                }
                workers[i] = start();
                restarted += 1;
            }
        }
    }
    println!("{} jobs answered, {} workers crashed and were restarted", answered, restarted);
}
