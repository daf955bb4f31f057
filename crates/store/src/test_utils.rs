//! Shared by the store's and the matcher's tests (feature `test-utils`).

use sqlx::Connection;

/// A fresh database on the PostgreSQL server at `SEALGRID_TEST_PG_URL` (the test command starts
/// one with `scripts/pg.sh`), as a URL; `None`, with a message, when the variable is unset.
///
/// # Panics
/// When `SEALGRID_REQUIRE_PG` is set but the server URL is not, or the server refuses: a test
/// that must run on PostgreSQL fails rather than skips.
pub async fn postgres_test_database(prefix: &str) -> Option<String> {
    let Ok(admin) = std::env::var("SEALGRID_TEST_PG_URL") else {
        assert!(
            std::env::var("SEALGRID_REQUIRE_PG").is_err(),
            "SEALGRID_REQUIRE_PG is set but SEALGRID_TEST_PG_URL is not"
        );
        eprintln!("skipped: SEALGRID_TEST_PG_URL is not set (scripts/pg.sh start)");
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!("{prefix}_{}_{nanos}", std::process::id());
    let mut c = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to SEALGRID_TEST_PG_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut c)
        .await
        .expect("create the test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}
