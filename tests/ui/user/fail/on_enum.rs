use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
pub enum User {
    Anonymous,
    Known { id: uuid::Uuid, email: String },
}

fn main() {}
