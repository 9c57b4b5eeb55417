//! The event-based pattern on RabbitMQ: Profile publishes
//! `CustomerUnsubscribed` with publisher confirms (optionally through a
//! transactional outbox), and each follower consumes its own durable quorum
//! queue with manual acknowledgements, idempotently. A message returned
//! `max_deliveries` times goes to the dead-letter exchange.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use crate::clock::now_ns;
use crate::record::{Delivery, Recorder};
use crate::service::Service;

/// The fan-out exchange Profile publishes to.
pub const EXCHANGE: &str = "customer.unsubscribed";
/// Where messages go after their last delivery.
pub const DEAD_LETTER_EXCHANGE: &str = "dead-letter";
/// The queue behind the dead-letter exchange.
pub const DEAD_LETTERS: &str = "dead-letters";

/// A follower's queue.
pub fn queue(follower: &str) -> String {
    format!("{follower}.unsubscribed")
}

/// Connects to the broker.
pub async fn connect(url: &str) -> Result<Connection> {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .with_context(|| format!("connecting to RabbitMQ at {url}"))
}

/// Declares the exchanges and the queues afresh (deleting what a previous
/// run left): one durable quorum queue per follower, dead-lettering after
/// `max_deliveries` deliveries.
pub async fn reset(conn: &Connection, followers: &[&str], max_deliveries: u32) -> Result<()> {
    let ch = conn.create_channel().await?;
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    for ex in [EXCHANGE, DEAD_LETTER_EXCHANGE] {
        ch.exchange_declare(ex.into(), ExchangeKind::Fanout, durable, FieldTable::default()).await?;
    }
    let q_opts = QueueDeclareOptions { durable: true, ..Default::default() };
    ch.queue_delete(DEAD_LETTERS.into(), QueueDeleteOptions::default()).await?;
    ch.queue_declare(DEAD_LETTERS.into(), q_opts, FieldTable::default()).await?;
    ch.queue_bind(
        DEAD_LETTERS.into(),
        DEAD_LETTER_EXCHANGE.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    for f in followers {
        let name = queue(f);
        ch.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await?;
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
        // A quorum queue counts returns; past the limit the message is
        // dead-lettered, so `limit = max_deliveries - 1` allows exactly
        // `max_deliveries` deliveries.
        args.insert("x-delivery-limit".into(), AMQPValue::LongInt(max_deliveries.saturating_sub(1) as i32));
        args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(DEAD_LETTER_EXCHANGE.into()));
        ch.queue_declare(name.as_str().into(), q_opts, args).await?;
        ch.queue_bind(
            name.as_str().into(),
            EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    Ok(())
}

/// Messages waiting in `queue` (ready, not counting those delivered and
/// not yet acknowledged).
pub async fn depth(conn: &Connection, queue: &str) -> Result<u32> {
    let ch = conn.create_channel().await?;
    let q = ch
        .queue_declare(queue.into(), QueueDeclareOptions { passive: true, ..Default::default() }, FieldTable::default())
        .await?;
    Ok(q.message_count())
}

/// How long a subscriber waits before connecting again after its
/// connection dropped (a broker outage): ecsim's subscribers resume the
/// instant the broker is back, so this is kept short.
const RECONNECT: Duration = Duration::from_millis(200);

/// Profile's publishing side.
#[derive(Debug)]
pub struct Publisher {
    url: String,
    /// The connection and its confirm-mode channel; none while the broker
    /// is away (the next publish connects again).
    link: tokio::sync::Mutex<Option<(Connection, Channel)>>,
    /// When the last connection attempt began.
    last_attempt: Mutex<Option<std::time::Instant>>,
    rec: Arc<Recorder>,
    /// Write the event with the delete, in one transaction.
    outbox: bool,
    /// Re-send a publish not confirmed within this time.
    timeout: Duration,
    /// Events published and not yet confirmed (the relay skips them).
    in_flight: Mutex<BTreeSet<i32>>,
}

impl Publisher {
    /// A publisher with its own connection and confirm-mode channel.
    pub async fn new(url: &str, rec: Arc<Recorder>, outbox: bool, timeout: Duration) -> Result<Arc<Self>> {
        let me = Self {
            url: url.into(),
            link: tokio::sync::Mutex::new(None),
            last_attempt: Mutex::new(None),
            rec,
            outbox,
            timeout,
            in_flight: Mutex::new(BTreeSet::new()),
        };
        me.channel().await.with_context(|| format!("publishing to RabbitMQ at {url}"))?;
        Ok(Arc::new(me))
    }

    /// The channel, connecting again if the last one dropped. While the
    /// broker is away, at most one attempt per [`RECONNECT`]: thousands of
    /// unconfirmed events each re-sending would otherwise each try to
    /// connect, a storm of refused connections that loads the machine the
    /// measurement runs on.
    async fn channel(&self) -> Result<Channel> {
        let mut link = self.link.lock().await;
        if let Some((_, ch)) = link.as_ref() {
            if ch.status().connected() {
                return Ok(ch.clone());
            }
        }
        *link = None;
        {
            let mut last = self.last_attempt.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < RECONNECT) {
                anyhow::bail!("the broker was unreachable a moment ago");
            }
            *last = Some(std::time::Instant::now());
        }
        let conn = connect(&self.url).await?;
        let ch = conn.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        *link = Some((conn, ch.clone()));
        Ok(ch)
    }

    /// Deletes the customer at Profile (with its outbox row, if any) and
    /// publishes the event. Returns whether the delete committed, and the
    /// time from the commit to the publish leaving (ns).
    pub async fn delete_and_publish(self: &Arc<Self>, svc: &Service, id: i32) -> (bool, u64) {
        let ok =
            if self.outbox { self.delete_with_outbox(svc, id).await.is_ok() } else { svc.delete(id).await.is_ok() };
        if !ok {
            return (false, 0);
        }
        let t = now_ns();
        self.publish(id);
        (true, now_ns().saturating_sub(t))
    }

    async fn delete_with_outbox(&self, svc: &Service, id: i32) -> Result<()> {
        let mut c = svc.pool.as_ref().context("no database")?.get().await?;
        let tx = c.transaction().await?;
        let n = tx.execute("DELETE FROM profile WHERE id = $1", &[&id]).await?;
        tx.execute(
            "INSERT INTO outbox (event, customer) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&i64::from(id), &id],
        )
        .await?;
        tx.commit().await?;
        if n == 1 {
            svc.deleted(id);
        }
        Ok(())
    }

    /// Sends the event and, in the background, waits for the broker's
    /// confirm, re-sending until it comes (the event id makes a duplicate
    /// harmless: subscribers are idempotent).
    pub fn publish(self: &Arc<Self>, customer: i32) {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(customer);
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if me.publish_once(customer).await {
                    break;
                }
                me.rec.publish_retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            me.in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&customer);
        });
    }

    /// One attempt: true if the broker confirmed within the timeout.
    /// A failed attempt returns only when the timeout has passed since it
    /// began, so re-sends go out once per timeout, as in ecsim.
    async fn publish_once(&self, customer: i32) -> bool {
        let began = tokio::time::Instant::now();
        let confirmed = async {
            let ch = self.channel().await.ok()?;
            let payload = format!("{customer} {}", now_ns());
            let props = BasicProperties::default().with_delivery_mode(2);
            let confirm = ch
                .basic_publish(EXCHANGE.into(), "".into(), BasicPublishOptions::default(), payload.as_bytes(), props)
                .await
                .ok()?;
            self.rec.msgs(1);
            match tokio::time::timeout_at(began + self.timeout, confirm).await {
                Ok(Ok(c)) if c.is_ack() => {
                    self.rec.msgs(1);
                    Some(())
                }
                _ => None,
            }
        }
        .await
        .is_some();
        if !confirmed {
            tokio::time::sleep_until(began + self.timeout).await;
        }
        confirmed
    }

    /// The outbox relay: every `poll`, deletes the outbox rows whose
    /// publish is no longer in flight (the broker confirmed it; until then
    /// the publisher itself re-sends). It does not publish rows left by a
    /// crashed Profile: the testbed's Profile shares the process with the
    /// publisher and is never crashed, so such rows cannot occur here; a
    /// relay that recovers them is what a Profile-crash scenario would add.
    pub async fn relay(self: Arc<Self>, svc: Arc<Service>, poll: Duration) -> Result<()> {
        let pool = svc.pool.clone().context("no database")?;
        loop {
            tokio::time::sleep(poll).await;
            let c = pool.get().await?;
            let rows = c.query("SELECT customer FROM outbox ORDER BY event", &[]).await?;
            let mut done = Vec::new();
            for r in rows {
                let customer: i32 = r.get(0);
                let in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).contains(&customer);
                if !in_flight {
                    // Confirmed since it was written.
                    done.push(i64::from(customer));
                }
            }
            if !done.is_empty() {
                c.execute("DELETE FROM outbox WHERE event = ANY($1)", &[&done]).await?;
            }
        }
    }
}

