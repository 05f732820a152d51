//! Conversations, messages, token usage and the stream lock on a real database: SQLite by
//! default, PostgreSQL or MySQL/MariaDB when `NANOCLAW_TEST_DATABASE_URL` names a server (a
//! throw-away database is created per test and dropped after it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use nanoclaw_core::chat::{
    ConversationPatch, Message, NewConversation, StatsPeriod, TokenCounts, UsageDelta, role,
};

mod common;

use common::{TestDb, t};
use nanoclaw_store::MessagesPage;

impl TestDb {
    /// A project inserted by hand (its repository belongs to another module).
    async fn project(&self, id: &str, user: i64, name: &str) {
        self.exec(&format!(
            "INSERT INTO projects (id, user_id, name, path, description, created_at, updated_at) \
             VALUES ('{id}', {user}, '{name}', 'user_{user}/{name}', '', '2026-12-01 10:00:00', '2026-12-01 10:00:00')"
        ))
        .await;
    }

    async fn conversation(&self, user: i64, project: Option<&str>, at: NaiveDateTime) -> String {
        self.store
            .create_conversation(new_conversation(user, project), at)
            .await
            .unwrap()
            .id
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn new_conversation(user: i64, project: Option<&str>) -> NewConversation {
    NewConversation {
        user_id: user,
        project_id: project.map(str::to_owned),
        title: "新对话".into(),
        model: "deepseek-chat".into(),
        system_prompt: String::new(),
        temperature: 1.0,
        max_tokens: 65536,
        thinking_enabled: false,
    }
}

#[tokio::test]
async fn conversation_pages_neither_repeat_nor_skip() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let bob = db.user("bob").await;
    db.project("p-alice", alice, "AlgoLab").await;
    // 23 conversations in groups of identical timestamps (5, 5, 5, 5, 3), some in a project.
    let mut expected = Vec::new();
    for i in 0..23 {
        let project = (i % 3 == 0).then_some("p-alice");
        let id = db.conversation(alice, project, t(i / 5)).await;
        expected.push((t(i / 5), id, project.is_some()));
    }
    let bobs = db.conversation(bob, None, t(100)).await;
    let first = expected[0].1.clone();
    for (i, r) in ["user", "assistant", "user"].iter().enumerate() {
        db.store
            .insert_message(&first, r, "{}".into(), 0, t(200 + i as i64))
            .await
            .unwrap();
    }
    expected.sort_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));

    for limit in [1, 4, 5, 22, 23, 100] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = db
                .store
                .conversations_page(alice, None, cursor.as_deref(), limit)
                .await
                .unwrap()
                .unwrap();
            assert!(page.items.len() as u64 <= limit);
            seen.extend(page.items.iter().map(|c| c.id.clone()));
            assert_eq!(page.has_more, page.next_cursor.is_some());
            if !page.has_more {
                break;
            }
            assert_eq!(page.next_cursor.as_ref(), seen.last());
            cursor = page.next_cursor;
        }
        let want: Vec<_> = expected.iter().map(|e| e.1.clone()).collect();
        assert_eq!(seen, want, "limit {limit}");
    }

    // Counts and project names come with the page.
    let page = db
        .store
        .conversations_page(alice, None, None, 100)
        .await
        .unwrap()
        .unwrap();
    for c in &page.items {
        let count = if c.id == *first { 3 } else { 0 };
        assert_eq!(c.message_count, Some(count));
        assert_eq!(
            c.project_name.as_deref(),
            c.project_id.as_ref().map(|_| "AlgoLab")
        );
        assert_eq!(c.user_id, alice);
    }

    // The project filter pages the same way.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = db
            .store
            .conversations_page(alice, Some("p-alice"), cursor.as_deref(), 2)
            .await
            .unwrap()
            .unwrap();
        seen.extend(page.items.into_iter().map(|c| c.id));
        if !page.has_more {
            break;
        }
        cursor = page.next_cursor;
    }
    let want: Vec<_> = expected
        .iter()
        .filter(|e| e.2)
        .map(|e| e.1.clone())
        .collect();
    assert_eq!(seen, want);

    // A cursor that is not one of the caller's conversations is refused, not a restart.
    for bad in [bobs.as_str(), "no-such-id"] {
        assert!(
            db.store
                .conversations_page(alice, None, Some(bad), 5)
                .await
                .unwrap()
                .is_none()
        );
    }
    // The oldest conversation as the cursor: a valid, empty page.
    let oldest = expected.last().map(|e| e.1.clone()).unwrap();
    let after_all = db
        .store
        .conversations_page(alice, None, Some(&oldest), 5)
        .await
        .unwrap()
        .unwrap();
    assert!(after_all.items.is_empty() && !after_all.has_more);
    let bob_page = db
        .store
        .conversations_page(bob, None, None, 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob_page.items.len(), 1);
    db.finish().await;
}

