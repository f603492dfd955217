//! Creating the tables: several instances starting at once on an empty database.

use fastusers_tests::{Db, User, fresh_database};

/// Six instances start at once on an empty PostgreSQL database: each creates the tables if
/// they do not exist, and none fails on the race (PostgreSQL's `CREATE TABLE IF NOT EXISTS`
/// is not safe against a concurrent one; the migration's advisory lock makes it so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_all_connect() {
    let url = fresh_database(Db::Postgres).await;
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { fastusers::store::connect::<User>(&url).await })
        })
        .collect();
    for start in starts {
        if let Err(error) = start.await.unwrap() {
            panic!("an instance failed to start: {error}");
        }
    }
    let store = fastusers::store::connect::<User>(&url).await.unwrap();
    assert!(
        store
            .get_by_email("nobody@camelot.bt")
            .await
            .unwrap()
            .is_none()
    );
}
