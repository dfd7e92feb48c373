//! Percentiles of one run and medians over runs.

use std::time::Duration;

/// The `p`-th percentile (0..=100) of sorted values, nearest rank.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One measured run of a closed loop.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Calls completed (successfully) inside the window.
    pub ok: u64,
    /// Calls that failed inside the window.
    pub errors: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    pub window: Duration,
    /// Latency percentiles of successful calls, in microseconds.
    pub p50_us: u32,
    pub p99_us: u32,
    /// CPU used during the window, in cores (1.0 = one core busy all the time), per
    /// watched process, in the order given.
    pub server_cores: Vec<f64>,
    /// Of that, in kernel mode (system calls, thread wake-ups), all watched processes.
    pub server_kernel_cores: f64,
    /// CPU the load tool itself used during the window, in cores.
    pub client_cores: f64,
    /// Context switches of the watched processes during the window.
    pub server_switches: u64,
    /// Context switches of the load tool during the window.
    pub client_switches: u64,
    /// Minor page faults of the watched processes during the window.
    pub server_faults: u64,
}

impl Sample {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }
}

/// Medians over the runs of one cell.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub runs: usize,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub server_cores: f64,
    pub server_kernel_cores: f64,
    pub client_cores: f64,
    /// Context switches per successful call, of the watched processes and of the load tool.
    pub server_switches_per_call: f64,
    pub client_switches_per_call: f64,
    /// Minor page faults per successful call, of the watched processes.
    pub server_faults_per_call: f64,
    /// Every run's requests/s, to show the spread.
    pub all_rps: Vec<f64>,
}

impl Summary {
    pub fn of(samples: &[Sample]) -> Self {
        let f = |g: &dyn Fn(&Sample) -> f64| median(&samples.iter().map(g).collect::<Vec<_>>());
        Self {
            runs: samples.len(),
            rps: f(&|s| s.rps()),
            p50_ms: f(&|s| s.p50_us as f64 / 1000.0),
            p99_ms: f(&|s| s.p99_us as f64 / 1000.0),
            errors: samples.iter().map(|s| s.errors).sum(),
            first_error: samples.iter().find_map(|s| s.first_error.clone()),
            server_cores: f(&|s| s.server_cores.iter().sum()),
            server_kernel_cores: f(&|s| s.server_kernel_cores),
            client_cores: f(&|s| s.client_cores),
            server_switches_per_call: f(&|s| s.server_switches as f64 / s.ok.max(1) as f64),
            client_switches_per_call: f(&|s| s.client_switches as f64 / s.ok.max(1) as f64),
            server_faults_per_call: f(&|s| s.server_faults as f64 / s.ok.max(1) as f64),
            all_rps: samples.iter().map(Sample::rps).collect(),
        }
    }

    /// Server CPU per call, in microseconds.
    pub fn server_us_per_call(&self) -> f64 {
        self.server_cores * 1e6 / self.rps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
