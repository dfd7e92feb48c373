//! The compose plan (`scripts/check_compose.py plan`) and what it takes to run it on
//! this machine: fresh databases made by the postgres container's init scripts,
//! certificates where the compose files mount them, and the environment of each
//! service rewritten only where a container differs from this machine.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;
use testkit::{
    TestDb,
    tls::{Issued, TestPki, Usage},
};

/// The repository (testkit's parent).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit is inside the repository")
        .to_path_buf()
}

/// One service of the plan.
pub struct Service {
    pub name: String,
    pub binary: PathBuf,
    /// The compose environment, interpolated from .env.example.
    pub environment: BTreeMap<String, String>,
    /// What to pass the binary for the compose health check.
    pub healthcheck: Vec<String>,
    /// Health check start period, seconds.
    pub start_period: f64,
    /// Variables naming a listen address, and the port each has in compose.
    pub listen: BTreeMap<String, u16>,
    /// Variables holding a URL of the postgres service, and its database.
    pub databases: BTreeMap<String, String>,
    /// Variables holding a URL of another service, and that service.
    pub peers: BTreeMap<String, String>,
    /// Mounts: container path -> host path.
    pub volumes: Vec<(String, Option<PathBuf>)>,
    pub depends_on: Vec<String>,
    pub shutdown_grace: f64,
}

/// The plan of one set of compose files.
pub struct Plan {
    pub files: Vec<String>,
    pub services: Vec<Service>,
    pub postgres_user: String,
    pub databases: Vec<String>,
    pub init_scripts: Vec<PathBuf>,
}

fn text(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_default()
}

fn map<T>(v: &Value, f: impl Fn(&Value) -> T) -> BTreeMap<String, T> {
    v.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), f(v))).collect())
        .unwrap_or_default()
}

impl Plan {
    /// Runs `scripts/check_compose.py plan --file ...` on Debian's python3.
    pub fn read(files: &[&str]) -> Self {
        let mut command = Command::new("/usr/bin/python3");
        command.arg(root().join("scripts/check_compose.py")).arg("plan");
        for file in files {
            command.args(["--file", file]);
        }
        let out = command
            .output()
            .expect("run /usr/bin/python3 scripts/check_compose.py plan (apt-get install python3-yaml)");
        assert!(
            out.status.success(),
            "check_compose.py plan failed (apt-get install python3-yaml?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let plan: Value = serde_json::from_slice(&out.stdout).expect("the plan is JSON");
        let services = plan["services"]
            .as_object()
            .expect("plan.services")
            .iter()
            .map(|(name, s)| Service {
                name: name.clone(),
                binary: PathBuf::from(testkit::workspace_binary(&text(&s["binary"]))),
                environment: map(&s["environment"], text),
                healthcheck: s["healthcheck"]["args"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name}: the health check is not our binary's"))
                    .iter()
                    .map(text)
                    .collect(),
                start_period: s["healthcheck"]["start_period"].as_f64().unwrap_or(30.0),
                listen: map(&s["listen"], |p| {
                    p.as_u64().and_then(|p| u16::try_from(p).ok()).expect("a port")
                }),
                databases: map(&s["databases"], text),
                peers: map(&s["peers"], text),
                volumes: s["volumes"]
                    .as_array()
                    .map(|vs| {
                        vs.iter()
                            .map(|v| (text(&v["target"]), v["source"].as_str().map(PathBuf::from)))
                            .collect()
                    })
                    .unwrap_or_default(),
                depends_on: map(&s["depends_on"], text).into_keys().collect(),
                shutdown_grace: s["shutdown_grace"].as_f64().unwrap_or(10.0),
            })
            .collect();
        let pg = &plan["postgres"];
        Self {
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            services,
            postgres_user: pg["environment"]["POSTGRES_USER"]
                .as_str()
                .unwrap_or("postgres")
                .to_owned(),
            databases: pg["databases"]
                .as_array()
                .expect("plan.postgres.databases")
                .iter()
                .map(text)
                .collect(),
            init_scripts: pg["init_scripts"]
                .as_array()
                .expect("plan.postgres.init_scripts")
                .iter()
                .map(|s| PathBuf::from(text(s)))
                .collect(),
        }
    }

    pub fn service(&self, name: &str) -> &Service {
        self.services
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} in the plan"))
    }
}

