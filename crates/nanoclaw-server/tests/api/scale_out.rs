//! Two `nanoclaw serve` processes on one database (the scale-out deployment): tokens, password
//! changes, disables and registrations seen consistently by both.

use std::process::Child;
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

struct Proc {
    child: Child,
    base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts two server processes at once on the same fresh database (their migrations race).
async fn two_servers(dir: &std::path::Path) -> (Proc, Proc) {
    let mut config = String::from(
        "auth_mode: multi\njwt_secret: scale-out-shared-secret-0123456789abcdef\nlogin_rate_limit: 0\npassword_min_score: 0\nbackend_port: 0\n",
    );
    if let Some(url) = test_database_url(dir).await {
        config.push_str(&format!("database_url: '{url}'\n"));
    }
    std::fs::write(dir.join("config.yml"), config).unwrap();
    let (a, rx_a) = start_binary(dir, &["serve"]);
    let (b, rx_b) = start_binary(dir, &["serve"]);
    let addr_a = listening_addr(&wait_for_line(&rx_a, "listening on"));
    let addr_b = listening_addr(&wait_for_line(&rx_b, "listening on"));
    (
        Proc {
            child: a,
            base: format!("http://{addr_a}"),
        },
        Proc {
            child: b,
            base: format!("http://{addr_b}"),
        },
    )
}

async fn profile_status(client: &reqwest::Client, base: &str, token: &str) -> u16 {
    client
        .get(format!("{base}/api/auth/profile"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn two_processes_on_one_database_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(dir.path()).await;
    let client = http_client();

    // A token from one process works on the other.
    let resp = client
        .post(format!("{}/api/auth/register", a.base))
        .json(&json!({"username": "shared", "password": "shared-password"}))
        .send()
        .await
        .unwrap();
    let (s, body) = json_of(resp).await;
    assert_eq!(s, 200, "{body}");
    let token = body["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(profile_status(&client, &b.base, &token).await, 200);

    // The same username on both at once: one success, one 409.
    let register = |base: String| {
        let client = client.clone();
        async move {
            json_of(
                client
                    .post(format!("{base}/api/auth/register"))
                    .json(&json!({"username": "both", "password": "both-password"}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (ra, rb) = tokio::join!(register(a.base.clone()), register(b.base.clone()));
    let mut statuses = [ra.0.as_u16(), rb.0.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{ra:?} {rb:?}");

    // A password change on A ends the user's other sessions at once on A and within a second
    // on B.
    let resp = client
        .post(format!("{}/api/auth/login", b.base))
        .json(&json!({"username": "shared", "password": "shared-password"}))
        .send()
        .await
        .unwrap();
    let (_, body) = json_of(resp).await;
    let other = body["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(profile_status(&client, &a.base, &other).await, 200);
    let resp = client
        .patch(format!("{}/api/auth/profile", a.base))
        .bearer_auth(&token)
        .json(&json!({"password": "shared-new-password", "current_password": "shared-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(profile_status(&client, &a.base, &other).await, 401);
    assert!(
        rejected_within(Duration::from_secs(1), &client, &b.base, &other).await,
        "B still accepts the ended session's token after 1 s"
    );

    // Disabling the account (e.g. from the CLI, writing to the database) reaches both.
    let resp = client
        .post(format!("{}/api/auth/login", b.base))
        .json(&json!({"username": "shared", "password": "shared-new-password"}))
        .send()
        .await
        .unwrap();
    let (_, body) = json_of(resp).await;
    let fresh = body["data"]["token"].as_str().unwrap().to_owned();
    let store = open_store(dir.path()).await;
    let id = store.user_by_username("shared").await.unwrap().unwrap().id;
    assert!(store.set_user_active(id, false).await.unwrap());
    for base in [&a.base, &b.base] {
        assert!(
            rejected_within(Duration::from_secs(1), &client, base, &fresh).await,
            "{base} still accepts a disabled user's token after 1 s"
        );
    }
}

/// A store on the same database the processes in `dir` use.
async fn open_store(dir: &std::path::Path) -> nanoclaw_store::Store {
    let config = load_config(
        dir,
        &std::fs::read_to_string(dir.join("config.yml")).unwrap(),
    );
    nanoclaw_store::Store::connect(&config.database_target())
        .await
        .unwrap()
}

async fn rejected_within(
    limit: Duration,
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> bool {
    eventually(limit, || async move {
        profile_status(client, base, token).await == 401
    })
    .await
}

#[tokio::test]
async fn session_end_key_revocation_and_disable_reach_the_other_process() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(dir.path()).await;
    let client = http_client();
    let call =
        |base: &str, method: &str, path: &str, token: Option<&str>, body: serde_json::Value| {
            let mut req = client
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            async move { json_of(req.send().await.unwrap()).await }
        };
    let (_, admin) = call(
        &a.base,
        "POST",
        "/api/auth/register",
        None,
        json!({"username": "boss", "password": "boss-password"}),
    )
    .await;
    let admin = admin["data"]["token"].as_str().unwrap().to_owned();
    let (_, user) = call(
        &a.base,
        "POST",
        "/api/auth/register",
        None,
        json!({"username": "member", "password": "member-password"}),
    )
    .await;
    let user_id = user["data"]["user"]["id"].as_i64().unwrap();
    let user = user["data"]["token"].as_str().unwrap().to_owned();

    // A session ended on A stops working on B.
    let (_, second) = call(
        &b.base,
        "POST",
        "/api/auth/login",
        None,
        json!({"username": "member", "password": "member-password"}),
    )
    .await;
    let second = second["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(profile_status(&client, &b.base, &second).await, 200);
    let (s, _) = call(
        &a.base,
        "POST",
        "/api/auth/logout",
        Some(&second),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        rejected_within(Duration::from_secs(1), &client, &b.base, &second).await,
        "ended session still works on B"
    );

    // A key revoked on A stops working on B.
    let (_, key) = call(
        &b.base,
        "POST",
        "/api/auth/api-keys",
        Some(&user),
        json!({"name": "k", "current_password": "member-password"}),
    )
    .await;
    let (key_id, key) = (
        key["data"]["id"].as_str().unwrap().to_owned(),
        key["data"]["key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(profile_status(&client, &b.base, &key).await, 200);
    let (s, _) = call(
        &a.base,
        "DELETE",
        &format!("/api/auth/api-keys/{key_id}"),
        Some(&user),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        rejected_within(Duration::from_secs(1), &client, &b.base, &key).await,
        "revoked key still works on B"
    );

    // A user disabled through the admin API on A is locked out on B.
    let (s, _) = call(
        &a.base,
        "PATCH",
        &format!("/api/admin/users/{user_id}"),
        Some(&admin),
        json!({"is_active": false}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(profile_status(&client, &a.base, &user).await, 401);
    assert!(
        rejected_within(Duration::from_secs(1), &client, &b.base, &user).await,
        "disabled user still works on B"
    );
}
