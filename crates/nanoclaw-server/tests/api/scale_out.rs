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
    let client = reqwest::Client::new();

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
