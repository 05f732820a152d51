//! Behind a reverse proxy: trusted user header (SSO) and the client address from
//! X-Forwarded-For, both only from `trusted_proxies`.

use serde_json::json;

use crate::helpers::*;

/// Sign-on proxy with local accounts allowed too (the tests register an admin locally).
const SSO: &str = "trusted_header: {header: X-Forwarded-User, email_header: X-Forwarded-Email, allow_local_login: true}\ntrusted_proxies: [127.0.0.1/32]\n";
/// Sign-on proxy with the defaults: no local registration or password login.
const SSO_ONLY: &str =
    "trusted_header: {header: X-Forwarded-User}\ntrusted_proxies: [127.0.0.1/32]\n";

async fn as_proxy(
    app: &TestApp,
    from: &str,
    user: &str,
    email: Option<&str>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut req = TestApp::client_from(from)
        .get(app.url("/api/auth/profile"))
        .header("x-forwarded-user", user);
    if let Some(e) = email {
        req = req.header("x-forwarded-email", e);
    }
    json_of(req.send().await.unwrap()).await
}

#[tokio::test]
async fn trusted_proxy_header_signs_in_and_provisions() {
    let app = spawn_app(&format!("{MULTI}{SSO}")).await;
    let (admin, _) = app.register_id("siteadmin", "siteadmin-password").await;
    let (s, b) = as_proxy(&app, "127.0.0.1", "sso-user", Some("sso@corp.example")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["username"], "sso-user");
    assert_eq!(b["data"]["role"], "user");
    assert_eq!(b["data"]["email"], "sso@corp.example");
    let stored = app
        .store
        .user_by_username("sso-user")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password_hash.is_none(), "no password");
    assert_eq!(app.login("sso-user", "anything-at-all").await.0, 401);
    // Second sight: the same account.
    let (_, again) = as_proxy(&app, "127.0.0.1", "sso-user", None).await;
    assert_eq!(again["data"]["id"], b["data"]["id"]);
    let provisioned = app.audit(&admin, "trusted_header_provision").await;
    assert_eq!(provisioned.len(), 1);
    assert_eq!(provisioned[0]["username"], "sso-user");
}

