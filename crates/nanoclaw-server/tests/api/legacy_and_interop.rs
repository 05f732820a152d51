//! Werkzeug hashes from an old database, and tokens shared with Python's PyJWT.

use nanoclaw_store::NewUser;
use serde_json::{Value, json};

use crate::helpers::*;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn werkzeug_vectors() -> Vec<Value> {
    let path = format!(
        "{}/../nanoclaw-core/tests/fixtures/werkzeug_hashes.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

#[tokio::test]
async fn legacy_werkzeug_hashes_log_in_and_are_rehashed_to_argon2id() {
    let app = spawn_app(MULTI).await;
    let picks: Vec<Value> = werkzeug_vectors()
        .into_iter()
        .filter(|v| {
            [
                "pbkdf2:sha256:1000",
                "scrypt:1024:8:1",
                "pbkdf2:sha512:1000",
            ]
            .contains(&v["method"].as_str().unwrap())
        })
        .filter(|v| !v["password"].as_str().unwrap().is_empty())
        .collect();
    assert!(picks.len() >= 3);
    for (i, v) in picks.iter().enumerate() {
        let username = format!("legacy{i}");
        let password = v["password"].as_str().unwrap();
        let hash = v["hash"].as_str().unwrap();
        app.store
            .create_user(
                NewUser {
                    username: username.clone(),
                    password_hash: Some(hash.into()),
                    email: None,
                    role: "user".into(),
                    auth_source: Default::default(),
                },
                nanoclaw_core::time::now_utc(),
            )
            .await
            .unwrap();
        let (s, _) = app.login(&username, &format!("{password}!")).await;
        assert_eq!(s, 401, "wrong password for {}", v["method"]);
        assert_eq!(
            app.store
                .user_by_username(&username)
                .await
                .unwrap()
                .unwrap()
                .password_hash
                .as_deref(),
            Some(hash)
        );

        let (s, b) = app.login(&username, password).await;
        assert_eq!(s, 200, "{} should log in: {b}", v["method"]);
        let stored = app
            .store
            .user_by_username(&username)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "rehashed: {stored}");
        let (s, _) = app.login(&username, password).await;
        assert_eq!(s, 200, "the new hash works too");
    }
}

#[tokio::test]
async fn pyjwt_tokens_are_accepted_and_bad_ones_refused() {
    let tokens = fixture("pyjwt_tokens.json");
    let secret = tokens["secret"].as_str().unwrap();
    let app = spawn_app(&format!(
        "auth_mode: multi\njwt_secret: {secret}\nlogin_rate_limit: 0\npassword_min_score: 0\naccept_legacy_tokens: true\n"
    ))
    .await;
    app.register("alice", "alice-password").await; // id 1, as in the PyJWT tokens
    let t = |name: &str| tokens["tokens"][name].as_str().unwrap().to_owned();
    let (s, b) = app.profile(Some(&t("valid"))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["username"], "alice");
    for name in [
        "expired",
        "no_exp",
        "hs512",
        "alg_none",
        "published_default_secret",
        "other_user",
    ] {
        let (s, b) = app.profile(Some(&t(name))).await;
        assert_error(s, &b, 401, "Unauthorized - please login");
    }
}

/// Our tokens verify in PyJWT. Runs Python when PyJWT is installed; CI installs it and sets
/// NANOCLAW_REQUIRE_PYJWT=1 so the check cannot be skipped there.
#[tokio::test]
async fn our_tokens_verify_in_pyjwt() {
    let secret = "integration-test-secret-0123456789abcdef";
    let app = spawn_app(MULTI).await;
    let token = app.register("pyuser", "pyuser-password").await;
    let script = "import sys, jwt; \
                  c = jwt.decode(sys.argv[1], sys.argv[2], algorithms=['HS256'], audience='nanoclaw-multi'); \
                  h = jwt.get_unverified_header(sys.argv[1]); \
                  print(c['user_id'], c['username'], c['role'], c['aud'], h['alg'], h['typ'])";
    let out = std::process::Command::new("python3")
        .args(["-c", script, &token, secret])
        .output();
    let required = std::env::var("NANOCLAW_REQUIRE_PYJWT").is_ok_and(|v| v == "1");
    match out {
        Ok(out) if out.status.success() => {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "1 pyuser admin nanoclaw-multi HS256 JWT"
            );
        }
        Ok(out)
            if !required
                && String::from_utf8_lossy(&out.stderr).contains("No module named 'jwt'") =>
        {
            eprintln!("PyJWT not installed; skipping (set NANOCLAW_REQUIRE_PYJWT=1 to require it)");
        }
        Err(e) if !required => eprintln!("python3 not available ({e}); skipping"),
        other => panic!("PyJWT rejected our token: {other:?}"),
    }
    let _ = json!(null);
}