/// Consumes a follower's queue on a connection of its own: at most
/// `prefetch` deliveries unacknowledged, each applied idempotently by one
/// of the follower's workers, then acknowledged (or returned on failure,
/// for redelivery). Connects again whenever the connection drops; what was
/// delivered and not acknowledged comes again, marked redelivered.
pub async fn subscribe(url: &str, svc: Arc<Service>, prefetch: u16) -> Result<()> {
    let first = consume(url, &svc, prefetch).await?;
    let url = url.to_string();
    tokio::spawn(async move {
        let mut current = Some(first);
        loop {
            if let Some((_conn, mut consumer)) = current.take() {
                while let Some(Ok(d)) = consumer.next().await {
                    let svc = Arc::clone(&svc);
                    tokio::spawn(async move { handle(svc, d).await });
                }
            }
            tokio::time::sleep(RECONNECT).await;
            current = consume(&url, &svc, prefetch).await.ok();
        }
    });
    Ok(())
}

async fn consume(url: &str, svc: &Service, prefetch: u16) -> Result<(Connection, lapin::Consumer)> {
    let conn = connect(url).await?;
    let ch = conn.create_channel().await?;
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let consumer = ch
        .basic_consume(
            queue(svc.name).as_str().into(),
            svc.name.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((conn, consumer))
}

async fn handle(svc: Arc<Service>, d: lapin::message::Delivery) {
    let arrived = now_ns();
    svc.rec.msgs(1);
    let text = String::from_utf8_lossy(&d.data).into_owned();
    let mut parts = text.split(' ');
    let customer: i32 = parts.next().and_then(|x| x.parse().ok()).unwrap_or(-1);
    let published: u64 = parts.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    let Ok(_worker) = svc.workers.acquire().await else { return };
    let start = now_ns();
    let outcome = match apply(&svc, customer).await {
        Ok(true) => "applied",
        Ok(false) => "duplicate",
        Err(_) => "failed",
    };
    // The unit of work ends at the commit: ecsim deletes the row when the
    // service time ends, and the acknowledgement is a message after it.
    svc.work("deliver", customer, arrived, start, 0);
    let acked = if outcome == "failed" {
        d.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await
    } else {
        d.acker.ack(BasicAckOptions::default()).await
    };
    if acked.is_ok() {
        svc.rec.msgs(1);
    }
    Recorder::push(
        &svc.rec.deliveries,
        Delivery {
            subscriber: svc.name.into(),
            customer,
            published_ns: published,
            delivered_ns: arrived,
            redelivered: d.redelivered,
            outcome: outcome.into(),
        },
    );
}

/// Records the event as applied and deletes the row, in one transaction;
/// false if the event was applied before (a duplicate).
async fn apply(svc: &Service, customer: i32) -> Result<bool> {
    let mut c = svc.pool.as_ref().context("no database")?.get().await?;
    let tx = c.transaction().await?;
    let fresh =
        tx.execute("INSERT INTO applied (event) VALUES ($1) ON CONFLICT DO NOTHING", &[&i64::from(customer)]).await?;
    let mut n = 0;
    if fresh == 1 {
        n = tx.execute(&format!("DELETE FROM {} WHERE id = $1", svc.name), &[&customer]).await?;
    }
    tx.commit().await?;
    if n == 1 {
        svc.deleted(customer);
    }
    Ok(fresh == 1)
}
