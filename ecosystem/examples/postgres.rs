//! asyncio + aiomysql, on weft: PostgreSQL through tokio-postgres, over weft's own sockets,
//! timer and workers (no tokio runtime anywhere: the facade's `tokio-io` feature gives weft's
//! sockets tokio's I/O traits, and tokio-postgres runs without its `runtime` feature).
//!
//! - `connect`: `Config::connect_raw` over a weft `TcpStream` (keepalive and `TCP_USER_TIMEOUT`
//!   from the configuration, set through `socket2`) or `UnixStream` (a `host` that is a
//!   directory: the server's socket), under the configuration's `connect_timeout`; the
//!   `Connection` future is spawned on weft.
//! - A pool: deadpool's managed pool (no runtime feature), with the `Manager` below.
//! - 16 tasks insert 10,000 rows through 8 pooled connections with a prepared statement, a
//!   transaction is rolled back, a long `pg_sleep` is cancelled twice (with the
//!   `CancelToken`, and by a timeout whose dropped query is cancelled on the server), and the
//!   rows are read back and checked.
//!
//! Run: `cargo run -p weft-ecosystem-examples --example postgres` (the server in `WEFT_PG_URL`, by default
//! `host=127.0.0.1 user=root dbname=test`; without a server and without `WEFT_PG_URL`, it
//! says so and stops). Its tests (`cargo test -p weft-ecosystem-examples --example postgres`) go further: many
//! concurrent queries, server-side errors, a connection killed by the server, a 10 MB `COPY`.

use std::io;
use std::path::Path;
use std::time::Duration;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::{CancelToken, Client, Config, NoTls};
use weft::net::{TcpStream, UnixStream};

/// A connection pool of tokio-postgres clients on weft.
pub type Pool = deadpool::managed::Pool<Manager>;

/// How the pool makes and checks its connections.
#[derive(Debug)]
pub struct Manager {
    config: Config,
}

impl Manager {
    /// A manager that connects with `config`.
    pub fn new(config: Config) -> Manager {
        Manager { config }
    }
}

impl deadpool::managed::Manager for Manager {
    type Type = Client;
    type Error = io::Error;

    async fn create(&self) -> io::Result<Client> {
        connect(&self.config).await
    }

    /// A connection the server closed (or whose `Connection` task ended) is not handed out
    /// again: the pool drops it and makes a new one.
    async fn recycle(
        &self,
        client: &mut Client,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<io::Error> {
        if client.is_closed() {
            return Err(deadpool::managed::RecycleError::message(
                "the connection is closed",
            ));
        }
        Ok(())
    }
}

/// A pool of at most `size` connections.
pub fn pool(config: Config, size: usize) -> Pool {
    Pool::builder(Manager::new(config))
        .max_size(size)
        .build()
        .expect("a pool without timeouts needs no runtime of deadpool's")
}

/// A connection from the pool, waiting at most `wait` for one.
pub async fn get(pool: &Pool, wait: Duration) -> io::Result<deadpool::managed::Object<Manager>> {
    match weft::time::timeout(wait, pool.get()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(io::Error::other(e.to_string())),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no pooled PostgreSQL connection came free in time",
        )),
    }
}

/// `Config::connect` for weft: tries each host of the configuration in turn, each under its
/// `connect_timeout`, and spawns the `Connection` future on weft.
pub async fn connect(config: &Config) -> io::Result<Client> {
    let mut last = None;
    for (i, host) in config.get_hosts().iter().enumerate() {
        let port = port_of(config, i);
        let attempt = async {
            match host {
                Host::Tcp(name) => start(config, tcp(config, name, port).await?).await,
                Host::Unix(dir) => start(config, unix(dir, port).await?).await,
            }
        };
        match within_connect_timeout(config, attempt).await {
            Ok(client) => return Ok(client),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "no host in the PostgreSQL configuration",
        )
    }))
}

/// Cancels whatever the client of `token` is running, over a new connection to the first
/// host of `config` (the server that client talks to).
pub async fn cancel(config: &Config, token: &CancelToken) -> io::Result<()> {
    let host = config.get_hosts().first().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "no host in the PostgreSQL configuration",
        )
    })?;
    let port = port_of(config, 0);
    let sent = async {
        match host {
            Host::Tcp(name) => {
                let stream = tcp(config, name, port).await?;
                token.cancel_query_raw(stream, NoTls).await
            }
            Host::Unix(dir) => token.cancel_query_raw(unix(dir, port).await?, NoTls).await,
        }
        .map_err(io::Error::other)
    };
    within_connect_timeout(config, sent).await
}

