use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
#[fastusers(table = "member", crate = "::fastusers")]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    #[fastusers(create, update)]
    pub first_name: Option<String>,
    #[fastusers(create)]
    pub age: i32,
    #[fastusers(update, sql_type = "VARCHAR(64)")]
    pub nickname: Option<String>,
    pub plan: Option<String>,
    #[fastusers(hidden)]
    pub notes: Option<String>,
    #[fastusers(read_only)]
    pub login_count: i64,
}

fn main() {
    let create = MemberCreate {
        email: "ada@example.com".to_owned(),
        password: "correct horse".to_owned(),
        is_active: None,
        is_superuser: None,
        is_verified: None,
        first_name: Some("Ada".to_owned()),
        age: 36,
    };
    let member = <Member as fastusers::User>::from_create(create, 7, "hash".to_owned(), true);
    let changes = MemberChanges {
        nickname: Some(None),
        login_count: Some(1),
        ..Default::default()
    };
    assert!(!fastusers::user::UserChanges::is_empty(&changes));

    // Exhaustive: the read type has neither `hashed_password` nor the hidden `notes`.
    let MemberRead {
        id,
        email,
        is_active,
        is_superuser,
        is_verified,
        first_name,
        age,
        nickname,
        plan,
        login_count,
    } = fastusers::User::to_read(&member);
    assert_eq!((id, age, login_count), (7, 36, 0));
    assert_eq!(email, "ada@example.com");
    assert_eq!(first_name.as_deref(), Some("Ada"));
    assert!(is_active && !is_superuser && !is_verified);
    assert_eq!((nickname, plan), (None, None));
}
