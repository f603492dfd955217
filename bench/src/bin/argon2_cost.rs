//! The CPU cost of one password verification at fastusers' default argon2 parameters
//! (argon2id m=65536 t=3 p=4, fastapi-users' too), through fastusers' own `PasswordHelper`.
//!
//! Prints one line of JSON: `cpu_ms` (process CPU time, all threads, per verification),
//! `wall_ms` (elapsed per verification, one at a time), `n`, and `cores`, plus
//! `max_rps` = cores / CPU seconds per verification: the login throughput the machine can do.

use fastusers::password::{Argon2Params, PasswordHelper};

fn cpu_seconds() -> f64 {
    // utime + stime of every thread of the process, from /proc (includes the blocking pool
    // and argon2's lane threads).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), utime and stime; index 11 and 12 after the comm field.
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    #[allow(unsafe_code)]
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let helper = PasswordHelper::new(Argon2Params::default()).expect("default parameters");
    let hash = helper
        .hash("guinevere-password".to_owned())
        .await
        .expect("hash");
    // Warm up (page-faults the 64 MiB once).
    let _ = helper
        .verify_and_update("guinevere-password".to_owned(), hash.clone())
        .await;
    let cpu0 = cpu_seconds();
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        let (ok, _) = helper
            .verify_and_update("guinevere-password".to_owned(), hash.clone())
            .await
            .expect("verify");
        assert!(ok);
    }
    let wall = t0.elapsed().as_secs_f64() / n as f64;
    let cpu = (cpu_seconds() - cpu0) / n as f64;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "{{\"n\": {n}, \"cpu_ms\": {:.2}, \"wall_ms\": {:.2}, \"cores\": {cores}, \"max_rps\": {:.3}}}",
        cpu * 1000.0,
        wall * 1000.0,
        cores as f64 / cpu
    );
}