#[tokio::test]
async fn message_pages_start_with_the_newest() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let conv = db.conversation(alice, None, t(0)).await;
    let other = db.conversation(alice, None, t(0)).await;
    let foreign = db
        .store
        .insert_message(&other, role::USER, "{}".into(), 0, t(0))
        .await
        .unwrap();
    // 23 messages, several sharing a timestamp; the order is (created_at, id).
    let mut all: Vec<Message> = Vec::new();
    for i in 0..23 {
        let r = if i % 2 == 0 {
            role::USER
        } else {
            role::ASSISTANT
        };
        let m = db
            .store
            .insert_message(&conv, r, format!(r#"{{"text":"{i}"}}"#), i, t(i / 4))
            .await
            .unwrap();
        all.push(m);
    }
    all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));

    for limit in [1, 5, 8, 23, 50] {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let MessagesPage::Page(page) = db
                .store
                .messages_page(alice, &conv, cursor.as_deref(), limit)
                .await
                .unwrap()
            else {
                panic!("a page")
            };
            assert!(
                page.items
                    .windows(2)
                    .all(|w| (w[0].created_at, &w[0].id) < (w[1].created_at, &w[1].id)),
                "each page is in chronological order"
            );
            if page.has_more {
                assert_eq!(page.next_cursor.as_ref(), page.items.first().map(|m| &m.id));
            } else {
                assert!(page.next_cursor.is_none());
            }
            let more = page.has_more;
            cursor = page.next_cursor.clone();
            pages.push(page.items);
            if !more {
                break;
            }
        }
        // The first page is the newest messages; each next one is just above it.
        let n = (limit as usize).min(all.len());
        assert_eq!(pages[0], all[all.len() - n..].to_vec(), "limit {limit}");
        let stitched: Vec<Message> = pages.into_iter().rev().flatten().collect();
        assert_eq!(stitched, all, "limit {limit}");
    }

    // A cursor from another conversation, or none at all, is refused.
    for bad in [foreign.id.as_str(), "no-such-id"] {
        assert!(matches!(
            db.store
                .messages_page(alice, &conv, Some(bad), 5)
                .await
                .unwrap(),
            MessagesPage::UnknownCursor
        ));
    }
    // Someone else's conversation is not found, with or without a cursor, and however its
    // id is guessed; so is a conversation that does not exist.
    let bob = db.user("bob").await;
    let newest = all.last().map(|m| m.id.clone()).unwrap();
    for (user, id, cursor) in [
        (bob, conv.as_str(), None),
        (bob, conv.as_str(), Some(newest.as_str())),
        (alice, "no-such-conversation", None),
    ] {
        assert!(matches!(
            db.store.messages_page(user, id, cursor, 5).await.unwrap(),
            MessagesPage::NoConversation
        ));
    }
    // The oldest message as the cursor: a valid, empty page.
    let oldest = all.first().map(|m| m.id.clone()).unwrap();
    let MessagesPage::Page(before_all) = db
        .store
        .messages_page(alice, &conv, Some(&oldest), 5)
        .await
        .unwrap()
    else {
        panic!("an empty page")
    };
    assert!(before_all.items.is_empty() && !before_all.has_more);
    let MessagesPage::Page(empty) = db
        .store
        .messages_page(alice, &db.conversation(alice, None, t(0)).await, None, 5)
        .await
        .unwrap()
    else {
        panic!("an empty page")
    };
    assert!(empty.items.is_empty() && !empty.has_more);
    db.finish().await;
}

