//! What the suite measured, and the Markdown report of it (stdout; `bench/run.sh`
//! saves it as target/bench-results.md).

use std::{path::Path, time::Duration};

use crate::{argon2_bound::Bound, host, options::Options, stats::Summary};

/// Row labels the report compares by: the floor and what is measured against it.
pub const FLOOR: &str = "echo, bare tonic (floor)";
pub const ECHO_AUTH: &str = "echo + interceptor";
pub const ECHO_SHELL: &str = "echo + interceptor + server shell";
pub const TODO_SQLITE: &str = "todo-service, SQLite";
pub const TODO_PG: &str = "todo-service, PostgreSQL";

/// One line of a table: a call at a concurrency against one target, its medians.
pub struct Row {
    pub section: &'static str,
    pub target: String,
    pub what: String,
    pub c: usize,
    pub s: Summary,
}

/// A process's resident memory: idle after start, peak, after the load.
#[derive(Default)]
pub struct Mem {
    pub name: String,
    pub idle: f64,
    pub peak: f64,
    pub after: f64,
}

/// The login section: the argon2 bound and the floods against it.
pub struct LoginFigures {
    pub bound: Bound,
    /// The flood alone.
    pub login: Summary,
    /// The flood while one stream of GetTodo runs at the todo-service.
    pub login_during: Summary,
    pub quiet: Summary,
    pub flood: Summary,
    pub max_threads: u64,
}

impl LoginFigures {
    /// The bound alone, before the flood has run.
    pub fn new(bound: Bound) -> Self {
        Self {
            bound,
            login: Summary::default(),
            login_during: Summary::default(),
            quiet: Summary::default(),
            flood: Summary::default(),
            max_threads: 0,
        }
    }
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub memory: Vec<Mem>,
    pub login: Option<LoginFigures>,
    pub plan: Vec<String>,
    pub load_rows: Vec<(usize, Duration)>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn find(&self, section: &str, target: &str, what: &str, c: usize) -> Option<&Summary> {
        self.rows
            .iter()
            .find(|r| r.section == section && r.target == target && r.what == what && r.c == c)
            .map(|r| &r.s)
    }

    fn section(&self, section: &str) -> Vec<&Row> {
        self.rows.iter().filter(|x| x.section == section).collect()
    }
}

/// The circumstances of the run, for the report's head.
pub struct RunInfo {
    pub took: Duration,
    pub load_before: String,
    pub load_after: String,
}

/// Prints the whole report.
pub fn print(r: &Report, a: &Options, run: &RunInfo) {
    head(a, run);
    if let Some(dir) = &a.criterion_dir {
        token_code(dir);
    }
    floor(r);
    sections(r);
    if let Some(l) = &r.login {
        login(l, a);
    }
    memory(r);
    targets(r, a);
    if !r.notes.is_empty() {
        println!("\n## Notes\n");
        for n in &r.notes {
            println!("- {n}");
        }
    }
}

fn criterion_median_ns(dir: &Path, group: &str, name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(group).join(name).join("new/estimates.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".into()
    }
}

/// A two-column row: `label`, then the median and 99th percentile of `s`.
fn latency_row(label: &str, s: &Summary) {
    println!("| {label} | {} / {} ms |", ms(s.p50_ms), ms(s.p99_ms));
}

