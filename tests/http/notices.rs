//! Security notices: a changed or reset password, a changed email address (told at the old
//! one, the new one masked), each emailed by default to the development outbox, with no token
//! or secret in it; the hook and the templates replace them, and the setting turns them off.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::mail::SecurityEvent;
use fastusers::mail::{Message, Outbox, Templates};
use fastusers::prelude::*;
use fastusers_tests::{
    Db, Options, OutboxMessage, TestApp, User, UserUpdate, db_tests, fast_passwords,
    outbox_messages, outbox_path, wait_for_outbox,
};
use serde_json::{Value, json};

async fn app_with_outbox(db: Db) -> (TestApp, std::path::PathBuf) {
    let outbox = outbox_path();
    let app = TestApp::with(
        db,
        Options {
            outbox: Some(outbox.clone()),
            ..Options::default()
        },
    )
    .await;
    (app, outbox)
}

/// Whether a word of the text looks like a token: 20 characters or more of URL-safe base64
/// (a JWT's parts, an opaque token, a provider's token).
fn has_token_like_word(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .any(|word| word.len() >= 20)
}

/// Fails when the message holds any of `secrets`, or anything shaped like a token.
pub(crate) fn assert_no_secret(message: &OutboxMessage, secrets: &[&str]) {
    for part in [&message.subject, &message.text, &message.html] {
        for secret in secrets {
            assert!(
                !part.contains(secret),
                "{secret:?} is in the notice: {part}"
            );
        }
        assert!(!has_token_like_word(part), "a token-like word: {part}");
    }
}

async fn patch_me(app: &TestApp, token: &str, body: Value) -> fastusers_tests::Response {
    app.request(Method::PATCH, "/users/me")
        .bearer(token)
        .json(&body)
        .send()
        .await
}

