//! `switchyard-tools page-bench`: server time of the console pages, measured as a browser without
//! JavaScript sees it — a signed-in GET of the server-rendered page, timed to the last byte
//! over loopback — against a running console (see BENCHMARKS.md, page latency).

use anyhow::{bail, Context};
use sqlx::PgPool;
use std::time::{Duration, Instant};

pub struct PageBenchArgs {
    pub base: String,
    pub user: String,
    pub password: String,
    pub samples: usize,
}

/// Nearest-rank percentile of sorted milliseconds.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\"")?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}

/// A client signed in through the login form, as a browser is (cookie jar, CSRF token).
pub async fn sign_in(base: &str, user: &str, password: &str) -> anyhow::Result<reqwest::Client> {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let token = csrf_in(&login).context("no CSRF token on the login page")?;
    let resp = http
        .post(format!("{base}/auth/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("name", user),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await?;
    if resp.status() != 303 {
        bail!("login as {user} failed: {}", resp.status());
    }
    Ok(http)
}

pub async fn run(pool: &PgPool, args: PageBenchArgs) -> anyhow::Result<()> {
    let http = sign_in(&args.base, &args.user, &args.password).await?;

    let n = args.samples.max(1) as i64;
    // Orders spread over the table (and some failed ones, whose pages show more).
    let mut ids: Vec<String> = sqlx::query_scalar(
        "SELECT order_id FROM orders TABLESAMPLE SYSTEM (1) WHERE status_rank = 3 LIMIT $1",
    )
    .bind(n)
    .fetch_all(pool)
    .await?;
    if ids.is_empty() {
        ids = sqlx::query_scalar("SELECT order_id FROM orders LIMIT $1")
            .bind(n)
            .fetch_all(pool)
            .await?;
    }
    if ids.is_empty() {
        bail!("no orders stored: run `switchyard-tools seed` first");
    }
    let customer: Option<String> =
        sqlx::query_scalar("SELECT customer_id FROM orders WHERE customer_id IS NOT NULL LIMIT 1")
            .fetch_optional(pool)
            .await?
            .flatten();
    let customer = customer.unwrap_or_else(|| "nobody".into());

    type Target = (&'static str, Box<dyn Fn(usize) -> String>);
    let id_at = {
        let ids = ids.clone();
        move |i: usize| switchyard_app::ops::order_href(&ids[i % ids.len()])
    };
    let id_at2 = id_at.clone();
    let targets: Vec<Target> = vec![
        ("orders: first page", Box::new(|_| "/orders".into())),
        (
            "orders: status=failed",
            Box::new(|_| "/orders?status=failed".into()),
        ),
        (
            "orders: step=payment:execute",
            Box::new(|_| "/orders?step=payment%3Aexecute".into()),
        ),
        (
            "orders: search by customer",
            Box::new(move |_| {
                format!(
                    "/orders?q={}",
                    switchyard_app::ops::percent_encode(&customer)
                )
            }),
        ),
        ("order detail", Box::new(id_at)),
        (
            "order detail, as of version 3",
            Box::new(move |i| format!("{}?as_of=3", id_at2(i))),
        ),
        ("overview 1h", Box::new(|_| "/".into())),
        ("overview 24h", Box::new(|_| "/?range=24h".into())),
        ("overview 7d", Box::new(|_| "/?range=7d".into())),
        ("breakers 24h", Box::new(|_| "/breakers?range=24h".into())),
    ];

    println!("| page | samples | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (name, path) in &targets {
        // Warm the connection and the plan caches first.
        for i in 0..3 {
            http.get(format!("{}{}", args.base, path(i)))
                .send()
                .await?
                .bytes()
                .await?;
        }
        let mut ms = Vec::with_capacity(args.samples);
        for i in 0..args.samples {
            let url = format!("{}{}", args.base, path(i));
            let t = Instant::now();
            let resp = http.get(&url).send().await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            if status != 200 || body.len() < 500 {
                bail!("{url}: {status}, {} bytes", body.len());
            }
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} |",
            ms.len(),
            pct(&ms, 50.0),
            pct(&ms, 95.0),
            ms[ms.len() - 1]
        );
    }
    Ok(())
}