#[tokio::test]
async fn conversations_belong_to_their_owner() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let bob = db.user("bob").await;
    db.project("p-alice", alice, "A").await;
    let conv = db.conversation(alice, Some("p-alice"), t(0)).await;

    let got = db.store.conversation(alice, &conv).await.unwrap().unwrap();
    assert_eq!(got.project_name.as_deref(), Some("A"));
    assert_eq!(got.message_count, None);
    assert_eq!(got.created_at, t(0));

    assert!(db.store.conversation(bob, &conv).await.unwrap().is_none());
    assert!(
        db.store
            .conversation(alice, "nope")
            .await
            .unwrap()
            .is_none()
    );
    let patch = ConversationPatch {
        title: Some("stolen".into()),
        ..Default::default()
    };
    assert!(
        db.store
            .patch_conversation(bob, &conv, patch, t(5))
            .await
            .unwrap()
            .is_none()
    );
    assert!(!db.store.delete_conversation(bob, &conv).await.unwrap());
    assert_eq!(
        db.store
            .conversation(alice, &conv)
            .await
            .unwrap()
            .unwrap()
            .title,
        "新对话"
    );

    assert!(db.store.project_owned(alice, "p-alice").await.unwrap());
    assert!(!db.store.project_owned(bob, "p-alice").await.unwrap());
    assert!(!db.store.project_owned(alice, "nope").await.unwrap());
    assert_eq!(
        db.store.project_name("p-alice").await.unwrap().as_deref(),
        Some("A")
    );
    db.finish().await;
}

#[tokio::test]
async fn patch_changes_only_the_given_fields() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    db.project("p1", alice, "One").await;
    let conv = db.conversation(alice, None, t(0)).await;

    let c = db
        .store
        .patch_conversation(
            alice,
            &conv,
            ConversationPatch {
                title: Some("Hello".into()),
                temperature: Some(0.5),
                project_id: Some(Some("p1".into())),
                ..Default::default()
            },
            t(10),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.title, "Hello");
    assert_eq!(c.temperature, 0.5);
    assert_eq!(c.project_id.as_deref(), Some("p1"));
    assert_eq!(c.project_name.as_deref(), Some("One"));
    assert_eq!(c.model, "deepseek-chat");
    assert_eq!(c.max_tokens, 65536);
    assert_eq!(c.updated_at, t(10));
    assert_eq!(c.created_at, t(0));

    // The frontend's autosave sends the whole unchanged form: nothing moves.
    let same = ConversationPatch {
        title: Some("Hello".into()),
        model: Some("deepseek-chat".into()),
        system_prompt: Some(String::new()),
        temperature: Some(0.5),
        max_tokens: Some(65536),
        thinking_enabled: Some(false),
        project_id: Some(Some("p1".into())),
    };
    let c = db
        .store
        .patch_conversation(alice, &conv, same, t(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.updated_at, t(10));

    let c = db
        .store
        .patch_conversation(
            alice,
            &conv,
            ConversationPatch {
                system_prompt: Some("SYS".into()),
                max_tokens: Some(1000),
                thinking_enabled: Some(true),
                model: Some("glm-5".into()),
                project_id: Some(None),
                ..Default::default()
            },
            t(30),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.system_prompt.as_deref(), Some("SYS"));
    assert_eq!((c.max_tokens, c.thinking_enabled), (1000, true));
    assert_eq!(c.model, "glm-5");
    assert_eq!((c.project_id, c.project_name), (None, None));
    assert_eq!(c.title, "Hello");
    assert_eq!(c.updated_at, t(30));

    db.finish().await;
}