/// What this machine has in place of the compose project's other containers and mounts.
pub struct Local {
    /// The fresh databases, by their compose name (`auth`), dropped at the end.
    pub databases: BTreeMap<String, TestDb>,
    /// The PostgreSQL server's `host:port`.
    pub postgres: SocketAddr,
    /// Certificates standing in for the mounted `./tls`, when the plan mounts it.
    pub pki: Option<(TestPki, tempfile::TempDir)>,
    /// A client certificate of that CA, for the test's own calls (mTLS).
    pub client: Option<Issued>,
}

impl Local {
    /// Fresh databases on the server of `admin`, made by the plan's init scripts.
    pub async fn new(plan: &Plan, admin: &str) -> Self {
        let postgres = testkit::postgres_addr(admin).await;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let databases: BTreeMap<String, TestDb> = plan
            .databases
            .iter()
            .map(|db| {
                let fresh = format!("compose_{}_{}", db.to_lowercase().replace('-', "_"), &suffix[..8]);
                // Adopted before the script runs, so dropped whatever happens next.
                (db.clone(), TestDb::adopt_postgres(admin, &fresh))
            })
            .collect();
        let names = database_names(&databases);
        // The scripts' HOME, so that no ~/.psqlrc or ~/.pgpass of ours applies.
        let scratch = tempfile::tempdir().expect("temp dir");
        for script in &plan.init_scripts {
            // As the postgres image runs it: its variables and the server, nothing else.
            let out = Command::new("sh")
                .arg(script)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", scratch.path())
                .env("PGHOST", postgres.ip().to_string())
                .env("PGPORT", postgres.port().to_string())
                .env("POSTGRES_USER", &plan.postgres_user)
                .env("POSTGRES_DB", "postgres")
                .env("SERVICE_DATABASES", names.join(" "))
                .output()
                .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "{} failed:\n{}{}",
                script.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin)
            .await
            .expect("connect to TEST_POSTGRES_URL");
        let (made,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM pg_database WHERE datname IN ('{}')",
            names.join("', '")
        )))
        .fetch_one(&mut conn)
        .await
        .expect("list the databases");
        assert_eq!(
            usize::try_from(made).ok(),
            Some(names.len()),
            "the init scripts did not create all of {names:?}"
        );
        let mounts_tls = plan.services.iter().any(|s| !s.volumes.is_empty());
        let (pki, client) = if mounts_tls {
            let (pki, dir, client) = certificates(plan);
            (Some((pki, dir)), Some(client))
        } else {
            (None, None)
        };
        Self {
            databases,
            postgres,
            pki,
            client,
        }
    }

    /// The database names the init scripts were asked for.
    pub fn names(&self) -> Vec<String> {
        database_names(&self.databases)
    }

    /// `service`'s environment for this machine, before it starts: listen addresses on
    /// 127.0.0.1 port 0, the postgres host and database replaced, mounted paths pointed
    /// at the local files, and each peer URL at the address `started` says it has.
    pub fn environment(
        &self,
        service: &Service,
        started: &BTreeMap<String, Started>,
    ) -> Vec<(String, String)> {
        let mut env = service.environment.clone();
        for var in service.listen.keys() {
            env.insert(var.clone(), "127.0.0.1:0".to_owned());
        }
        for (var, db) in &service.databases {
            let fresh = self.databases[db].url.rsplit('/').next().unwrap_or_default();
            let url = rewrite_url(&env[var], &self.postgres.to_string(), Some(fresh));
            env.insert(var.clone(), url);
        }
        for (var, peer) in &service.peers {
            let peer = started
                .get(peer)
                .unwrap_or_else(|| panic!("{} needs {peer} started first", service.name));
            let url = rewrite_url(&env[var], &peer.address_for_url(&env[var]).to_string(), None);
            env.insert(var.clone(), url);
        }
        if let Some((_, dir)) = &self.pki {
            for (target, _) in &service.volumes {
                for value in env.values_mut() {
                    if let Some(rest) = value.strip_prefix(&format!("{target}/")) {
                        let local = dir.path().join(rest);
                        assert!(
                            local.is_file(),
                            "{} names {value}, which the test's certificates do not provide",
                            service.name
                        );
                        *value = local.display().to_string();
                    }
                }
            }
        }
        env.into_iter().collect()
    }
}

