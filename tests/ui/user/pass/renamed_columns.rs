use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
#[fastusers(table = "people")]
pub struct Person {
    #[fastusers(column = "person_id")]
    pub id: i32,
    #[fastusers(column = "mail")]
    pub email: String,
    #[fastusers(column = "password_hash")]
    pub hashed_password: String,
    #[fastusers(column = "active")]
    pub is_active: bool,
    #[fastusers(column = "admin")]
    pub is_superuser: bool,
    #[fastusers(column = "verified")]
    pub is_verified: bool,
    #[fastusers(create, update, column = "nick")]
    pub nickname: Option<String>,
}

fn main() {
    let person = <Person as fastusers::User>::from_create(
        PersonCreate {
            email: "ann@example.com".to_owned(),
            password: "correct horse".to_owned(),
            ..Default::default()
        },
        7_i32,
        "hash".to_owned(),
        true,
    );
    assert_eq!(*fastusers::User::id(&person), 7);
    let sql = fastusers::store::schema_sql::<Person>(fastusers::store::Dialect::Sqlite);
    assert!(sql.contains(r#""person_id" INTEGER PRIMARY KEY AUTOINCREMENT"#), "{sql}");
    assert!(sql.contains(r#"ON "people" (lower("mail"))"#), "{sql}");
    assert!(sql.contains(r#""nick" TEXT"#), "{sql}");
}
