//! The fleet's schema on a new database when several fleet processes start at once (as
//! `switchyard-fleet run --service …` per service does): every one of them connects and
//! migrates. `CREATE SCHEMA IF NOT EXISTS` alone lets two of them race on the catalog's
//! unique index, and the loser used to exit at start-up — a whole service missing, its
//! sagas waiting for ever (the CI failure of `fleet_services`, 2026-12-05).

mod common;

use common::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_processes_starting_together_all_get_their_schema() {
    let db = TestDb::new().await;
    for round in 0..12 {
        sqlx::query("DROP SCHEMA IF EXISTS fleet CASCADE")
            .execute(&db.pool)
            .await
            .unwrap();
        let connects = (0..8).map(|_| switchyard_fleet::store::connect(&db.url));
        for (i, r) in futures::future::join_all(connects)
            .await
            .into_iter()
            .enumerate()
        {
            let pool = r.unwrap_or_else(|e| panic!("round {round}, process {i}: {e}"));
            pool.close().await;
        }
    }
    db.drop_db().await;
}