#[tokio::test]
async fn deleting_a_conversation_takes_its_messages_and_lock() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let conv = db.conversation(alice, None, t(0)).await;
    let keep = db.conversation(alice, None, t(0)).await;
    for c in [&conv, &keep] {
        for i in 0..3 {
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
    assert!(db.store.delete_conversation(alice, &conv).await.unwrap());
    assert!(!db.store.delete_conversation(alice, &conv).await.unwrap());
    assert!(db.store.conversation(alice, &conv).await.unwrap().is_none());
    assert_eq!(
        db.int(&format!(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = '{conv}'"
        ))
        .await,
        0
    );
    assert_eq!(db.int("SELECT COUNT(*) FROM conversation_streams").await, 1);
    assert_eq!(db.store.conversation_history(&keep).await.unwrap().len(), 3);

    // Deleting the user takes the rest, stream locks included.
    assert!(db.store.delete_user(alice).await.unwrap());
    for table in ["messages", "conversations", "conversation_streams"] {
        assert_eq!(
            db.int(&format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    db.finish().await;
}

#[tokio::test]
async fn regenerate_deletes_the_answer_and_everything_after_it() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let conv = db.conversation(alice, None, t(0)).await;
    let other = db.conversation(alice, None, t(0)).await;
    let foreign = db
        .store
        .insert_message(&other, role::ASSISTANT, "{}".into(), 0, t(2))
        .await
        .unwrap();
    // Six messages; the 3rd to 5th share a timestamp, so (created_at, id) decides.
    let mut all = Vec::new();
    for (i, at) in [0, 1, 2, 2, 2, 3].into_iter().enumerate() {
        let r = if i % 2 == 0 {
            role::USER
        } else {
            role::ASSISTANT
        };
        all.push(
            db.store
                .insert_message(&conv, r, "{}".into(), 0, t(at))
                .await
                .unwrap(),
        );
    }
    // A tool row is stored but never part of the model's history.
    db.store
        .insert_message(&conv, role::TOOL, "{}".into(), 0, t(4))
        .await
        .unwrap();
    all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let history = db.store.conversation_history(&conv).await.unwrap();
    assert_eq!(history, all);

    // Nothing happens for a message of another conversation or an unknown id.
    assert_eq!(
        db.store
            .delete_messages_from(&conv, &foreign.id)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        db.store.delete_messages_from(&conv, "nope").await.unwrap(),
        0
    );

    let from = all[3].clone();
    let deleted = db
        .store
        .delete_messages_from(&conv, &from.id)
        .await
        .unwrap();
    assert_eq!(deleted, 4, "messages 4 to 6 and the tool row");
    assert_eq!(
        db.store.conversation_history(&conv).await.unwrap(),
        all[..3].to_vec()
    );
    assert!(
        db.store
            .message(&other, &foreign.id)
            .await
            .unwrap()
            .is_some()
    );

    // Single deletes stay inside their conversation.
    assert!(!db.store.delete_message(&conv, &foreign.id).await.unwrap());
    assert!(db.store.delete_message(&conv, &all[0].id).await.unwrap());
    assert!(db.store.message(&conv, &all[0].id).await.unwrap().is_none());
    assert!(db.store.message(&conv, &all[1].id).await.unwrap().is_some());
    db.finish().await;
}

#[tokio::test]
async fn concurrent_usage_adds_up() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let today = day("2026-12-01");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .add_usage(
                    alice,
                    today,
                    "m1",
                    UsageDelta {
                        prompt: 100 + i,
                        completion: 1,
                    },
                    t(0),
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let rows = db.store.usage_rows(alice, today, today).await.unwrap();
    assert_eq!(rows.len(), 1);
    let prompt: i64 = (0..20).map(|i| 100 + i).sum();
    assert_eq!(
        rows[0].tokens,
        TokenCounts {
            prompt,
            completion: 20,
            total: prompt + 20
        }
    );
    db.finish().await;
}

#[tokio::test]
async fn token_stats_follow_the_spec() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let bob = db.user("bob").await;
    let today = day("2026-12-01");
    let add = |user, date: &str, model: &'static str, prompt, completion| {
        let store = db.store.clone();
        let date = day(date);
        async move {
            store
                .add_usage(user, date, model, UsageDelta { prompt, completion }, t(0))
                .await
                .unwrap()
        }
    };
    add(alice, "2026-12-01", "a", 30, 11).await;
    add(alice, "2026-12-01", "a", 10, 4).await;
    add(alice, "2026-12-01", "b", 5, 5).await;
    add(alice, "2026-11-25", "a", 7, 3).await; // 6 days ago: in the week
    add(alice, "2026-11-24", "b", 100, 100).await; // 7 days ago: only in the month
    add(alice, "2026-11-01", "a", 1000, 1000).await; // 30 days ago: in no period
    add(bob, "2026-12-01", "a", 999, 999).await;

    // Hourly: today's assistant messages of alice's conversations, by UTC hour.
    let conv = db.conversation(alice, None, t(0)).await;
    let gone = db.conversation(alice, None, t(0)).await;
    let bobs = db.conversation(bob, None, t(0)).await;
    let at = |h, m| day("2026-12-01").and_hms_opt(h, m, 0).unwrap();
    for (c, r, tokens, when) in [
        (&conv, role::ASSISTANT, 11, at(2, 5)),
        (&conv, role::ASSISTANT, 4, at(2, 59)),
        (&conv, role::USER, 50, at(3, 0)),
        (&conv, role::ASSISTANT, 5, at(23, 59)),
        (&conv, role::ASSISTANT, 70, at(0, 0) - TimeDelta::seconds(1)), // yesterday
        (&gone, role::ASSISTANT, 80, at(5, 0)),
        (&bobs, role::ASSISTANT, 90, at(6, 0)),
    ] {
        db.store
            .insert_message(c, r, "{}".into(), tokens, when)
            .await
            .unwrap();
    }
    assert!(db.store.delete_conversation(alice, &gone).await.unwrap());

    let daily = db
        .store
        .token_stats(alice, StatsPeriod::Daily, today)
        .await
        .unwrap();
    assert_eq!((daily.start_date, daily.end_date), (today, today));
    assert_eq!(
        daily.totals,
        TokenCounts {
            prompt: 45,
            completion: 20,
            total: 65
        }
    );
    assert_eq!(
        daily.by_model,
        BTreeMap::from([
            (
                "a".to_owned(),
                TokenCounts {
                    prompt: 40,
                    completion: 15,
                    total: 55
                }
            ),
            (
                "b".to_owned(),
                TokenCounts {
                    prompt: 5,
                    completion: 5,
                    total: 10
                }
            ),
        ])
    );
    assert_eq!(daily.hourly, BTreeMap::from([(2, 15), (23, 5)]));
    assert!(daily.daily.is_empty());

    let weekly = db
        .store
        .token_stats(alice, StatsPeriod::Weekly, today)
        .await
        .unwrap();
    assert_eq!(weekly.start_date, day("2026-11-25"));
    assert_eq!(weekly.daily.len(), 7);
    assert_eq!(weekly.totals.total, 65 + 10);
    assert_eq!(weekly.daily[&day("2026-11-25")].total, 10);
    assert_eq!(weekly.daily[&day("2026-11-26")], TokenCounts::default());
    assert_eq!(weekly.by_model["a"].total, 65);
    assert!(weekly.hourly.is_empty());

    let monthly = db
        .store
        .token_stats(alice, StatsPeriod::Monthly, today)
        .await
        .unwrap();
    assert_eq!(monthly.start_date, day("2026-11-02"));
    assert_eq!(monthly.daily.len(), 30);
    assert_eq!(monthly.totals.total, 65 + 10 + 200);
    assert_eq!(monthly.by_model["b"].total, 210);
    assert_eq!(
        monthly.daily.keys().copied().collect::<HashSet<_>>().len(),
        30
    );
    db.finish().await;
}

#[tokio::test]
async fn one_stream_per_conversation() {
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let conv = db.conversation(alice, None, t(0)).await;
    let ttl = Duration::from_secs(30);

    // Concurrent lockers: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = db.store.clone();
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            let holder = format!("holder-{i}");
            let won = store.try_lock_stream(&conv, &holder, t(0), ttl).await?;
            Ok::<_, nanoclaw_store::StoreError>(won.then_some(holder))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.unwrap().unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let winner = winners.pop().unwrap();

    // Live: refused to others, granted again to its holder, renewable only by it.
    assert!(
        !db.store
            .try_lock_stream(&conv, "late", t(10), ttl)
            .await
            .unwrap()
    );
    assert!(
        db.store
            .try_lock_stream(&conv, &winner, t(10), ttl)
            .await
            .unwrap()
    );
    assert!(
        db.store
            .renew_stream_lock(&conv, &winner, t(20), ttl)
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .renew_stream_lock(&conv, "late", t(20), ttl)
            .await
            .unwrap()
    );
    // Renewed until t(50): still held at t(45).
    assert!(
        !db.store
            .try_lock_stream(&conv, "late", t(45), ttl)
            .await
            .unwrap()
    );

    // Expired: taken over; the old holder's renew and unlock no longer touch it.
    assert!(
        db.store
            .try_lock_stream(&conv, "next", t(50), ttl)
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .renew_stream_lock(&conv, &winner, t(51), ttl)
            .await
            .unwrap()
    );
    assert!(!db.store.unlock_stream(&conv, &winner).await.unwrap());
    assert!(
        !db.store
            .try_lock_stream(&conv, "late", t(60), ttl)
            .await
            .unwrap()
    );

    // Released: free at once.
    assert!(db.store.unlock_stream(&conv, "next").await.unwrap());
    assert!(
        db.store
            .try_lock_stream(&conv, "late", t(61), ttl)
            .await
            .unwrap()
    );
    db.finish().await;
}

#[tokio::test]
async fn a_batch_adds_each_answers_usage_to_its_own_row() {
    use nanoclaw_store::{ChatWrite, FinishedAnswer, UsageEntry};
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let bob = db.user("bob").await;
    let today = t(1).date();
    // A row from before the batch: the batch adds to it.
    db.store
        .add_usage(
            alice,
            today,
            "m1",
            UsageDelta {
                prompt: 1,
                completion: 1,
            },
            t(0),
        )
        .await
        .unwrap();
    let mut ends = Vec::new();
    for (user, model, prompt, completion) in [
        (alice, "m1", 2, 3),
        (alice, "m2", 4, 5),
        (bob, "m1", 1, 0),
        (alice, "m1", 6, 7),
    ] {
        let conversation = db.conversation(user, None, t(0)).await;
        ends.push(ChatWrite::End(FinishedAnswer {
            conversation_id: conversation,
            holder: "h".into(),
            content: Some(r#"{"text":"a","steps":[]}"#.into()),
            token_count: completion,
            usage: Some(UsageEntry {
                user_id: user,
                date: today,
                model: model.into(),
                delta: UsageDelta { prompt, completion },
            }),
            title: None,
        }));
    }
    db.store.apply_chat_writes(&ends, t(1)).await.unwrap();
    let counts = |user| {
        let store = db.store.clone();
        async move {
            let mut rows: Vec<(String, i64, i64, i64)> = store
                .usage_rows(user, today, today)
                .await
                .unwrap()
                .into_iter()
                .map(|r| {
                    (
                        r.model,
                        r.tokens.prompt,
                        r.tokens.completion,
                        r.tokens.total,
                    )
                })
                .collect();
            rows.sort();
            rows
        }
    };
    assert_eq!(
        counts(alice).await,
        [("m1".into(), 9, 11, 20), ("m2".into(), 4, 5, 9)]
    );
    assert_eq!(counts(bob).await, [("m1".into(), 1, 0, 1)]);
    db.finish().await;
}

#[tokio::test]
async fn chat_writes_of_one_batch_share_a_transaction_and_keep_their_order() {
    use nanoclaw_store::{ChatWrite, ChatWritten, FinishedAnswer, UsageEntry};
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let conv = db.conversation(alice, None, t(0)).await;
    let other = db.conversation(alice, None, t(0)).await;
    // Renamed by its user: an answer's automatic title must not replace it.
    db.exec(&format!(
        "UPDATE conversations SET title = 'Mine' WHERE id = '{other}'"
    ))
    .await;
    let ttl = Duration::from_secs(30);
    let open = |conversation: &str, holder: &str, text: &str| ChatWrite::Open {
        conversation_id: conversation.to_owned(),
        holder: holder.to_owned(),
        ttl,
        content: format!(r#"{{"text":"{text}"}}"#),
    };
    // Two opens of one conversation in one batch: the first takes the lock and stores its
    // message, the second is refused and stores nothing; a renewal by the winner holds.
    let written = db
        .store
        .apply_chat_writes(
            &[
                open(&conv, "a", "first"),
                open(&conv, "b", "second"),
                open(&other, "c", "elsewhere"),
                ChatWrite::Renew {
                    conversation_id: conv.clone(),
                    holder: "a".into(),
                    ttl,
                },
                ChatWrite::Renew {
                    conversation_id: conv.clone(),
                    holder: "b".into(),
                    ttl,
                },
            ],
            t(1),
        )
        .await
        .unwrap();
    assert!(matches!(&written[0], ChatWritten::Opened(Some(m)) if m.role == role::USER));
    assert_eq!(written[1], ChatWritten::Opened(None));
    assert!(matches!(&written[2], ChatWritten::Opened(Some(_))));
    assert_eq!(written[3], ChatWritten::Renewed(true));
    assert_eq!(written[4], ChatWritten::Renewed(false));
    let history = db.store.conversation_history(&conv).await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].content.contains("first"));

    // Ending: the answer stored, the lock released, the usage of both ends added to one row.
    let usage = |prompt, completion| {
        Some(UsageEntry {
            user_id: alice,
            date: t(2).date(),
            model: "deepseek-chat".into(),
            delta: UsageDelta { prompt, completion },
        })
    };
    let written = db
        .store
        .apply_chat_writes(
            &[
                ChatWrite::End(FinishedAnswer {
                    conversation_id: conv.clone(),
                    holder: "a".into(),
                    content: Some(r#"{"text":"answer","steps":[]}"#.into()),
                    token_count: 7,
                    usage: usage(10, 7),
                    title: Some("Auto".into()),
                }),
                ChatWrite::End(FinishedAnswer {
                    conversation_id: other.clone(),
                    holder: "c".into(),
                    content: None,
                    token_count: 0,
                    usage: usage(5, 0),
                    title: Some("Not set: titled".into()),
                }),
                open(&conv, "b", "again"),
            ],
            t(2),
        )
        .await
        .unwrap();
    assert!(
        matches!(&written[0], ChatWritten::Ended { message: Some(m), titled: true } if m.role == role::ASSISTANT && m.token_count == 7)
    );
    assert_eq!(
        written[1],
        ChatWritten::Ended {
            message: None,
            titled: false
        },
        "a conversation with a title keeps it"
    );
    assert!(
        matches!(&written[2], ChatWritten::Opened(Some(_))),
        "the lock was free again"
    );
    assert_eq!(
        db.store.conversation_history(&other).await.unwrap().len(),
        1
    );
    let rows = db
        .store
        .usage_rows(alice, t(2).date(), t(2).date())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].tokens.prompt, rows[0].tokens.completion), (15, 7));

    // A batch with a write that cannot be applied (no such conversation) applies nothing.
    let failed = db
        .store
        .apply_chat_writes(
            &[
                open(&other, "d", "lost"),
                open("no-such-conversation", "e", "x"),
            ],
            t(3),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(
        db.store.conversation_history(&other).await.unwrap().len(),
        1
    );
    assert!(
        db.store
            .try_lock_stream(&other, "f", t(3), ttl)
            .await
            .unwrap(),
        "the failed batch took no lock"
    );
}

