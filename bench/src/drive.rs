//! A closed-loop load driver: each caller sends its next call as soon as the previous
//! one answered. A run is a warm-up followed by a measured window; a call counts when
//! it completes inside the window, and its latency is recorded.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use crate::{
    procs,
    stats::{self, Sample},
};

/// One caller: a connection or a clone of a client, and the call it repeats.
pub trait Caller: Send + 'static {
    fn call(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

/// Runs `callers` concurrently for `warmup` then `window`, and reports the window.
/// `watch` are the PIDs whose CPU use is measured over the window.
pub async fn closed_loop<C: Caller>(
    callers: Vec<C>,
    warmup: Duration,
    window: Duration,
    watch: &[u32],
) -> Sample {
    let start = Instant::now();
    let t0 = start + warmup;
    let t1 = t0 + window;
    let mut tasks = Vec::with_capacity(callers.len());
    for mut caller in callers {
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(16 * 1024);
            let mut errors = 0u64;
            let mut first_error = None;
            loop {
                let sent = Instant::now();
                if sent >= t1 {
                    break;
                }
                let result = caller.call().await;
                let done = Instant::now();
                if done < t0 {
                    continue;
                }
                if done > t1 {
                    break;
                }
                match result {
                    Ok(()) => {
                        lat.push(u32::try_from(done.duration_since(sent).as_micros()).unwrap_or(u32::MAX))
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }

    // CPU of the watched processes and of ourselves over the window.
    tokio::time::sleep_until(t0.into()).await;
    let cpu0: Vec<(f64, f64)> = watch.iter().map(|&p| procs::cpu_split(p)).collect();
    let sw0: u64 = watch.iter().map(|&p| procs::context_switches(p)).sum();
    let pf0: u64 = watch.iter().map(|&p| procs::minor_faults(p)).sum();
    let self0 = procs::self_cpu_secs();
    let self_sw0 = procs::context_switches(std::process::id());
    let w0 = Instant::now();
    tokio::time::sleep_until(t1.into()).await;
    let measured = w0.elapsed().as_secs_f64();
    let cpu1: Vec<(f64, f64)> = watch.iter().map(|&p| procs::cpu_split(p)).collect();
    let sw1: u64 = watch.iter().map(|&p| procs::context_switches(p)).sum();
    let pf1: u64 = watch.iter().map(|&p| procs::minor_faults(p)).sum();
    let self1 = procs::self_cpu_secs();
    let self_sw1 = procs::context_switches(std::process::id());

    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        // A caller that panicked is an error of the sample, not the end of the suite.
        let (lat, e, first) = task
            .await
            .unwrap_or_else(|join| (Vec::new(), 1, Some(format!("caller task: {join}"))));
        all.extend(lat);
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
    }
    all.sort_unstable();
    Sample {
        ok: all.len() as u64,
        errors,
        first_error,
        window,
        p50_us: stats::percentile(&all, 50.0),
        p99_us: stats::percentile(&all, 99.0),
        server_cores: cpu0
            .iter()
            .zip(&cpu1)
            .map(|(a, b)| (b.0 + b.1 - a.0 - a.1) / measured)
            .collect(),
        server_kernel_cores: cpu0.iter().zip(&cpu1).map(|(a, b)| (b.1 - a.1) / measured).sum(),
        client_cores: (self1 - self0) / measured,
        server_switches: sw1.saturating_sub(sw0),
        server_faults: pf1.saturating_sub(pf0),
        client_switches: self_sw1.saturating_sub(self_sw0),
    }
}