/// Runs `query` on `client` for at most `limit`. When the time is up the query's future is
/// dropped, and since the server would go on running it (keeping the connection busy), the
/// query is cancelled there too: the client is then free for the next query.
pub async fn with_timeout<T>(
    config: &Config,
    client: &Client,
    limit: Duration,
    query: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> io::Result<T> {
    match weft::time::timeout(limit, query).await {
        Ok(r) => r.map_err(io::Error::other),
        Err(_) => {
            cancel(config, &client.cancel_token()).await?;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the query took too long and was cancelled",
            ))
        }
    }
}

fn port_of(config: &Config, i: usize) -> u16 {
    // One port for every host, or one per host; 5432 when none is given.
    let ports = config.get_ports();
    ports.get(i).or(ports.first()).copied().unwrap_or(5432)
}

async fn within_connect_timeout<T>(
    config: &Config,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match config.get_connect_timeout() {
        None => f.await,
        Some(&limit) => weft::time::timeout(limit, f).await.unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connecting to PostgreSQL timed out",
            ))
        }),
    }
}

async fn tcp(config: &Config, host: &str, port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    let sock = socket2::SockRef::from(&stream);
    if config.get_keepalives() {
        let mut keepalive = socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
        if let Some(interval) = config.get_keepalives_interval() {
            keepalive = keepalive.with_interval(interval);
        }
        if let Some(retries) = config.get_keepalives_retries() {
            keepalive = keepalive.with_retries(retries);
        }
        sock.set_tcp_keepalive(&keepalive)?;
    }
    if let Some(&limit) = config.get_tcp_user_timeout() {
        sock.set_tcp_user_timeout(Some(limit))?;
    }
    Ok(stream)
}

async fn unix(dir: &Path, port: u16) -> io::Result<UnixStream> {
    UnixStream::connect(dir.join(format!(".s.PGSQL.{port}"))).await
}

/// The startup handshake over `stream`, then the `Connection` (the task that reads and
/// writes the socket for the client) spawned on weft. When it ends (the server closed the
/// connection, say), the client's calls fail and `is_closed` turns true.
async fn start<S>(config: &Config, stream: S) -> io::Result<Client>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = config
        .connect_raw(stream, NoTls)
        .await
        .map_err(io::Error::other)?;
    weft::spawn(async move {
        // Its error is the client's too: every call on the client reports it.
        let _ = connection.await;
    });
    Ok(client)
}