#[tokio::test]
async fn answers_ending_together_are_stored_as_if_one_by_one() {
    use nanoclaw_store::{ChatWrite, ChatWritten, FinishedAnswer};
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    let ttl = Duration::from_secs(30);
    let convs = [
        db.conversation(alice, None, t(0)).await,
        db.conversation(alice, None, t(0)).await,
        db.conversation(alice, None, t(0)).await,
        db.conversation(alice, None, t(0)).await,
    ];
    let [first, second, renamed, silent] = &convs;
    db.exec(&format!(
        "UPDATE conversations SET title = 'Mine' WHERE id = '{renamed}'"
    ))
    .await;
    for (conv, holder) in convs.iter().zip(["h0", "h1", "h2", "h3"]) {
        assert!(
            db.store
                .try_lock_stream(conv, holder, t(1), ttl)
                .await
                .unwrap()
        );
    }
    let end = |conv: &str, holder: &str, text: Option<&str>, title: Option<&str>| {
        ChatWrite::End(FinishedAnswer {
            conversation_id: conv.to_owned(),
            holder: holder.to_owned(),
            content: text.map(|t| format!(r#"{{"text":"{t}","steps":[]}}"#)),
            token_count: 3,
            usage: None,
            title: title.map(str::to_owned),
        })
    };
    // Five answers ending one after another: two of `first` (the second by a holder that
    // lost the lock long ago), a renamed conversation, one that produced nothing.
    let written = db
        .store
        .apply_chat_writes(
            &[
                end(first, "h0", Some("one"), Some("Title one")),
                end(second, "h1", Some("two"), Some("Title two")),
                end(first, "gone", Some("late"), Some("Title late")),
                end(renamed, "h2", Some("three"), Some("Not set")),
                end(silent, "h3", None, None),
            ],
            t(2),
        )
        .await
        .unwrap();
    let titled: Vec<bool> = written
        .iter()
        .map(|w| match w {
            ChatWritten::Ended { titled, .. } => *titled,
            other => panic!("not an end: {other:?}"),
        })
        .collect();
    assert_eq!(titled, [true, true, false, false, false]);
    let stored: Vec<Option<Message>> = written
        .into_iter()
        .map(|w| match w {
            ChatWritten::Ended { message, .. } => message,
            other => panic!("not an end: {other:?}"),
        })
        .collect();
    assert!(
        stored[4].is_none(),
        "an answer without content stores no message"
    );
    // Each returned message is the stored row, in the order the answers ended.
    let history = db.store.conversation_history(first).await.unwrap();
    let ids: Vec<&str> = history.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            stored[0].as_ref().unwrap().id.as_str(),
            stored[2].as_ref().unwrap().id.as_str()
        ]
    );
    assert!(history[0].content.contains("one") && history[1].content.contains("late"));
    let again = db
        .store
        .message(second, &stored[1].as_ref().unwrap().id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            again.role.as_str(),
            again.token_count,
            again.content.as_str()
        ),
        (
            role::ASSISTANT,
            3,
            stored[1].as_ref().unwrap().content.as_str()
        )
    );
    let title = |id: &str| {
        let store = db.store.clone();
        let id = id.to_owned();
        async move { store.conversation(alice, &id).await.unwrap().unwrap().title }
    };
    assert_eq!(title(first).await, "Title one");
    assert_eq!(title(second).await, "Title two");
    assert_eq!(title(renamed).await, "Mine");
    assert_eq!(title(silent).await, "新对话");
    // Every lock its holder still held is free again.
    for conv in &convs {
        assert!(
            db.store
                .try_lock_stream(conv, "next", t(3), ttl)
                .await
                .unwrap(),
            "{conv} is still locked"
        );
    }
    db.finish().await;
}

