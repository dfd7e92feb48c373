//! The machine the suite runs on, from `/proc`: CPU model, cores, memory, kernel, load
//! averages, and the CPU time the hypervisor stole.

/// One line: CPU model, cores, memory, kernel.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem:.0} GiB, Linux {}", kernel.trim())
}

/// The three load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The machine's CPU time so far, by kind (user, nice, system, idle, iowait, irq,
/// softirq, steal), in clock ticks.
pub fn cpu_jiffies() -> Vec<f64> {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// The share of CPU time stolen between two [`cpu_jiffies`] readings, in percent
/// (NaN when nothing was counted).
pub fn steal_percent(before: &[f64], after: &[f64]) -> f64 {
    let d: Vec<f64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let total: f64 = d.iter().sum();
    if total > 0.0 {
        100.0 * d.get(7).copied().unwrap_or(0.0) / total
    } else {
        f64::NAN
    }
}
