//! Projects on a real database: SQLite by default, PostgreSQL or MySQL/MariaDB when
//! `NANOCLAW_TEST_DATABASE_URL` names a server (a throw-away database per test).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use chrono::NaiveDateTime;
use nanoclaw_core::chat::{NewConversation, role};
use nanoclaw_core::project::{NewProject, ProjectName, ProjectPatch};
use nanoclaw_store::{StoreError, UniqueField};

mod common;

use common::{TestDb, t};

impl TestDb {
    async fn project(&self, user: i64, name: &str, at: NaiveDateTime) -> String {
        self.store
            .create_project(new_project(user, name), at)
            .await
            .unwrap()
            .id
    }

    async fn conversation(&self, user: i64, project: Option<&str>) -> String {
        let new = NewConversation {
            user_id: user,
            project_id: project.map(str::to_owned),
            title: String::new(),
            model: "m".into(),
            system_prompt: String::new(),
            temperature: 1.0,
            max_tokens: 1024,
            thinking_enabled: false,
        };
        self.store.create_conversation(new, t(0)).await.unwrap().id
    }
}

fn name(n: &str) -> ProjectName {
    ProjectName::parse(n).unwrap()
}

fn new_project(user: i64, n: &str) -> NewProject {
    NewProject {
        user_id: user,
        name: name(n),
        path: format!("user_{user}/{}", uuid_like(n)),
        description: "about".into(),
    }
}

/// A folder name that does not come from the label (as the server does it).
fn uuid_like(n: &str) -> String {
    format!(
        "{:016x}",
        n.len() as u64 * 7919 + rand::random::<u32>() as u64
    )
}

#[tokio::test]
async fn create_read_and_names_unique_per_user() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let bob = db.user("bob").await;
    let created = db
        .store
        .create_project(new_project(alice, "Algo Lab"), t(5))
        .await
        .unwrap();
    assert_eq!(created.id.len(), 36);
    assert_eq!(created.name, "Algo Lab");
    assert_eq!(created.description, "about");
    assert_eq!((created.created_at, created.updated_at), (t(5), t(5)));
    assert_eq!(created.conversation_count, Some(0));

    let read = db.store.project(alice, &created.id).await.unwrap().unwrap();
    assert_eq!(read, created);
    // Another user's id reads as nothing.
    assert!(db.store.project(bob, &created.id).await.unwrap().is_none());
    assert!(db.store.project(alice, "nope").await.unwrap().is_none());

    assert!(
        db.store
            .project_name_taken(alice, "Algo Lab")
            .await
            .unwrap()
    );
    assert!(!db.store.project_name_taken(bob, "Algo Lab").await.unwrap());
    let again = db
        .store
        .create_project(new_project(alice, "Algo Lab"), t(6))
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict(UniqueField::ProjectName))),
        "{again:?}"
    );
    // The same name is fine for someone else.
    db.project(bob, "Algo Lab", t(6)).await;

    // Counts follow the conversations bound to it.
    db.conversation(alice, Some(&created.id)).await;
    db.conversation(alice, Some(&created.id)).await;
    db.conversation(alice, None).await;
    let read = db.store.project(alice, &created.id).await.unwrap().unwrap();
    assert_eq!(read.conversation_count, Some(2));
    db.finish().await;
}

#[tokio::test]
async fn project_pages_neither_repeat_nor_skip() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let bob = db.user("bob").await;
    // Seven projects, several sharing a timestamp (MySQL's whole seconds in nanoClaw's
    // databases), plus one of another user in between.
    let mut ids = Vec::new();
    for (i, secs) in [0, 1, 1, 1, 2, 3, 3].iter().enumerate() {
        ids.push(db.project(alice, &format!("p{i}"), t(*secs)).await);
    }
    db.project(bob, "bobs", t(2)).await;
    // A nanoClaw row without timestamps sorts as the oldest rather than vanishing.
    db.exec(&format!(
        "INSERT INTO projects (id, user_id, name, path) VALUES ('legacy', {alice}, 'old', 'user_{alice}/old')"
    ))
    .await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, total) = db
            .store
            .projects_page(alice, cursor.as_deref(), 3)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(total, 8);
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|p| (p.updated_at, p.id.clone())));
        if !page.has_more {
            assert!(page.next_cursor.is_none());
            break;
        }
        assert_eq!(page.next_cursor.as_ref(), page.items.last().map(|p| &p.id));
        cursor = page.next_cursor;
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
    let unique: HashSet<_> = seen.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(unique.len(), 8);
    // Newest first, ties by id descending.
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted);
    assert_eq!(seen.last().unwrap().1, "legacy");

    // A cursor that is not one of the caller's projects is refused, not a restart.
    let bobs = db
        .store
        .projects_page(bob, None, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((bobs.0.items.len(), bobs.1), (1, 1));
    assert!(
        db.store
            .projects_page(bob, Some(&ids[0]), 10)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.store
            .projects_page(alice, Some("nope"), 10)
            .await
            .unwrap()
            .is_none()
    );
    db.finish().await;
}