#[tokio::test]
async fn a_run_of_ends_longer_than_one_statement_keeps_each_answer_with_its_result() {
    use nanoclaw_store::{ChatWrite, ChatWritten, FinishedAnswer};
    let db = TestDb::migrated().await;
    let alice = db.user("alice").await;
    // 19 answers: statements of 16, 2 and 1 rows; every other one without a title.
    let mut convs = Vec::new();
    for _ in 0..19 {
        convs.push(db.conversation(alice, None, t(0)).await);
    }
    let ends: Vec<ChatWrite> = convs
        .iter()
        .enumerate()
        .map(|(i, conv)| {
            ChatWrite::End(FinishedAnswer {
                conversation_id: conv.clone(),
                holder: format!("h{i}"),
                content: Some(format!(r#"{{"text":"answer {i}","steps":[]}}"#)),
                token_count: i64::try_from(i).unwrap(),
                usage: None,
                title: (i % 2 == 0).then(|| format!("Title {i}")),
            })
        })
        .collect();
    let written = db.store.apply_chat_writes(&ends, t(1)).await.unwrap();
    assert_eq!(written.len(), 19);
    for (i, (conv, w)) in convs.iter().zip(written).enumerate() {
        let ChatWritten::Ended {
            message: Some(message),
            titled,
        } = w
        else {
            panic!("answer {i}: {w:?}");
        };
        assert_eq!(titled, i % 2 == 0, "answer {i}");
        let stored = db.store.message(conv, &message.id).await.unwrap().unwrap();
        assert_eq!(
            stored.content,
            format!(r#"{{"text":"answer {i}","steps":[]}}"#)
        );
        assert_eq!(stored.token_count, i64::try_from(i).unwrap());
        let title = db
            .store
            .conversation(alice, conv)
            .await
            .unwrap()
            .unwrap()
            .title;
        if i % 2 == 0 {
            assert_eq!(title, format!("Title {i}"));
        } else {
            assert_eq!(title, "新对话");
        }
    }
    db.finish().await;
}
