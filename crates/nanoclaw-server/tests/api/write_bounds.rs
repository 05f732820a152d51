//! Load that must not become writes: refreshing in a loop, and the audit log's retention.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};

use crate::helpers::*;

#[tokio::test]
async fn refresh_writes_the_session_at_most_once_a_minute() {
    let app = spawn_app(MULTI).await;
    let token = app.register("lou", "lou-password").await;
    let expiry = || async {
        let (_, b) = app
            .call("GET", "/api/auth/sessions", Some(&token), None)
            .await;
        b["data"][0]["expires_at"].as_str().unwrap().to_owned()
    };
    let before = expiry().await;
    let mut fresh = Vec::new();
    for _ in 0..5 {
        let (s, b) = app
            .call("POST", "/api/auth/refresh", Some(&token), None)
            .await;
        assert_eq!(s, 200, "{b}");
        fresh.push(b["data"]["token"].as_str().unwrap().to_owned());
    }
    // Timestamps have microseconds: any write would have moved it.
    assert_eq!(
        expiry().await,
        before,
        "a refresh within the minute wrote the session"
    );
    for token in &fresh {
        assert_eq!(app.profile(Some(token)).await.0, 200);
    }
}

#[tokio::test]
async fn audit_entries_past_their_retention_are_deleted() {
    let base = tempfile::tempdir().unwrap();
    let app = spawn_app_in(base.path(), MULTI).await;
    let (admin, _) = app.register_id("root", "root-password").await;
    let db = Database::connect(app.database_url()).await.unwrap();
    let old = nanoclaw_core::time::now_utc() - chrono::TimeDelta::days(3);
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                "INSERT INTO audit_log (created_at, action, outcome) VALUES ($1, 'ancient', 'success')"
            }
            _ => "INSERT INTO audit_log (created_at, action, outcome) VALUES (?, 'ancient', 'success')",
        },
        [old.into()],
    ))
    .await
    .unwrap();
    assert_eq!(app.audit(&admin, "ancient").await.len(), 1);
    app.stop().await;
    // Kept for 2 days: pruned when the server starts (and hourly after).
    let app = spawn_app_in(base.path(), &format!("{MULTI}audit_retention_days: 2\n")).await;
    let (_, login) = app.login("root", "root-password").await;
    let admin = login["data"]["token"].as_str().unwrap().to_owned();
    assert!(
        eventually(Duration::from_secs(5), || async {
            app.audit(&admin, "ancient").await.is_empty()
        })
        .await,
        "the old entry is still there"
    );
    assert!(
        !app.audit(&admin, "register").await.is_empty(),
        "recent entries stay"
    );
}
