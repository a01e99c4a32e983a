//! The hosted-model clients and the agent loop against fake Anthropic and OpenAI-compatible
//! servers on 127.0.0.1 replaying the real wire formats: streamed text and tool calls
//! (several in one turn), malformed tool arguments, `finish_reason: ""`, 429/529 with
//! `retry-after`, and a 400 that must not be retried.

mod assistant_support;
mod common;

use assistant_support::*;
use common::TestDb;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::assistant::agent::Limits;
use switchyard::assistant::anthropic::Anthropic;
use switchyard::assistant::backend::Backend;
use switchyard::assistant::openai::OpenAiCompatible;
use switchyard::assistant::Assistant;
use switchyard_app::assistant::AssistantEvent;

const KEY: &str = "sk-test-0123456789-SECRET";

fn assistant(db: &TestDb, backend: Arc<dyn Backend>) -> Assistant {
    Assistant::new(
        db.pool.clone(),
        backend,
        Limits {
            max_retry_wait: Duration::from_secs(2),
            ..Limits::default()
        },
    )
}

fn tool_results(body: &Value) -> Vec<Value> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "tool_result")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_streams_text_and_runs_several_tool_uses_of_one_turn() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let fake = FakeModel::start(vec![
        Reply::sse(anthropic_stream(
            "Let me check the order and the breakers.",
            &[
                ("toolu_01", "order_status", r#"{"order_id": "ORD-1042"}"#),
                ("toolu_02", "breaker_states", r#"{"state": "open"}"#),
            ],
            5,
        )),
        Reply::sse(anthropic_stream(
            "ORD-1042 failed: the payment step was declined while the payment-gateway breaker is open.",
            &[],
            5,
        )),
    ])
    .await;
    let a = assistant(
        &db,
        Arc::new(Anthropic::new(&fake.url, KEY.into(), "claude-test")),
    );
    let events = a
        .ask_all(viewer(), None, "why did ORD-1042 fail?")
        .await
        .unwrap();
    let text = answer_text(&events);
    assert!(
        text.starts_with("Let me check the order and the breakers."),
        "{text}"
    );
    assert!(text.contains("payment-gateway breaker is open"), "{text}");
    assert!(matches!(
        events.first(),
        Some(AssistantEvent::Started {
            rule_based: false,
            ..
        })
    ));
    assert_eq!(events.last(), Some(&AssistantEvent::Done));
    assert!(events
        .iter()
        .any(|e| matches!(e, AssistantEvent::Citation(c) if c.href == "/orders/ORD-1042")));
    // More than one delta: the answer was streamed, not delivered at once.
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, AssistantEvent::Delta { .. }))
            .count()
            > 4
    );

    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/v1/messages");
    assert_eq!(seen[0].headers["x-api-key"], KEY);
    assert_eq!(seen[0].headers["anthropic-version"], "2023-06-01");
    assert_eq!(seen[0].body["stream"], true);
    // Every tool, the kpis and incident_summary of issue 22 included.
    let offered: Vec<&str> = seen[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, switchyard::assistant::tools::ALL);
    // Both tool results go back in one user message, matched by id.
    let results = tool_results(&seen[1].body);
    assert_eq!(results.len(), 2, "{}", seen[1].body);
    assert_eq!(results[0]["tool_use_id"], "toolu_01");
    assert_eq!(results[1]["tool_use_id"], "toolu_02");
    assert!(results[0]["content"]
        .as_str()
        .unwrap()
        .contains("card declined by issuer"));
    assert!(results[1]["content"]
        .as_str()
        .unwrap()
        .contains("payment-gateway"));
    // The assistant turn with both tool_use blocks is replayed to the model as it was.
    let prior = &seen[1].body["messages"][1];
    assert_eq!(prior["role"], "assistant");
    assert_eq!(
        prior["content"][1]["input"],
        json!({"order_id": "ORD-1042"})
    );
    for s in &seen {
        assert!(
            !s.raw.contains(KEY),
            "the key must never be in a request body"
        );
    }
    let audited = audited_tools(&db.pool).await;
    assert_eq!(
        audited.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        ["order_status", "breaker_states"]
    );
    assert_eq!(audited[0].1["input"], json!({"order_id": "ORD-1042"}));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_429_and_529_are_retried_after_retry_after_and_400_is_not() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let fake = FakeModel::start(vec![
        anthropic_error(429, Some("1"), "rate_limit_error"),
        anthropic_error(529, Some("0"), "overloaded_error"),
        Reply::sse(anthropic_stream("All quiet.", &[], 5)),
        anthropic_error(400, None, "invalid_request_error"),
    ])
    .await;
    let a = assistant(
        &db,
        Arc::new(Anthropic::new(&fake.url, KEY.into(), "claude-test")),
    );
    let t0 = Instant::now();
    let events = a.ask_all(viewer(), None, "anything wrong?").await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "retry-after: 1 was honoured"
    );
    assert_eq!(answer_text(&events), "All quiet.");
    assert_eq!(fake.seen().len(), 3);
    let notes = events
        .iter()
        .filter(|e| matches!(e, AssistantEvent::Note { text } if text.contains("busy")))
        .count();
    assert_eq!(notes, 2, "each retry is shown");

    let events = a.ask_all(viewer(), None, "and now?").await.unwrap();
    assert_eq!(fake.seen().len(), 4, "a 400 is not retried");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AssistantEvent::Error { message } if message.contains("400"))),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&AssistantEvent::Done));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_malformed_tool_input_is_reported_back_to_the_model() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let fake = FakeModel::start(vec![
        Reply::sse(anthropic_stream(
            "",
            &[("toolu_bad", "order_status", r#"{"order_id": "ORD-10"#)],
            4,
        )),
        Reply::sse(anthropic_stream(
            "",
            &[("toolu_ok", "order_status", r#"{"order_id": "ORD-1042"}"#)],
            4,
        )),
        Reply::sse(anthropic_stream("It failed at payment.", &[], 5)),
    ])
    .await;
    let a = assistant(
        &db,
        Arc::new(Anthropic::new(&fake.url, KEY.into(), "claude-test")),
    );
    let events = a.ask_all(viewer(), None, "ORD-1042?").await.unwrap();
    assert_eq!(answer_text(&events), "It failed at payment.");
    let seen = fake.seen();
    let bad = &tool_results(&seen[1].body)[0];
    assert_eq!(bad["tool_use_id"], "toolu_bad");
    assert_eq!(bad["is_error"], true);
    assert!(bad["content"]
        .as_str()
        .unwrap()
        .contains("not a JSON object"));
    // The malformed call is replayed to the API with a valid (empty) input object.
    assert_eq!(
        seen[1].body["messages"][1]["content"][0]["input"],
        json!({})
    );
    let audited = audited_tools(&db.pool).await;
    assert_eq!(audited.len(), 2, "the malformed call is audited too");
    assert!(audited[0].1["input"]["unparsed"].is_string());
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_compatible_tool_calls_with_empty_finish_reason_and_errors() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let fake = FakeModel::start(vec![
        anthropic_error(429, Some("0"), "rate_limit"),
        Reply::sse(openai_stream(
            "",
            &[
                ("call_a", "dlq_summary", r#"{"service": "order"}"#),
                ("call_b", "search_orders", r#"{"status": "failed"}"#),
                ("call_c", "order_status", r#"{"order_id": ORD-7"#),
            ],
            3,
            json!(""),
        )),
        Reply::sse(openai_stream(
            "Two dead letters on order.completed.",
            &[],
            3,
            json!(""),
        )),
        anthropic_error(400, None, "bad request"),
    ])
    .await;
    let a = assistant(
        &db,
        Arc::new(OpenAiCompatible::new(
            &format!("{}/v1", fake.url),
            Some(KEY.into()),
            "local",
        )),
    );
    let events = a.ask_all(viewer(), None, "dead letters?").await.unwrap();
    assert_eq!(answer_text(&events), "Two dead letters on order.completed.");
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].path, "/v1/chat/completions");
    assert_eq!(seen[1].headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(seen[1].body["stream"], true);
    assert_eq!(seen[1].body["messages"][0]["role"], "system");
    let msgs = seen[2].body["messages"].as_array().unwrap();
    let calls = msgs[2]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3);
    let tool_msgs: Vec<&Value> = msgs.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(
        tool_msgs
            .iter()
            .map(|m| m["tool_call_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["call_a", "call_b", "call_c"]
    );
    assert!(tool_msgs[0]["content"]
        .as_str()
        .unwrap()
        .contains("order.completed"));
    assert!(tool_msgs[1]["content"]
        .as_str()
        .unwrap()
        .contains("ORD-1042"));
    assert!(tool_msgs[2]["content"]
        .as_str()
        .unwrap()
        .contains("not a JSON object"));
    for s in &seen {
        assert!(!s.raw.contains(KEY));
    }
    assert_eq!(audited_tools(&db.pool).await.len(), 3);

    let events = a.ask_all(viewer(), None, "again").await.unwrap();
    assert_eq!(fake.seen().len(), 4, "400 is not retried");
    assert!(events
        .iter()
        .any(|e| matches!(e, AssistantEvent::Error { .. })));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_stops_after_max_steps() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let looping: Vec<Reply> = (0..5)
        .map(|i| {
            Reply::sse(anthropic_stream(
                "",
                &[(&format!("t{i}"), "breaker_states", "{}")],
                50,
            ))
        })
        .collect();
    let fake = FakeModel::start(looping).await;
    let a = Assistant::new(
        db.pool.clone(),
        Arc::new(Anthropic::new(&fake.url, KEY.into(), "claude-test")),
        Limits {
            max_steps: 3,
            ..Limits::default()
        },
    );
    let events = a.ask_all(viewer(), None, "loop forever").await.unwrap();
    assert_eq!(fake.seen().len(), 3);
    assert!(events
        .iter()
        .any(|e| matches!(e, AssistantEvent::Note { text } if text.contains("Stopped after 3"))));
    db.drop_db().await;
}

/// Issue 20: a question whose browser has gone stops — the model's request is dropped, not
/// paid for to the end — and the conversation says it was stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_stops_when_its_browser_goes() {
    use futures::StreamExt;
    use switchyard_app::assistant::AssistantApi;
    let db = TestDb::new().await;
    let fake = FakeModel::start(vec![
        Reply::sse(anthropic_stream("a slow answer", &[], 8)).after(Duration::from_secs(30))
    ])
    .await;
    let a = assistant(
        &db,
        Arc::new(Anthropic::new(&fake.url, KEY.into(), "claude-test")),
    );
    let mut events = a
        .ask(viewer(), None, "why did ORD-1 fail?".into())
        .await
        .unwrap();
    let first = events.next().await.unwrap();
    assert!(matches!(first, AssistantEvent::Started { .. }));
    // Wait until the model has been asked, then the browser goes.
    let asked = Instant::now();
    while fake.seen().is_empty() {
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "the model was never asked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(events);
    let gone = Instant::now();
    loop {
        let stopped: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM assistant_turns WHERE role = 'assistant' AND turn->>'text' LIKE '(stopped%'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if stopped == 1 {
            break;
        }
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "still running 5 s after the browser went"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.seen().len(), 1, "no further model calls");
    db.drop_db().await;
}