#[tokio::test]
async fn the_header_from_any_other_address_is_ignored() {
    let app = spawn_app(&format!("{MULTI}{SSO}")).await;
    let (s, b) = as_proxy(&app, "127.0.0.2", "intruder", None).await;
    assert_error(s, &b, 401, "Unauthorized - please login");
    assert!(
        app.store
            .user_by_username("intruder")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn client_address_comes_from_trusted_proxies_only() {
    let app = spawn_app(&format!(
        "{}trusted_proxies: [127.0.0.1/32]\n",
        MULTI.replace("login_rate_limit: 0", "login_rate_limit: 2")
    ))
    .await;
    let attempt = |from: &'static str, xff: &'static str, user: &'static str| {
        let app = &app;
        async move {
            TestApp::client_from(from)
                .post(app.url("/api/auth/login"))
                .header("x-forwarded-for", xff)
                .json(&json!({"username": user, "password": "wrong-password"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Through the proxy, each real client has its own per-IP budget.
    assert_eq!(attempt("127.0.0.1", "198.51.100.1", "a1").await, 401);
    assert_eq!(attempt("127.0.0.1", "198.51.100.1", "a2").await, 401);
    assert_eq!(attempt("127.0.0.1", "198.51.100.1", "a3").await, 429);
    assert_eq!(
        attempt("127.0.0.1", "198.51.100.2", "a4").await,
        401,
        "another client behind the proxy"
    );
    // A client talking directly cannot escape its limit by forging the header.
    assert_eq!(attempt("127.0.0.3", "203.0.113.1", "b1").await, 401);
    assert_eq!(attempt("127.0.0.3", "203.0.113.2", "b2").await, 401);
    assert_eq!(attempt("127.0.0.3", "203.0.113.3", "b3").await, 429);
    // Sessions record the client address the proxy reported.
    app.register_id("viaproxy", "viaproxy-password").await;
    let resp = TestApp::client_from("127.0.0.1")
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "192.0.2.77")
        .json(&json!({"username": "viaproxy", "password": "viaproxy-password"}))
        .send()
        .await
        .unwrap();
    let (_, b) = json_of(resp).await;
    let token = b["data"]["token"].as_str().unwrap().to_owned();
    let (_, sessions) = app
        .call("GET", "/api/auth/sessions", Some(&token), None)
        .await;
    let current = sessions["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["ip"], "192.0.2.77");
}

#[tokio::test]
async fn the_header_never_lands_in_a_password_account_or_default() {
    let app = spawn_app(&format!("{MULTI}{SSO}")).await;
    let (admin, _) = app.register_id("siteadmin", "siteadmin-password").await;
    // A password account: the header naming it is refused, and nothing about it changes.
    let (s, b) = as_proxy(&app, "127.0.0.1", "siteadmin", None).await;
    assert_error(s, &b, 403, "This account cannot sign in through the proxy");
    let (s, b) = as_proxy(&app, "127.0.0.1", "default", None).await;
    assert_error(s, &b, 403, "This account cannot sign in through the proxy");
    // `default` was not created by the header either.
    assert!(
        app.store
            .user_by_username("default")
            .await
            .unwrap()
            .is_none()
    );
    // Proxy accounts are recorded as such, and only they are reachable through the header.
    assert_eq!(as_proxy(&app, "127.0.0.1", "sso-only", None).await.0, 200);
    let stored = app
        .store
        .user_by_username("sso-only")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.is_proxy_account());
    let admin_row = app
        .store
        .user_by_username("siteadmin")
        .await
        .unwrap()
        .unwrap();
    assert!(!admin_row.is_proxy_account());
    assert_eq!(app.profile(Some(&admin)).await.0, 200);
}

#[tokio::test]
async fn local_registration_and_password_login_are_off_unless_allowed() {
    let app = spawn_app(&format!("{MULTI}{SSO_ONLY}")).await;
    // A password account made from the shell (or before the proxy was set up).
    app.store
        .create_user(
            nanoclaw_store::NewUser {
                username: "local".into(),
                password_hash: Some(nanoclaw_core::auth::password::hash("local-password").unwrap()),
                email: None,
                role: "admin".into(),
                auth_source: Default::default(),
            },
            nanoclaw_core::time::now_utc(),
        )
        .await
        .unwrap();
    let (s, b) = app.login("local", "local-password").await;
    assert_error(
        s,
        &b,
        403,
        "Password login is disabled; sign in through the proxy",
    );
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"username": "newbie", "password": "newbie-password"})),
        )
        .await;
    assert_error(
        s,
        &b,
        403,
        "Registration is disabled; sign in through the proxy",
    );
    assert!(
        app.store
            .user_by_username("newbie")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn proxy_accounts_cannot_get_a_local_password() {
    let app = spawn_app(&format!("{MULTI}{SSO}")).await;
    let (admin, _) = app.register_id("siteadmin", "siteadmin-password").await;
    let (_, me) = as_proxy(&app, "127.0.0.1", "sso-user", None).await;
    let id = me["data"]["id"].as_i64().unwrap();
    let (s, b) = json_of(
        TestApp::client_from("127.0.0.1")
            .patch(app.url("/api/auth/profile"))
            .header("x-forwarded-user", "sso-user")
            .json(&json!({"password": "a-local-password"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(
        s,
        &b,
        403,
        "Accounts of the sign-on proxy have no local password",
    );
    let (s, b) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            Some(json!({"password": "a-local-password"})),
        )
        .await;
    assert_error(
        s,
        &b,
        403,
        "Accounts of the sign-on proxy have no local password",
    );
    let (s, b) = app
        .call(
            "POST",
            &format!("/api/admin/users/{id}/reset-token"),
            Some(&admin),
            None,
        )
        .await;
    assert_error(
        s,
        &b,
        403,
        "Accounts of the sign-on proxy have no local password",
    );
    let stored = app
        .store
        .user_by_username("sso-user")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password_hash.is_none());
    assert_eq!(app.login("sso-user", "a-local-password").await.0, 401);
}
