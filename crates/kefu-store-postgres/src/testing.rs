//! Fresh PostgreSQL schemas for tests: each test gets its own schema in the
//! test database, selected through the URL's `search_path`, and drops it
//! when done. No test skips PostgreSQL: an unreachable server is a failure.

use std::sync::atomic::{AtomicU64, Ordering};

/// The server the tests use: `KEFU_TEST_POSTGRES_URL`, by default the local
/// server with trust authentication.
pub fn base_url() -> String {
    std::env::var("KEFU_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema that lives as long as this value.
pub struct TestSchema {
    pub name: String,
    /// The base URL with `search_path` set to the schema.
    pub url: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestSchema {
    pub async fn create() -> TestSchema {
        let mut rnd = [0u8; 4];
        getrandom::fill(&mut rnd).expect("randomness for the schema name");
        let name = format!(
            "kefu_t{}_{}_{:02x}{:02x}{:02x}{:02x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rnd[0],
            rnd[1],
            rnd[2],
            rnd[3]
        );
        let base = base_url();
        let client = connect(&base).await;
        client.batch_execute(&format!("CREATE SCHEMA {name}")).await.expect("create test schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        TestSchema { name, url }
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is required for the tests and is not reachable at {url}: {e}. Start it (scripts/test.sh does) or set KEFU_TEST_POSTGRES_URL.")
    });
    tokio::spawn(conn);
    client
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (base, name) = (base_url(), self.name.clone());
        // Drop may run inside a runtime; do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.ok()?;
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await.ok()
            })
        })
        .join();
    }
}
