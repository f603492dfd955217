//! Redis pub/sub as a cache channel: each change made through a cache is published; each cache
//! subscribes on a connection of its own.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream};

use super::{BoxError, Change, Remote, Subscription};

/// The pub/sub channel; the message is the user's id as text (empty: every user).
const CHANNEL: &str = "fastusers:user_changed";

pub(super) struct RedisRemote {
    client: redis::Client,
    /// The connection that publishes, made on the first announcement; it reconnects by itself.
    publisher: tokio::sync::Mutex<Option<ConnectionManager>>,
}

impl RedisRemote {
    pub(super) fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            publisher: tokio::sync::Mutex::default(),
        })
    }

    async fn publisher(&self) -> Result<ConnectionManager, redis::RedisError> {
        let mut publisher = self.publisher.lock().await;
        if let Some(connection) = &*publisher {
            return Ok(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let connection = self
            .client
            .get_connection_manager_with_config(config)
            .await?;
        Ok(publisher.insert(connection).clone())
    }
}

#[async_trait]
impl Remote for RedisRemote {
    fn describe(&self) -> &'static str {
        "Redis pub/sub"
    }

    async fn subscribe(&self) -> Result<Box<dyn Subscription>, BoxError> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(CHANNEL).await?;
        let (sink, stream) = pubsub.split();
        Ok(Box::new(RedisSubscription { sink, stream }))
    }

    fn announces(&self) -> bool {
        true
    }

    async fn announce(&self, id: &str) -> Result<(), BoxError> {
        let mut connection = self.publisher().await?;
        redis::cmd("PUBLISH")
            .arg(CHANNEL)
            .arg(id)
            .query_async::<i64>(&mut connection)
            .await?;
        Ok(())
    }
}

struct RedisSubscription {
    sink: PubSubSink,
    stream: PubSubStream,
}

#[async_trait]
impl Subscription for RedisSubscription {
    async fn next(&mut self) -> Option<Change> {
        let message = self.stream.next().await?;
        Some(match message.get_payload::<String>() {
            Ok(id) if !id.is_empty() => Change::User(id),
            // Empty, or not text: drop everything rather than guess.
            _ => Change::Everyone,
        })
    }

    async fn ping(&mut self) -> bool {
        self.sink.ping::<redis::Value>().await.is_ok()
    }
}