fn ms(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn yes(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn head(a: &Options, run: &RunInfo) {
    println!("# todo-grpc benchmark results\n");
    println!("- machine: {}", host::machine());
    println!(
        "- load average before / after: {} / {}; suite took {:.0} s",
        run.load_before,
        run.load_after,
        run.took.as_secs_f64()
    );
    println!(
        "- each cell: {} runs of {:.1} s after a {:.1} s warm-up (doubled for the first run); medians shown; load tool on {} thread(s), closed loop, one HTTP/2 connection per cell",
        a.runs, a.secs, a.warmup, a.client_threads
    );
    if !a.auth_env.is_empty() || !a.todo_env.is_empty() {
        println!(
            "- extra environment: auth-service {:?}, todo-service {:?}",
            a.auth_env, a.todo_env
        );
    }
}

/// The criterion figures of the token code, against a bare HMAC.
fn token_code(dir: &Path) {
    let floor = criterion_median_ns(dir, "floor", "hmac_sha256");
    println!("\n## Token code (criterion, median time per call)\n");
    println!("| operation | ns | bare HMAC-SHA256 (ns) | ratio to HMAC |");
    println!("| --- | ---: | ---: | ---: |");
    for name in [
        "sign",
        "verify",
        "verify_cached",
        "verify_bad_signature",
        "verify_garbage",
    ] {
        if let Some(ns) = criterion_median_ns(dir, "token", name) {
            let f = floor.unwrap_or(f64::NAN);
            println!("| {name} | {ns:.0} | {f:.0} | {} |", ratio(ns, f));
        }
    }
}

fn floor(r: &Report) {
    let floor_rows = r.section("floor");
    if floor_rows.is_empty() {
        return;
    }
    println!("\n## Floor against the interceptor and the service (SQLite)\n");
    println!(
        "Ratios are to the bare echo server at the same call and concurrency (req/s: higher is better; p50/p99: lower is better).\n"
    );
    println!(
        "| server | call | streams | req/s | p50 ms | p99 ms | req/s ÷ floor | p50 ÷ floor | p99 ÷ floor | server CPU, cores (kernel) | server µs CPU/call | server context switches/call | load tool CPU |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in &floor_rows {
        let f = r.find("floor", FLOOR, &row.what, row.c);
        let s = &row.s;
        let (fr, f50, f99) = f.map_or((f64::NAN, f64::NAN, f64::NAN), |f| (f.rps, f.p50_ms, f.p99_ms));
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {:.2} ({:.2}) | {:.0} | {:.1} | {:.2} |",
            row.target,
            row.what,
            row.c,
            s.rps,
            ms(s.p50_ms),
            ms(s.p99_ms),
            ratio(s.rps, fr),
            ratio(s.p50_ms, f50),
            ratio(s.p99_ms, f99),
            s.server_cores,
            s.server_kernel_cores,
            s.server_us_per_call(),
            s.server_switches_per_call,
            s.client_cores
        );
    }
}

/// The tables of the create, web, list and pool sections, which share one layout.
fn sections(r: &Report) {
    for (section, title) in [
        ("create", "Writes: CreateTodo on SQLite and PostgreSQL"),
        (
            "web",
            "gRPC-Web (HTTP/1.1) against gRPC (HTTP/2), GetTodo on SQLite",
        ),
        ("list", "ListTodos first page (20) by table size, SQLite"),
        (
            "pool",
            "sqlx pool with and without a ping before each query (in the load tool's process: CPU and switches are its own)",
        ),
    ] {
        let rows = r.section(section);
        if rows.is_empty() {
            continue;
        }
        println!("\n## {title}\n");
        println!(
            "| target | call | streams | req/s | p50 ms | p99 ms | server CPU, cores (kernel) | server µs CPU/call | server context switches/call |"
        );
        println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for row in rows {
            let s = &row.s;
            println!(
                "| {} | {} | {} | {:.0} | {} | {} | {:.2} ({:.2}) | {:.0} | {:.1} |",
                row.target,
                row.what,
                row.c,
                s.rps,
                ms(s.p50_ms),
                ms(s.p99_ms),
                s.server_cores,
                s.server_kernel_cores,
                s.server_us_per_call(),
                s.server_switches_per_call
            );
        }
        if section == "list" {
            for (rows, took) in &r.load_rows {
                println!("\nLoaded {rows} rows in {:.1} s.", took.as_secs_f64());
            }
            if !r.plan.is_empty() {
                println!("\nSQLite plan of the first-page query: `{}`", r.plan.join("; "));
            }
        }
    }
}

fn login(l: &LoginFigures, a: &Options) {
    let b = &l.bound;
    let bound = b.per_second();
    println!("\n## Login against the argon2 bound (SQLite)\n");
    println!("| figure | value |");
    println!("| --- | ---: |");
    println!(
        "| argon2id computation alone, one core, memory allocated beforehand (m={} MiB, t={}, p={}) | {:.1} ms |",
        b.params.memory_kib / 1024,
        b.params.iterations,
        b.params.parallelism,
        b.hash_ms
    );
    println!("| bound: {} cores ÷ time per hash | {bound:.1} /s |", b.cores);
    println!(
        "| argon2id alone on {} threads at once | {:.1} /s |",
        b.cores, b.parallel_per_s
    );
    if l.login.runs == 0 {
        return;
    }
    println!(
        "| Login, {} concurrent | {:.1} /s ({:.0}% of bound, {:.0}% of argon2 alone on {} threads) |",
        a.login_concurrency,
        l.login.rps,
        100.0 * l.login.rps / bound,
        100.0 * l.login.rps / b.parallel_per_s,
        b.cores
    );
    latency_row("Login p50 / p99", &l.login);
    println!(
        "| auth-service CPU during the flood | {:.2} cores ({:.2} kernel), {:.1} ms and {:.0} page faults per login |",
        l.login.server_cores,
        l.login.server_kernel_cores,
        l.login.server_us_per_call() / 1000.0,
        l.login.server_faults_per_call
    );
    println!(
        "| Login while GetTodo runs too | {:.1} /s, p50 / p99 {} / {} ms |",
        l.login_during.rps,
        ms(l.login_during.p50_ms),
        ms(l.login_during.p99_ms)
    );
    latency_row("GetTodo (1 stream) quiet: p50 / p99", &l.quiet);
    latency_row("GetTodo (1 stream) during the flood: p50 / p99", &l.flood);
    println!(
        "| GetTodo req/s quiet / during the flood | {:.0} / {:.0} |",
        l.quiet.rps, l.flood.rps
    );
    println!(
        "| auth-service threads, most seen during the flood | {} |",
        l.max_threads
    );
}

fn memory(r: &Report) {
    if r.memory.is_empty() {
        return;
    }
    println!("\n## Resident memory (VmRSS; peak is VmHWM)\n");
    println!("| process | idle MiB | peak under load MiB | after load MiB |");
    println!("| --- | ---: | ---: | ---: |");
    for m in &r.memory {
        println!("| {} | {:.1} | {:.1} | {:.1} |", m.name, m.idle, m.peak, m.after);
    }
}

/// The targets the project set itself, each met or not.
fn targets(r: &Report, a: &Options) {
    println!("\n## Targets\n");
    println!("| target | measured | verdict |");
    println!("| --- | --- | --- |");
    let high: Vec<usize> = a.concurrency.iter().copied().filter(|&c| c > 1).collect();
    for what in ["GetTodo", "ListTodos(20)"] {
        let costs: Vec<(usize, f64)> = high
            .iter()
            .filter_map(|&c| {
                let f = r.find("floor", FLOOR, what, c)?;
                let i = r.find("floor", ECHO_AUTH, what, c)?;
                Some((c, 100.0 * (1.0 - i.rps / f.rps)))
            })
            .collect();
        if !costs.is_empty() {
            let text: Vec<String> = costs.iter().map(|(c, p)| format!("{p:.1}% at {c}")).collect();
            let ok = costs.iter().all(|(_, p)| *p < 5.0);
            println!(
                "| interceptor costs < 5% of the floor's throughput ({what}) | {} | {} |",
                text.join(", "),
                yes(ok)
            );
        }
    }
    let ratios: Vec<(usize, f64)> = high
        .iter()
        .filter_map(|&c| {
            let f = r.find("floor", FLOOR, "GetTodo", c)?;
            let t = r.find("floor", TODO_SQLITE, "GetTodo", c)?;
            Some((c, t.rps / f.rps))
        })
        .collect();
    if !ratios.is_empty() {
        let text: Vec<String> = ratios.iter().map(|(c, x)| format!("{x:.2} at {c}")).collect();
        let ok = ratios.iter().all(|(_, x)| *x >= 0.5);
        println!(
            "| authenticated GetTodo on SQLite ≥ 0.5 × floor | {} | {} |",
            text.join(", "),
            yes(ok)
        );
    }
    if let Some(l) = &r.login
        && l.login.runs > 0
    {
        let bound = l.bound.per_second();
        let pct = 100.0 * l.login.rps / bound;
        println!(
            "| Login ≥ 90% of the argon2 bound | {:.1}/s of {bound:.1}/s = {pct:.0}% | {} |",
            l.login.rps,
            yes(pct >= 90.0)
        );
    }
    let lists: Vec<&Row> = r
        .rows
        .iter()
        .filter(|x| x.section == "list" && x.c == 1)
        .collect();
    if lists.len() == 2 {
        let (small, big) = (&lists[0].s, &lists[1].s);
        let x = big.p50_ms / small.p50_ms;
        println!(
            "| ListTodos first page as fast at {} as at {} | p50 {} ms vs {} ms (× {x:.2}) | {} |",
            lists[1].target,
            lists[0].target,
            ms(big.p50_ms),
            ms(small.p50_ms),
            yes(x <= 1.25)
        );
    }
    for m in r.memory.iter().filter(|m| !m.name.starts_with("echo")) {
        println!(
            "| {} < 30 MB (28.6 MiB) resident under load | peak {:.1} MiB | {} |",
            m.name,
            m.peak,
            yes(m.peak < 30.0e6 / 1048576.0)
        );
    }
}
