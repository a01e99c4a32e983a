//! `switchyard verify`: rebuilds the projections from the event store and compares them
//! with the stored ones ([`crate::ingest::verify`]); exits 1 on a difference.

use crate::config::Db;

pub async fn run(db: &Db) -> anyhow::Result<()> {
    let pool = crate::db::connect(&db.database_url).await?;
    let problems = crate::ingest::verify::verify(&pool).await?;
    if problems.is_empty() {
        println!("projections match the event store");
        return Ok(());
    }
    for p in &problems {
        println!("{p}");
    }
    anyhow::bail!(
        "{} differences between projections and event store",
        problems.len()
    )
}
