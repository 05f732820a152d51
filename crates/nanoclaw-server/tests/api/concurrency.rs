//! Unique-constraint races answer 409, never 500.

use futures::future::join_all;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn concurrent_registrations_of_one_username_give_one_success() {
    let app = spawn_app(MULTI).await;
    let attempts = (0..8).map(|i| {
        let body = json!({"username": "racer", "password": "race-password", "email": format!("r{i}@x.io")});
        let app = &app;
        async move { json_of(app.post("/api/auth/register", &body).await).await }
    });
    let results = join_all(attempts).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    for (s, b) in results.iter().filter(|(s, _)| *s != 200) {
        assert_error(*s, b, 409, "Username 'racer' already exists");
    }
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_give_one_success() {
    let app = spawn_app(MULTI).await;
    let attempts = (0..8).map(|i| {
        let body = json!({"username": format!("mail{i}"), "password": "race-password", "email": "same@x.io"});
        let app = &app;
        async move { json_of(app.post("/api/auth/register", &body).await).await }
    });
    let results = join_all(attempts).await;
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 200).count(),
        1,
        "{results:?}"
    );
    for (s, b) in results.iter().filter(|(s, _)| *s != 200) {
        assert_error(*s, b, 409, "Email already registered");
    }
}