/// The server to use: `WEFT_PG_URL`, or the local default when a server answers there.
/// `None` (after saying why) when there is no server and nothing says there must be one.
pub fn config_from_env() -> Option<Config> {
    const DEFAULT: &str = "host=127.0.0.1 user=root dbname=test connect_timeout=10";
    if let Ok(url) = std::env::var("WEFT_PG_URL") {
        return Some(
            url.parse()
                .expect("WEFT_PG_URL is not a PostgreSQL configuration"),
        );
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
    if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err()
        && std::env::var_os("CI").is_none()
    {
        eprintln!("skipped: no PostgreSQL server at {addr}, and WEFT_PG_URL is not set");
        return None;
    }
    Some(DEFAULT.parse().expect("the default configuration parses"))
}

/// A table name no other run uses.
pub fn unique_table(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

const TASKS: u32 = 16;
const ROWS: u32 = 10_000;
const WAIT: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The example: everything in the module header, on its own table, dropped at the end
/// whether the rest worked or not.
pub async fn demo(config: Config) -> Result<(), BoxError> {
    let pool = pool(config.clone(), 8);
    let table = unique_table("weft_example");
    get(&pool, WAIT)
        .await?
        .batch_execute(&format!(
            "CREATE TABLE {table} (id int4 PRIMARY KEY, task int4 NOT NULL, name text NOT NULL)"
        ))
        .await?;
    let result = demo_on(&config, &pool, &table).await;
    let dropped = get(&pool, WAIT)
        .await?
        .batch_execute(&format!("DROP TABLE {table}"))
        .await;
    result?;
    dropped?;
    Ok(())
}

async fn demo_on(config: &Config, pool: &Pool, table: &str) -> Result<(), BoxError> {
    // 16 tasks, 625 rows each, in batches of 125 so that the 16 share the 8 connections.
    let per_task = ROWS / TASKS;
    let mut tasks = weft::task::JoinSet::new();
    for task in 0..TASKS {
        let pool = pool.clone();
        let insert = format!("INSERT INTO {table} (id, task, name) VALUES ($1, $2, $3)");
        tasks.spawn(async move {
            for batch in (0..per_task).collect::<Vec<_>>().chunks(125) {
                let client = get(&pool, WAIT).await?;
                let statement = client.prepare(&insert).await?;
                for &i in batch {
                    let id = (task * per_task + i) as i32;
                    let name = format!("row {id}");
                    client
                        .execute(&statement, &[&id, &(task as i32), &name])
                        .await?;
                }
            }
            Ok::<_, BoxError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }

    // A transaction rolled back leaves nothing behind.
    let mut client = get(pool, WAIT).await?;
    let tx = client.transaction().await?;
    tx.execute(
        &*format!("INSERT INTO {table} (id, task, name) VALUES ($1, -1, 'rolled back')"),
        &[&(ROWS as i32)],
    )
    .await?;
    let seen: i64 = tx
        .query_one(&*format!("SELECT count(*) FROM {table}"), &[])
        .await?
        .get(0);
    assert_eq!(
        seen,
        i64::from(ROWS) + 1,
        "the transaction sees its own row"
    );
    tx.rollback().await?;

    // A long query cancelled through its client's CancelToken.
    let token = client.cancel_token();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await?
        .get(0);
    let observer = get(pool, WAIT).await?;
    let (slept, cancelled) = weft::future::zip(client.simple_query("SELECT pg_sleep(60)"), async {
        until_running(&observer, pid, "pg_sleep").await?;
        cancel(config, &token).await.map_err(BoxError::from)
    })
    .await;
    drop(observer);
    cancelled?;
    let err = slept.expect_err("a cancelled pg_sleep fails");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err}");

    // A long query given up by a timeout: dropped here, cancelled on the server, and the
    // connection answers the next query at once.
    let slow = with_timeout(
        config,
        &client,
        Duration::from_millis(500),
        client.simple_query("SELECT pg_sleep(60)"),
    )
    .await;
    assert_eq!(slow.expect_err("times out").kind(), io::ErrorKind::TimedOut);
    let one: i32 = weft::time::timeout(WAIT, client.query_one("SELECT 1", &[]))
        .await??
        .get(0);
    assert_eq!(one, 1);

    // Read back and check.
    let rows = client
        .query(
            &*format!(
                "SELECT task, count(*), sum(id)::int8 FROM {table} GROUP BY task ORDER BY task"
            ),
            &[],
        )
        .await?;
    assert_eq!(rows.len(), TASKS as usize);
    for (task, row) in rows.iter().enumerate() {
        let task = task as i64;
        let first = task * i64::from(per_task);
        let last = first + i64::from(per_task) - 1;
        assert_eq!(row.get::<_, i32>(0) as i64, task);
        assert_eq!(row.get::<_, i64>(1), i64::from(per_task));
        assert_eq!(
            row.get::<_, i64>(2),
            (first + last) * i64::from(per_task) / 2
        );
    }
    let name: String = client
        .query_one(
            &*format!("SELECT name FROM {table} WHERE id = $1"),
            &[&4321i32],
        )
        .await?
        .get(0);
    assert_eq!(name, "row 4321");
    Ok(())
}

/// Waits (at most `WAIT`) until the backend `pid` runs a query containing `what`: a cancel
/// sent before the query starts would find nothing to cancel.
pub async fn until_running(observer: &Client, pid: i32, what: &str) -> Result<(), BoxError> {
    let pattern = format!("%{what}%");
    let running = async {
        loop {
            let n: i64 = observer
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE pid = $1 AND state = 'active' AND query LIKE $2",
                    &[&pid, &pattern],
                )
                .await?
                .get(0);
            if n > 0 {
                return Ok::<_, tokio_postgres::Error>(());
            }
            weft::time::sleep(Duration::from_millis(10)).await;
        }
    };
    Ok(weft::time::timeout(WAIT, running).await??)
}

fn main() -> Result<(), BoxError> {
    let Some(config) = config_from_env() else {
        return Ok(());
    };
    weft::run(demo(config))?;
    println!("{ROWS} rows inserted by {TASKS} tasks, read back and checked; a transaction rolled back; two long queries cancelled");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::SinkExt;
    use weft::stream::StreamExt;

    fn run<F>(test: impl FnOnce(Config) -> F)
    where
        F: std::future::Future<Output = Result<(), BoxError>>,
    {
        if let Some(config) = config_from_env() {
            // Seconds expected; a hang becomes a failure.
            let limit = Duration::from_secs(300);
            weft::run(weft::time::timeout(limit, test(config)))
                .expect("the test did not finish in 5 minutes")
                .unwrap();
        }
    }

    /// Runs `body` on a fresh table made with `columns`, dropped afterwards.
    async fn on_table<F>(
        client: &Client,
        columns: &str,
        body: impl FnOnce(String) -> F,
    ) -> Result<(), BoxError>
    where
        F: std::future::Future<Output = Result<(), BoxError>>,
    {
        let table = unique_table("weft_test");
        client
            .batch_execute(&format!("CREATE TABLE {table} ({columns})"))
            .await?;
        let result = body(table.clone()).await;
        client.batch_execute(&format!("DROP TABLE {table}")).await?;
        result
    }

    #[test]
    fn the_example_runs() {
        run(demo);
    }

    #[test]
    fn no_tokio_runtime_inside_weft() {
        run(|config| async move {
            let client = connect(&config).await?;
            assert!(tokio::runtime::Handle::try_current().is_err());
            let task = weft::spawn(async move {
                let n: i32 = client.query_one("SELECT 7", &[]).await?.get(0);
                assert!(tokio::runtime::Handle::try_current().is_err());
                Ok::<_, BoxError>(n)
            });
            assert_eq!(task.await.map_err(|e| e.to_string())??, 7);
            Ok(())
        });
    }

    #[test]
    fn a_thousand_queries_from_fifty_tasks_over_eight_connections() {
        run(|config| async move {
            let pool = pool(config, 8);
            let mut tasks = weft::task::JoinSet::new();
            for task in 0..50i32 {
                let pool = pool.clone();
                tasks.spawn(async move {
                    for i in 0..20i32 {
                        let client = get(&pool, WAIT).await?;
                        let row = client
                            .query_one(
                                "SELECT $1::int4 * 1000 + $2::int4, $3::text",
                                &[&task, &i, &format!("t{task}")],
                            )
                            .await?;
                        assert_eq!(row.get::<_, i32>(0), task * 1000 + i);
                        assert_eq!(row.get::<_, String>(1), format!("t{task}"));
                    }
                    Ok::<_, BoxError>(())
                });
            }
            let mut done = 0;
            while let Some(r) = tasks.join_next().await {
                r.map_err(|e| e.to_string())??;
                done += 1;
            }
            assert_eq!(done, 50);
            let status = pool.status();
            assert!(status.size <= 8, "{status:?}");
            Ok(())
        });
    }

    #[test]
    fn over_the_servers_unix_socket() {
        let dir =
            std::env::var("WEFT_PG_SOCKET_DIR").unwrap_or_else(|_| "/var/run/postgresql".into());
        run(|config| async move {
            let port = port_of(&config, 0);
            if !Path::new(&dir).join(format!(".s.PGSQL.{port}")).exists()
                && std::env::var_os("WEFT_PG_URL").is_none()
            {
                eprintln!("skipped: no PostgreSQL socket in {dir}, and WEFT_PG_URL is not set");
                return Ok(());
            }
            let mut unix = Config::new();
            unix.host_path(&dir).port(port);
            if let Some(user) = config.get_user() {
                unix.user(user);
            }
            if let Some(dbname) = config.get_dbname() {
                unix.dbname(dbname);
            }
            let client = connect(&unix).await?;
            let row = client
                .query_one(
                    "SELECT $1::text, inet_client_addr() IS NULL",
                    &[&"over unix"],
                )
                .await?;
            assert_eq!(row.get::<_, String>(0), "over unix");
            assert!(
                row.get::<_, bool>(1),
                "a Unix-socket session has no client address"
            );
            // Cancellation over the Unix socket too.
            let token = client.cancel_token();
            let pid: i32 = client
                .query_one("SELECT pg_backend_pid()", &[])
                .await?
                .get(0);
            let observer = connect(&unix).await?;
            let (slept, cancelled) =
                weft::future::zip(client.simple_query("SELECT pg_sleep(60)"), async {
                    until_running(&observer, pid, "pg_sleep").await?;
                    cancel(&unix, &token).await.map_err(BoxError::from)
                })
                .await;
            cancelled?;
            assert_eq!(slept.unwrap_err().code(), Some(&SqlState::QUERY_CANCELED));
            Ok(())
        });
    }

    #[test]
    fn server_errors_are_errors_and_the_connection_stays_usable() {
        run(|config| async move {
            let client = &connect(&config).await?;
            let err = client.simple_query("SELEC 1").await.unwrap_err();
            assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR), "{err}");
            on_table(client, "id int4 PRIMARY KEY", |table| async move {
                let insert = format!("INSERT INTO {table} VALUES ($1)");
                client.execute(&*insert, &[&1i32]).await?;
                let err = client.execute(&*insert, &[&1i32]).await.unwrap_err();
                assert_eq!(err.code(), Some(&SqlState::UNIQUE_VIOLATION), "{err}");
                client.execute(&*insert, &[&2i32]).await?;
                let n: i64 = client
                    .query_one(&*format!("SELECT count(*) FROM {table}"), &[])
                    .await?
                    .get(0);
                assert_eq!(n, 2);
                Ok(())
            })
            .await?;
            // A failed statement inside a transaction, then the connection after it.
            let err = client.query_one("SELECT 1 / 0", &[]).await.unwrap_err();
            assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO), "{err}");
            let one: i32 = client.query_one("SELECT 1", &[]).await?.get(0);
            assert_eq!(one, 1);
            Ok(())
        });
    }

    #[test]
    fn a_connection_the_server_terminates_fails_and_the_pool_replaces_it() {
        run(|config| async move {
            let pool = pool(config.clone(), 1);
            let admin = connect(&config).await?;
            let conn = get(&pool, WAIT).await?;
            let pid: i32 = conn.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
            let killed: bool = admin
                .query_one("SELECT pg_terminate_backend($1)", &[&pid])
                .await?
                .get(0);
            assert!(killed);
            // Wait until the backend is gone (bounded: a hang becomes a failure).
            let gone = weft::time::timeout(WAIT, async {
                loop {
                    let n: i64 = admin
                        .query_one(
                            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                            &[&pid],
                        )
                        .await?
                        .get(0);
                    if n == 0 {
                        return Ok::<_, tokio_postgres::Error>(());
                    }
                    weft::time::sleep(Duration::from_millis(20)).await;
                }
            });
            gone.await??;
            let after = weft::time::timeout(WAIT, conn.query_one("SELECT 1", &[])).await?;
            assert!(after.is_err(), "a query on a terminated connection fails");
            assert!(weft::time::timeout(WAIT, async {
                while !conn.is_closed() {
                    weft::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .is_ok());
            drop(conn);
            // The pool (of one) notices and connects again.
            let conn = get(&pool, WAIT).await?;
            let new_pid: i32 = conn.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
            assert_ne!(new_pid, pid);
            Ok(())
        });
    }

    #[test]
    fn ten_megabytes_copied_in_and_out() {
        run(|config| async move {
            let client = &connect(&config).await?;
            on_table(client, "id int4, payload text", |table| async move {
                // 100,000 rows of about 100 bytes: 10 MB of COPY text, sent in chunks.
                let line = |i: u32| {
                    format!(
                        "{i}\t{}\n",
                        "abcdefghij".repeat(9) + &format!("{:06}", i % 1_000_000)
                    )
                };
                let mut sent = Vec::new();
                let sink = client
                    .copy_in::<_, bytes::Bytes>(&*format!("COPY {table} FROM STDIN"))
                    .await?;
                let mut sink = std::pin::pin!(sink);
                let mut chunk = Vec::new();
                for i in 0..100_000u32 {
                    chunk.extend_from_slice(line(i).as_bytes());
                    if chunk.len() >= 64 * 1024 {
                        sent.extend_from_slice(&chunk);
                        sink.send(bytes::Bytes::from(std::mem::take(&mut chunk)))
                            .await?;
                    }
                }
                sent.extend_from_slice(&chunk);
                sink.send(bytes::Bytes::from(chunk)).await?;
                let rows = sink.finish().await?;
                assert_eq!(rows, 100_000);
                assert!(sent.len() >= 10_000_000, "{} bytes", sent.len());

                let out = client
                    .copy_out(&*format!(
                        "COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT"
                    ))
                    .await?;
                let mut out = std::pin::pin!(out);
                let mut received = Vec::with_capacity(sent.len());
                while let Some(part) = out.next().await {
                    received.extend_from_slice(&part?);
                }
                assert_eq!(received.len(), sent.len());
                assert!(received == sent, "COPY OUT gives back what COPY IN sent");
                Ok(())
            })
            .await
        });
    }
}
