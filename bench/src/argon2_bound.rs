//! argon2id alone, with the auth-service's default parameters: the irreducible work of
//! a Login, and so the bound the Login flood is measured against.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use auth_service::password::HashParams;

use crate::{Res, err, stats::median};

/// What argon2id alone achieves on this machine.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The parameters measured (the auth-service's defaults).
    pub params: HashParams,
    pub cores: usize,
    /// One hash on one core, median, in milliseconds.
    pub hash_ms: f64,
    /// Hashes per second on `cores` threads at once, median.
    pub parallel_per_s: f64,
}

impl Bound {
    /// Logins per second if every core did nothing but hash.
    pub fn per_second(&self) -> f64 {
        self.cores as f64 * 1000.0 / self.hash_ms
    }
}

/// Times the argon2 computation alone, in memory allocated beforehand (the service
/// keeps such a buffer per hash thread): no PHC parsing, no allocation. Run it while
/// nothing else of the suite runs.
pub fn measure() -> Res<Bound> {
    let params = HashParams::default();
    let argon2_params =
        Params::new(params.memory_kib, params.iterations, params.parallelism, None).map_err(err("params"))?;
    let blocks_len = argon2_params.block_count();
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
    let hash = |blocks: &mut [Block]| {
        let mut out = [0u8; 32];
        a.hash_password_into_with_memory(b"correct horse battery", b"sixteen byte slt", &mut out, blocks)
            .map(|()| out)
    };
    let mut blocks = vec![Block::new(); blocks_len];
    hash(&mut blocks).map_err(err("argon2"))?;
    let mut times = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        std::hint::black_box(hash(&mut blocks).map_err(err("argon2"))?);
        times.push(t.elapsed().as_secs_f64());
    }
    let hash_ms = median(&times) * 1000.0;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut rates = Vec::new();
    for _ in 0..5 {
        let per_thread = 4;
        // Each thread times its own hashes, after its buffer is made and warm.
        let slowest = std::thread::scope(|s| {
            let threads: Vec<_> = (0..cores)
                .map(|_| {
                    s.spawn(|| {
                        let mut blocks = vec![Block::new(); blocks_len];
                        hash(&mut blocks)?;
                        let t = Instant::now();
                        for _ in 0..per_thread {
                            std::hint::black_box(hash(&mut blocks)?);
                        }
                        Ok::<Duration, argon2::Error>(t.elapsed())
                    })
                })
                .collect();
            let mut slowest = Duration::ZERO;
            for t in threads {
                let took = t
                    .join()
                    .map_err(|_| "argon2 thread panicked".to_owned())?
                    .map_err(err("argon2"))?;
                slowest = slowest.max(took);
            }
            Ok::<Duration, String>(slowest)
        })?;
        rates.push((cores * per_thread) as f64 / slowest.as_secs_f64());
    }
    let parallel_per_s = median(&rates);
    eprintln!(
        "argon2id alone: {hash_ms:.1} ms per verify on one core; {parallel_per_s:.1}/s on {cores} threads"
    );
    Ok(Bound {
        params,
        cores,
        hash_ms,
        parallel_per_s,
    })
}