#[tokio::test]
async fn update_changes_only_what_is_given() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let bob = db.user("bob").await;
    let id = db.project(alice, "one", t(0)).await;
    db.project(alice, "two", t(0)).await;
    let path = db.store.project(alice, &id).await.unwrap().unwrap().path;

    // Nothing changed: updated_at stays.
    let same = ProjectPatch {
        name: Some(name("one")),
        description: Some("about".into()),
    };
    let p = db
        .store
        .update_project(alice, &id, same, t(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.updated_at, t(0));

    let patch = ProjectPatch {
        name: Some(name("uno")),
        description: None,
    };
    let p = db
        .store
        .update_project(alice, &id, patch, t(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.name.as_str(), p.description.as_str()), ("uno", "about"));
    assert_eq!((p.updated_at, p.created_at), (t(20), t(0)));
    // The folder never follows the name.
    assert_eq!(p.path, path);

    let patch = ProjectPatch {
        name: None,
        description: Some(String::new()),
    };
    let p = db
        .store
        .update_project(alice, &id, patch, t(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.name.as_str(), p.description.as_str()), ("uno", ""));

    // A name the owner already uses is a named conflict, and nothing changes.
    let clash = ProjectPatch {
        name: Some(name("two")),
        description: Some("changed".into()),
    };
    let r = db.store.update_project(alice, &id, clash, t(40)).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(UniqueField::ProjectName))),
        "{r:?}"
    );
    let p = db.store.project(alice, &id).await.unwrap().unwrap();
    assert_eq!((p.name.as_str(), p.updated_at), ("uno", t(30)));

    // Someone else's project cannot be changed.
    let theirs = ProjectPatch {
        name: Some(name("mine")),
        description: None,
    };
    assert!(
        db.store
            .update_project(bob, &id, theirs, t(50))
            .await
            .unwrap()
            .is_none()
    );
    db.finish().await;
}

#[tokio::test]
async fn deleting_a_project_takes_its_conversations_messages_and_locks() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let bob = db.user("bob").await;
    let doomed = db.project(alice, "doomed", t(0)).await;
    let kept = db.project(alice, "kept", t(0)).await;
    let in_doomed = db.conversation(alice, Some(&doomed)).await;
    let in_kept = db.conversation(alice, Some(&kept)).await;
    let unbound = db.conversation(alice, None).await;
    // A nanoClaw database may hold another user's conversation naming this project.
    let foreign = db.conversation(bob, None).await;
    db.exec(&format!(
        "UPDATE conversations SET project_id = '{doomed}' WHERE id = '{foreign}'"
    ))
    .await;
    for c in [&in_doomed, &in_kept, &unbound, &foreign] {
        for i in 0..2 {
            db.store
                .insert_message(c, role::USER, "{}".into(), 0, t(i))
                .await
                .unwrap();
        }
        assert!(
            db.store
                .try_lock_stream(c, "h", t(0), Duration::from_secs(60))
                .await
                .unwrap()
        );
    }

    // Not the owner: nothing happens.
    assert!(!db.store.delete_project(bob, &doomed).await.unwrap());
    assert!(db.store.project(alice, &doomed).await.unwrap().is_some());

    assert!(db.store.delete_project(alice, &doomed).await.unwrap());
    assert!(!db.store.delete_project(alice, &doomed).await.unwrap());
    assert!(db.store.project(alice, &doomed).await.unwrap().is_none());
    assert!(
        db.store
            .conversation(alice, &in_doomed)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.int(&format!(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = '{in_doomed}'"
        ))
        .await,
        0
    );
    assert_eq!(
        db.int(&format!(
            "SELECT COUNT(*) FROM conversation_streams WHERE conversation_id = '{in_doomed}'"
        ))
        .await,
        0
    );
    // The rest is untouched; the foreign conversation is unbound, not deleted.
    for c in [&in_kept, &unbound, &foreign] {
        assert_eq!(db.store.conversation_history(c).await.unwrap().len(), 2);
    }
    let foreign = db.store.conversation(bob, &foreign).await.unwrap().unwrap();
    assert_eq!(foreign.project_id, None);
    let kept_conv = db
        .store
        .conversation(alice, &in_kept)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept_conv.project_id.as_deref(), Some(kept.as_str()));
    assert_eq!(db.int("SELECT COUNT(*) FROM conversation_streams").await, 3);
    db.finish().await;
}
