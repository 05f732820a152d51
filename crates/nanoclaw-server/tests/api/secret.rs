//! The JWT secret: generated and kept in data_dir when none usable is configured.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn generated_secret_is_private_and_survives_restarts() {
    for config in [
        "auth_mode: multi\nlogin_rate_limit: 0\npassword_min_score: 0\n",
        "auth_mode: multi\njwt_secret: ''\nlogin_rate_limit: 0\npassword_min_score: 0\n",
        "auth_mode: multi\njwt_secret: nano-claw-default-secret-change-in-production\nlogin_rate_limit: 0\npassword_min_score: 0\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let app = spawn_app_in(dir.path(), config).await;
        let token = app.register("keeper", "keeper-password").await;
        let file = app.data_dir().join("jwt_secret");
        let secret = std::fs::read_to_string(&file).unwrap();
        assert_eq!(secret.trim().len(), 64);
        assert_ne!(
            secret.trim(),
            "nano-claw-default-secret-change-in-production"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        app.stop().await;

        let again = spawn_app_in(dir.path(), config).await;
        let (s, b) = again.profile(Some(&token)).await;
        assert_eq!(s, 200, "token survives a restart: {b}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), secret);
        again.stop().await;
    }
}

#[tokio::test]
async fn configured_secret_is_used() {
    let app = spawn_app(MULTI).await;
    let token = app.register("cfg", "cfg-password").await;
    assert!(!app.data_dir().join("jwt_secret").exists());
    let keys = jsonwebtoken::DecodingKey::from_secret(b"integration-test-secret-0123456789abcdef");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims = ["exp".to_owned()].into_iter().collect();
    validation.set_audience(&["nanoclaw-multi"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &keys, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["username"], json!("cfg"));
    assert_eq!(
        claims["role"],
        json!("admin"),
        "the first account is the admin"
    );
    assert!(claims["jti"].is_string(), "tokens name their session");
    let exp = claims["exp"].as_i64().unwrap();
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(exp - iat, 604_800, "default jwt_expiry is 7 days");
}

#[tokio::test]
async fn jwt_expiry_is_configurable() {
    let app = spawn_app(&format!("{MULTI}jwt_expiry: 120\n")).await;
    let token = app.register("short", "short-password").await;
    let payload = token.split('.').nth(1).unwrap();
    let claims = decode_segment(payload);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
}

fn decode_segment(segment: &str) -> serde_json::Value {
    // base64url without padding, decoded by hand to keep the test free of another crate
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in segment.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    serde_json::from_slice(&out).unwrap()
}
