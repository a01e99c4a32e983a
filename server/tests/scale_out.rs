//! Scale-out (issue 9): two console instances behind one address — a round-robin TCP
//! proxy in this test — sharing one consumer group and one PostgreSQL. A person signed in
//! through the proxy is signed in on both (sessions live in PostgreSQL); a push stream on
//! either instance sees orders whichever instance ingested them (NOTIFY comes from the
//! database); one instance is killed with -9 mid-stream: pages keep being served, a
//! reconnected push stream works, and every record produced is stored exactly once.

mod common;

use common::{add_user, eventually, free_port, Broker, Console, TestDb};
use futures::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchyard_contract::publish;
use switchyard_fleet::orders::new_order;
use switchyard_tools::synthetic::{produce, Synthetic};
use tokio::net::{TcpListener, TcpStream};

/// One address in front of `backends`: each connection goes to the next backend that
/// accepts it (a dead one is skipped), as a load balancer with health checks would.
async fn proxy(backends: Vec<String>) -> (String, Arc<AtomicUsize>) {
    let port = free_port();
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let counter = next.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            let start = counter.fetch_add(1, Ordering::SeqCst);
            let backends = backends.clone();
            tokio::spawn(async move {
                for i in 0..backends.len() {
                    let b = &backends[(start + i) % backends.len()];
                    if let Ok(mut outbound) = TcpStream::connect(b).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), next)
}

/// Opens `/api/live` through `base` and returns the stream of its text.
type Chunks = std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>;

async fn live(http: &reqwest::Client, base: &str) -> Chunks {
    let resp = http.get(format!("{base}/api/live")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    Box::pin(resp.bytes_stream().map(|c| c.map(|b| b.to_vec())))
}

async fn saw(stream: &mut Chunks, needle: &str) -> bool {
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(needle) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

/// GET through the proxy; a pooled connection to the killed instance fails once, and is
/// retried on a new connection, as a browser does.
async fn get_ok(http: &reqwest::Client, url: &str) {
    for attempt in 0..3 {
        match http.get(url).send().await {
            Ok(r) => {
                assert_eq!(r.status(), 200, "{url}");
                return;
            }
            Err(e) if attempt < 2 && (e.is_connect() || e.is_request()) => continue,
            Err(e) => panic!("{url}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consoles_behind_one_address_survive_losing_one() {
    let db = TestDb::new().await;
    let broker = Broker::start().await;
    let env = [("SWITCHYARD_BATCH_MAX", "500"), ("RUST_LOG", "warn")];
    let a = Console::start(&db.url, Some(&broker.bootstrap), &env).await;
    let b = Console::start(&db.url, Some(&broker.bootstrap), &env).await;
    let backend = |c: &Console| c.base.trim_start_matches("http://").to_string();
    let (base, _) = proxy(vec![backend(&a), backend(&b)]).await;
    add_user(&db.url, "vera", "viewer", "viewer-password-1");

    // Sign in through the proxy: the session works on both instances.
    let front = Console::at(&base);
    let (http, _) = front.login("vera", "viewer-password-1").await;
    for _ in 0..4 {
        let r = http.get(format!("{base}/orders")).send().await.unwrap();
        assert_eq!(r.status(), 200, "signed in on every instance");
    }

    // Two push streams, one on each instance (the proxy alternates), both see an order.
    let mut s1 = live(&http, &base).await;
    let mut s2 = live(&http, &base).await;
    let producer = broker.producer();
    publish(&producer, &new_order("ORD-SCALE-1", &mut rand::rng()))
        .await
        .unwrap();
    assert!(saw(&mut s1, "ORD-SCALE-1").await, "stream 1");
    assert!(saw(&mut s2, "ORD-SCALE-1").await, "stream 2");

    // Load, and one instance killed -9 in the middle of it.
    let mut gen = Synthetic::new(21, "SCL");
    let records = gen.records(8_000);
    let total = records.len() + 1;
    let (first, second) = records.split_at(records.len() / 2);
    produce(&producer, first).await.unwrap();
    drop(a); // kill -9 (Console's drop kills the child)
    produce(&producer, second).await.unwrap();

    // Pages are still served through the one address, and a reconnected push stream
    // (a browser's EventSource does this by itself) gets new orders.
    for _ in 0..4 {
        get_ok(&http, &format!("{base}/orders")).await;
    }
    let mut s3 = live(&http, &base).await;
    publish(&producer, &new_order("ORD-SCALE-2", &mut rand::rng()))
        .await
        .unwrap();
    assert!(saw(&mut s3, "ORD-SCALE-2").await, "reconnected stream");

    // The survivor takes over the dead one's partitions: everything stored exactly once.
    let total = total + 1;
    eventually(Duration::from_secs(120), "all records stored", || async {
        db.count("SELECT COALESCE(sum(next_offset), 0)::int8 FROM consumer_positions")
            .await as usize
            >= total
    })
    .await;
    let stored = db
        .count(
            "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM dead_letters)
                  + (SELECT count(*) FROM quarantine)",
        )
        .await;
    assert_eq!(stored as usize, total, "each record stored once");
    assert_eq!(
        db.count("SELECT count(*) - count(DISTINCT event_id) FROM events")
            .await,
        0
    );
    let problems = switchyard::ingest::verify::verify(&db.pool).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    drop(b);
    drop(front);
    db.drop_db().await;
}
