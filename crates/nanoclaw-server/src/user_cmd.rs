//! `nanoclaw user …`: account administration from the shell, through the same account service
//! (policy, last-admin rule, audit log) as the admin API.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use nanoclaw_core::Config;
use nanoclaw_core::time::to_rfc3339_micros;
use serde_json::json;

use crate::accounts::UserPatch;
use crate::app;
use crate::cli::UserCommand;
use crate::http::body::JsonObject;

/// Runs one user command against the configured database.
pub async fn run(config: Config, action: UserCommand) -> anyhow::Result<()> {
    let state = app::build_state(config).await?;
    let accounts = &state.accounts;
    let store = &state.store;
    let find = |name: String| async move {
        store
            .user_by_username(&name)
            .await?
            .with_context(|| format!("no user named {name:?}"))
    };
    match action {
        UserCommand::Add {
            username,
            email,
            role,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let mut body = json!({ "username": username, "password": password, "role": role });
            if let Some(e) = email {
                body["email"] = json!(e);
            }
            let body = JsonObject::parse(body.to_string().as_bytes())?;
            let user = accounts.admin_create_user(None, &body, None).await?;
            println!(
                "created user {} (id {}, role {})",
                user.username, user.id, user.role
            );
        }
        UserCommand::List => {
            println!(
                "{:>6}  {:<24} {:<6} {:<8} {:<28} {:<28}",
                "id", "username", "role", "active", "email", "last login"
            );
            for u in store.all_users().await? {
                println!(
                    "{:>6}  {:<24} {:<6} {:<8} {:<28} {:<28}",
                    u.id,
                    u.username,
                    u.role,
                    if u.is_active { "yes" } else { "no" },
                    u.email.as_deref().unwrap_or("-"),
                    u.last_login_at
                        .as_ref()
                        .map_or("-".into(), to_rfc3339_micros),
                );
            }
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let user = find(username).await?;
            let password = read_password(password_stdin)?;
            let patch = UserPatch {
                password: Some(password),
                ..UserPatch::default()
            };
            accounts
                .admin_update_user(None, user.id, patch, None)
                .await?;
            println!(
                "password of {} changed; their sessions and API keys were ended",
                user.username
            );
        }
        UserCommand::SetRole { username, role } => {
            if role != "admin" && role != "user" {
                bail!("role must be 'admin' or 'user'");
            }
            let user = find(username).await?;
            let patch = UserPatch {
                role: Some(role.clone()),
                ..UserPatch::default()
            };
            accounts
                .admin_update_user(None, user.id, patch, None)
                .await?;
            println!("{} is now {role}", user.username);
        }
        UserCommand::Disable { username } => {
            let user = find(username).await?;
            let patch = UserPatch {
                is_active: Some(false),
                ..UserPatch::default()
            };
            accounts
                .admin_update_user(None, user.id, patch, None)
                .await?;
            println!("{} is disabled", user.username);
        }
        UserCommand::Enable { username } => {
            let user = find(username).await?;
            let patch = UserPatch {
                is_active: Some(true),
                ..UserPatch::default()
            };
            accounts
                .admin_update_user(None, user.id, patch, None)
                .await?;
            println!("{} is enabled", user.username);
        }
        UserCommand::Delete { username, yes } => {
            let user = find(username).await?;
            if !yes
                && !confirm(&format!(
                    "Delete {} and all their data? [y/N] ",
                    user.username
                ))?
            {
                bail!("not deleted");
            }
            accounts.admin_delete_user(None, user.id, None).await?;
            println!("deleted {}", user.username);
        }
        UserCommand::Rename {
            username,
            new_username,
        } => {
            let user = find(username).await?;
            let new_username = new_username.trim().to_owned();
            let len = new_username.chars().count();
            if !(2..=50).contains(&len) || new_username.chars().any(char::is_control) {
                bail!("Username must be 2-50 characters");
            }
            let patch = UserPatch {
                username: Some(new_username.clone()),
                ..UserPatch::default()
            };
            accounts
                .admin_update_user(None, user.id, patch, None)
                .await?;
            println!("{} is now {new_username}", user.username);
        }
    }
    state.store.clone().close().await;
    Ok(())
}

/// The new password: first line of stdin, or typed twice at a terminal prompt.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the password: use --password-stdin");
    }
    let first = rpassword::prompt_password("New password: ").context("cannot read the password")?;
    let second = rpassword::prompt_password("Repeat it: ").context("cannot read the password")?;
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(first)
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to delete without --yes when not at a terminal");
    }
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