/// A password changed through `PATCH /users/me`, then reset through the emailed link: each is
/// told to its owner, naming neither token nor password.
async fn password_change_and_reset_are_told(db: Db) {
    let (app, outbox) = app_with_outbox(db).await;
    app.register("gawain@camelot.bt", "green-knight").await;
    let token = app.token("gawain@camelot.bt", "green-knight").await;
    let changed = patch_me(&app, &token, json!({"password": "pentangle"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let mail = wait_for_outbox(&outbox, 1).await;
    assert_eq!(mail[0].to, "gawain@camelot.bt");
    assert_eq!(mail[0].subject, "Your Camelot password was changed");
    assert!(
        mail[0]
            .text
            .contains("The password of gawain@camelot.bt for Camelot was just changed."),
        "{}",
        mail[0].text
    );
    assert!(mail[0].text.contains("contact us at once"));
    assert!(
        mail[0]
            .html
            .contains("<p>The password of gawain@camelot.bt")
    );
    assert_no_secret(&mail[0], &[&token, "pentangle", "green-knight"]);

    app.request(Method::POST, "/auth/forgot-password")
        .json(&json!({"email": "gawain@camelot.bt"}))
        .send()
        .await
        .assert(StatusCode::ACCEPTED, Value::Null);
    let reset_token = app
        .sent_token("reset", "gawain@camelot.bt")
        .await
        .expect("a reset token");
    app.request(Method::POST, "/auth/reset-password")
        .json(&json!({"token": reset_token, "password": "round-table"}))
        .send()
        .await
        .assert(StatusCode::OK, Value::Null);
    // The reset email itself, then the notice of the reset (and no "changed" notice).
    let mail = wait_for_outbox(&outbox, 3).await;
    assert_eq!(mail[1].subject, "Reset your Camelot password");
    assert_eq!(mail[2].to, "gawain@camelot.bt");
    assert_eq!(mail[2].subject, "Your Camelot password was reset");
    assert_no_secret(
        &mail[2],
        &[&reset_token, &token, "round-table", "pentangle"],
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(outbox_messages(&outbox).len(), 3, "one notice per change");
    let events = app.hooks.security_events.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            (
                "password_changed".to_owned(),
                "gawain@camelot.bt".to_owned()
            ),
            ("password_reset".to_owned(), "gawain@camelot.bt".to_owned()),
        ]
    );
}

/// A changed email address is told at the old address, the new one masked; a change of
/// letter case only (the same mailbox) is not; a superuser's change of another user's
/// password is told to that user.
async fn email_change_is_told_at_the_old_address(db: Db) {
    let (app, outbox) = app_with_outbox(db).await;
    let user = app.register("arthur@camelot.bt", "excalibur").await;
    let token = app.token("arthur@camelot.bt", "excalibur").await;
    let changed = patch_me(&app, &token, json!({"email": "arthur@avalon.bt"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let mail = wait_for_outbox(&outbox, 1).await;
    assert_eq!(mail[0].to, "arthur@camelot.bt", "the old address");
    assert_eq!(
        mail[0].subject,
        "The email address of your Camelot account was changed"
    );
    assert!(
        mail[0]
            .text
            .contains("from arthur@camelot.bt to a***@a***.bt"),
        "{}",
        mail[0].text
    );
    assert_no_secret(&mail[0], &[&token, "excalibur", "avalon"]);

    let cased = patch_me(&app, &token, json!({"email": "Arthur@avalon.bt"})).await;
    assert_eq!(cased.status, StatusCode::OK, "{}", cased.text());

    let admin = app.superuser("merlin@camelot.bt").await;
    let path = format!("/users/{}", user["id"].as_str().unwrap());
    let reset = app
        .request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"password": "a new password"}))
        .send()
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text());
    let mail = wait_for_outbox(&outbox, 2).await;
    assert_eq!(mail[1].to, "Arthur@avalon.bt");
    assert_eq!(mail[1].subject, "Your Camelot password was changed");
    assert_no_secret(&mail[1], &[&admin, "a new password"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        outbox_messages(&outbox).len(),
        2,
        "no notice for the letter case"
    );
}

/// A hook that answers `Notify::Handled` replaces the email: the hook sees the event, the
/// outbox gets nothing.
async fn the_hook_replaces_the_email(db: Db) {
    let (app, outbox) = app_with_outbox(db).await;
    app.hooks.handle_notices.store(true, Ordering::SeqCst);
    app.register("kay@camelot.bt", "seneschal").await;
    let token = app.token("kay@camelot.bt", "seneschal").await;
    let changed = patch_me(&app, &token, json!({"password": "a new password"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(
        app.hooks.security_events.lock().unwrap().clone(),
        [("password_changed".to_owned(), "kay@camelot.bt".to_owned())]
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(outbox_messages(&outbox), []);
}

db_tests!(
    password_change_and_reset_are_told,
    email_change_is_told_at_the_old_address,
    the_hook_replaces_the_email
);

/// Templates of the application's own: their notice replaces fastusers' (and `None` sends
/// none).
struct OwnTemplates;

impl Templates for OwnTemplates {
    fn verify(&self, email: &str, token: &str) -> Message {
        fastusers_tests::link_templates().verify(email, token)
    }

    fn reset(&self, email: &str, token: &str) -> Message {
        fastusers_tests::link_templates().reset(email, token)
    }

    fn notice(&self, email: &str, event: &SecurityEvent) -> Option<Message> {
        match event {
            SecurityEvent::PasswordChanged => Some(Message {
                to: email.to_owned(),
                subject: "Heads up".to_owned(),
                text: "Your password changed.".to_owned(),
                html: "<p>Your password changed.</p>".to_owned(),
            }),
            _ => None,
        }
    }
}

async fn manager_with(
    templates: impl Templates,
    notices: bool,
) -> (UserManager<User>, std::path::PathBuf) {
    let outbox = outbox_path();
    let store = fastusers::store::connect::<User>("sqlite::memory:")
        .await
        .expect("open the store");
    let manager = UserManager::new(store)
        .with_password_helper(fast_passwords())
        .with_password_policy(fastusers::password::PasswordPolicy::none())
        .with_mailer(Outbox::file(&outbox), templates)
        .security_notices(notices);
    (manager, outbox)
}

async fn change_password_and_email(manager: &UserManager<User>) {
    let user = manager
        .create(
            fastusers_tests::UserCreate {
                email: "bedivere@camelot.bt".to_owned(),
                password: "the lake".to_owned(),
                ..Default::default()
            },
            true,
            None,
        )
        .await
        .expect("created");
    let update = UserUpdate {
        password: Some("the sword".to_owned()),
        email: Some("bedivere@avalon.bt".to_owned()),
        ..Default::default()
    };
    manager
        .update(update, &user, true, None)
        .await
        .expect("updated");
}

#[tokio::test]
async fn the_templates_replace_the_notices() {
    let (manager, outbox) = manager_with(OwnTemplates, true).await;
    change_password_and_email(&manager).await;
    let mail = wait_for_outbox(&outbox, 1).await;
    assert_eq!(mail[0].to, "bedivere@avalon.bt");
    assert_eq!(mail[0].subject, "Heads up");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(outbox_messages(&outbox).len(), 1, "no email-change notice");
}

#[tokio::test]
async fn the_setting_turns_the_notices_off() {
    let (manager, outbox) = manager_with(fastusers_tests::link_templates(), false).await;
    change_password_and_email(&manager).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(outbox_messages(&outbox), []);
    // And on, both changes are told.
    let (manager, outbox) = manager_with(fastusers_tests::link_templates(), true).await;
    change_password_and_email(&manager).await;
    let mail = wait_for_outbox(&outbox, 2).await;
    let mut subjects: Vec<&str> = mail.iter().map(|m| m.subject.as_str()).collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        [
            "The email address of your Camelot account was changed",
            "Your Camelot password was changed"
        ]
    );
}