fn database_names(databases: &BTreeMap<String, TestDb>) -> Vec<String> {
    databases
        .values()
        .map(|d| d.url.rsplit('/').next().unwrap_or_default().to_owned())
        .collect()
}

/// A CA and, for each service, a certificate for `localhost` and `127.0.0.1` good as
/// server and client, written as the compose TLS file expects `./tls`: `ca.crt`,
/// `SERVICE.crt`, `SERVICE.key`. Also a client certificate for the test.
fn certificates(plan: &Plan) -> (TestPki, tempfile::TempDir, Issued) {
    let pki = TestPki::new("compose test CA");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(&pki.ca, dir.path().join("ca.crt")).expect("write ca.crt");
    for service in &plan.services {
        let issued = pki.issue(&service.name, Usage::ServerAndClient);
        std::fs::copy(&issued.cert, dir.path().join(format!("{}.crt", service.name))).expect("write cert");
        std::fs::copy(&issued.key, dir.path().join(format!("{}.key", service.name))).expect("write key");
    }
    let client = pki.issue("compose-test-client", Usage::Client);
    (pki, dir, client)
}

/// `url` with its `host:port` replaced by `host`, and its path by `/database` if given;
/// scheme, credentials and query stay.
pub fn rewrite_url(url: &str, host: &str, database: Option<&str>) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let host_start = rest.find('@').map_or(0, |i| i + 1);
    let host_end = rest[host_start..]
        .find(['/', '?'])
        .map_or(rest.len(), |i| host_start + i);
    let after = &rest[host_end..];
    let tail = match database {
        Some(db) => {
            let query = after.find('?').map_or("", |i| &after[i..]);
            format!("/{db}{query}")
        }
        None => after.to_owned(),
    };
    format!("{}{host}{tail}", &url[..scheme_end + host_start])
}

/// A started service: the addresses its listen variables got.
pub struct Started {
    /// Listen variable -> (its compose port, where it listens now).
    pub listening: BTreeMap<String, (u16, SocketAddr)>,
}

impl Started {
    /// Where a URL to this service with compose's port now goes.
    fn address_for_url(&self, url: &str) -> SocketAddr {
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let authority = url[scheme_end..].split(['/', '?']).next().unwrap_or_default();
        let port: u16 = authority
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url}"));
        self.listening
            .values()
            .find(|(compose, _)| *compose == port)
            .map(|(_, now)| *now)
            .unwrap_or_else(|| panic!("{url}: no listen variable has port {port}"))
    }
}

#[test]
fn urls_are_rewritten_in_place() {
    assert_eq!(
        rewrite_url(
            "postgres://u:p@postgres:5432/auth",
            "127.0.0.1:5432",
            Some("fresh")
        ),
        "postgres://u:p@127.0.0.1:5432/fresh"
    );
    assert_eq!(
        rewrite_url("postgres://postgres/auth?sslmode=disable", "h:1", Some("x")),
        "postgres://h:1/x?sslmode=disable"
    );
    assert_eq!(
        rewrite_url("https://auth-service:50051", "127.0.0.1:9", None),
        "https://127.0.0.1:9"
    );
}
