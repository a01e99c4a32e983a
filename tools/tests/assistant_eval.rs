//! The offline router over the evaluation set (`server/assistant-eval.jsonl`): at least 95 %
//! right tool and arguments by rules alone, and with the embedding model when this build
//! has the `embeddings` feature and the model is installed (`scripts/setup.sh model`).

use std::path::Path;
use switchyard::assistant::offline::OfflineBackend;
use switchyard_tools::assistant_eval as eval;

fn cases() -> Vec<eval::Case> {
    let cases = eval::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assistant-eval.jsonl"))
        .expect("evaluation set");
    assert!(cases.len() >= 60, "at least 60 questions");
    cases
}

fn check(router: &OfflineBackend) -> eval::Report {
    let r = eval::run(router, &cases());
    for m in &r.misses {
        eprintln!(
            "MISS {:?}: expected {} {}, got {} {}",
            m.case.q, m.case.tool, m.case.args, m.tool, m.args
        );
    }
    assert!(
        r.accuracy() >= 0.95,
        "accuracy {:.3} below 0.95",
        r.accuracy()
    );
    r
}

#[test]
fn rules_alone_route_the_evaluation_set() {
    check(&OfflineBackend::rules_only("test"));
}

#[test]
fn rules_and_embeddings_route_the_evaluation_set() {
    let dir = switchyard::config::AssistantConfig {
        assistant_backend: switchyard::config::AssistantBackendKind::Offline,
        assistant_model: None,
        assistant_url: None,
        embedding_model: std::env::var_os("SWITCHYARD_EMBEDDING_MODEL").map(Into::into),
        assistant_max_steps: 6,
        assistant_timeout_secs: 60,
    }
    .embedding_model_dir();
    if !cfg!(feature = "embeddings") {
        eprintln!("skipped: built without the embeddings feature");
        return;
    }
    let router = OfflineBackend::load(&dir);
    if !router.has_model() {
        // `make test` installs the model first; a machine without it still has the rules.
        eprintln!("skipped: no embedding model in {}", dir.display());
        return;
    }
    let r = check(&router);
    eprintln!(
        "with embeddings: {}/{} right, p50 {:?}, p95 {:?}",
        r.right, r.total, r.p50, r.p95
    );
}
