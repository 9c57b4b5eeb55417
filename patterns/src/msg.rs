//! The typed messages every node of a scenario exchanges.

use std::sync::Arc;

use sim_core::NodeId;

/// A customer, by dense index `0..customers`.
pub type CustomerId = u32;
/// An unsubscribe request, by dense index in arrival order. The event a
/// request causes in the event-based pattern carries the same number.
pub type RequestId = u32;
/// A synchronous call, unique within its caller.
pub type CallId = u64;

/// A database operation a service performs on its own table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Delete one customer's row (idempotent).
    Delete(CustomerId),
    /// Re-insert one customer's row (a compensation).
    Restore(CustomerId),
    /// Delete one customer's row unless an operation with a newer fencing
    /// token was applied for that customer (the fenced saga's delete).
    FencedDelete {
        /// The customer.
        customer: CustomerId,
        /// The saga's token for its deletes.
        token: u64,
    },
    /// Re-insert one customer's row and fence off every older operation for
    /// that customer (the fenced saga's compensation).
    FencedRestore {
        /// The customer.
        customer: CustomerId,
        /// The saga's token for its compensations, above its deletes' token.
        token: u64,
    },
    /// Delete many rows (background sync, writing into a table it does not own).
    DeleteMany(Arc<[CustomerId]>),
    /// Full-table scan: which of all customers have no row (diff variant).
    ScanAbsent,
    /// Full-table scan: which of `among` still have a row (diff variant).
    ScanPresent(Arc<[CustomerId]>),
    /// Read the change table a delete trigger fills (change-table variant).
    ReadChanges,
    /// Remove processed entries from the change table.
    ClearChanges(Arc<[CustomerId]>),
    /// Read up to `max` entries of the commit log from sequence number
    /// `from` (change data capture); answered by [`Msg::LogRead`].
    ReadLog {
        /// The first log sequence number wanted.
        from: u64,
        /// At most this many entries.
        max: u32,
    },
}

/// An update to a customer's profile (background traffic), by dense index
/// in commit order.
pub type UpdateId = u32;

/// One entry of the source's commit log, as change data capture reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// The customer.
    pub customer: CustomerId,
    /// `None` for the customer's delete, `Some` for a profile update.
    pub update: Option<UpdateId>,
}

/// Why the broker sent a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Subscription index: follower `i`'s is `i` (the book's Contract 0, Billing 1).
    pub sub: u8,
    /// The event: the request that caused it (`CustomerUnsubscribed`), or
    /// the update (`CustomerUpdated`, when `update` is set).
    pub event: RequestId,
    /// Whether this is a `CustomerUpdated` event (background traffic),
    /// which a follower applies without deleting anything.
    pub update: bool,
    /// The customer.
    pub customer: CustomerId,
    /// 1 for the first delivery, 2 for the first redelivery, and so on.
    pub attempt: u32,
    /// The broker's tag for this one delivery.
    pub tag: u64,
}

impl Op {
    /// The one customer whose row the operation writes, if it writes one
    /// (a delete or a restore, fenced or not).
    pub fn row(&self) -> Option<CustomerId> {
        match self {
            Op::Delete(c)
            | Op::Restore(c)
            | Op::FencedDelete { customer: c, .. }
            | Op::FencedRestore { customer: c, .. } => Some(*c),
            _ => None,
        }
    }
}

/// A unit of work waiting for, or holding, a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// A user's unsubscribe request at the entry service.
    Unsubscribe {
        /// The request.
        req: RequestId,
        /// The customer.
        customer: CustomerId,
        /// Who to answer.
        client: NodeId,
    },
    /// A synchronous call to execute.
    Call {
        /// The call.
        call: CallId,
        /// The operation.
        op: Op,
        /// Who to reply to.
        caller: NodeId,
        /// Run by the caller's own request thread (the profile acting as
        /// orchestrator writes its own table): no worker of its own, and the
        /// result goes straight back to the caller's saga.
        inline: bool,
    },
    /// A broker delivery to consume.
    Consume {
        /// What was delivered.
        delivery: Delivery,
        /// The broker.
        broker: NodeId,
    },
    /// A publish to persist at the broker.
    Persist {
        /// The event.
        event: RequestId,
        /// The customer.
        customer: CustomerId,
        /// The publisher.
        publisher: NodeId,
        /// Whether it is a `CustomerUpdated` event.
        update: bool,
    },
    /// A profile update (background traffic) at the source.
    Update {
        /// The customer.
        customer: CustomerId,
    },
}

/// Every message and timer in a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    // The user and the entry point.
    /// "Unsubscribe me."
    Unsubscribe {
        /// The request.
        req: RequestId,
        /// The customer.
        customer: CustomerId,
    },
    /// The answer the user sees.
    Answer {
        /// The request.
        req: RequestId,
        /// True for "unsubscribed, you will no longer be billed".
        ok: bool,
    },

    // Synchronous calls.
    /// A call to a service's database operation.
    Call {
        /// The call.
        call: CallId,
        /// The operation.
        op: Op,
    },
    /// The call's reply.
    Reply {
        /// The call.
        call: CallId,
        /// Whether the operation succeeded.
        ok: bool,
        /// Rows returned by a scan or a read.
        rows: Option<Arc<[CustomerId]>>,
    },

    // The broker.
    /// Publish `CustomerUnsubscribed`.
    Publish {
        /// The event.
        event: RequestId,
        /// The customer.
        customer: CustomerId,
    },
    /// The broker persisted the event.
    PublishAck {
        /// The event.
        event: RequestId,
    },
    /// Publish `CustomerUpdated` (background traffic; fire and forget).
    PublishUpdate {
        /// The update.
        update: UpdateId,
        /// The customer.
        customer: CustomerId,
    },
    /// The broker persisted the update event.
    UpdateAck {
        /// The update.
        update: UpdateId,
    },
    /// A user changes their profile (background traffic).
    Update {
        /// The customer.
        customer: CustomerId,
    },
    /// The broker hands an event to a subscriber.
    Deliver(Delivery),
    /// The subscriber processed it.
    Ack(Delivery),
    /// The subscriber failed to process it.
    Nack(Delivery),

    // Timers.
    /// The client's next arrival.
    Arrival,
    /// The next profile update of the background traffic.
    UpdateArrival,
    /// The next new subscription of the background traffic.
    SignupArrival,
    /// A customer who left subscribes again.
    Resubscribe {
        /// The customer.
        customer: CustomerId,
    },
    /// A closed-loop user is done thinking.
    UserReady {
        /// The user.
        user: u32,
    },
    /// The user gives up waiting.
    ClientTimeout {
        /// The request.
        req: RequestId,
    },
    /// A worker finished a unit of work.
    Done(Work),
    /// A call got no reply in time.
    CallTimeout {
        /// The call.
        call: CallId,
    },
    /// Time to retry a call.
    Retry {
        /// The call.
        call: CallId,
    },
    /// A background sync job wakes up.
    SyncTick {
        /// Which of the sync node's jobs.
        job: u8,
    },
    /// Billing charges whoever is due.
    BillingRun,
    /// A delivery was not acknowledged in time.
    AckTimeout(Delivery),
    /// The broker has redeliveries due.
    DispatchDue,
    /// The automated dead-letter repair job wakes up.
    DlqRepair,
    /// The outbox relay polls.
    OutboxPoll,
    /// The profile publishes after its commit (the dual-write gap sits before this).
    PublishNow {
        /// The event.
        event: RequestId,
        /// The customer.
        customer: CustomerId,
        /// Who to answer afterwards.
        client: NodeId,
    },
    /// Re-send unacknowledged publishes.
    PublishRetry {
        /// The event.
        event: RequestId,
    },

    // Change data capture.
    /// The answer to [`Op::ReadLog`]: the deleted customers from log
    /// sequence number `first` on. `first` is above the `from` asked for
    /// when the log no longer holds those entries (retention passed).
    LogRead {
        /// The call.
        call: CallId,
        /// The sequence number of the first entry returned.
        first: u64,
        /// The entries, in commit order.
        entries: Arc<[LogRecord]>,
    },
    /// The source's database ships one commit to a streaming log tailer.
    LogEntry {
        /// Its log sequence number.
        lsn: u64,
        /// What was committed.
        record: LogRecord,
    },
    /// The source ships a commit once its replication lag has passed.
    ShipLog {
        /// Its log sequence number.
        lsn: u64,
        /// What was committed.
        record: LogRecord,
    },
    /// The log tailer reads the log.
    TailTick,
    /// The log tailer commits its offset.
    OffsetCommit,
}

impl Work {
    /// A short label for traces.
    pub fn label(&self) -> &'static str {
        match self {
            Work::Unsubscribe { .. } => "unsubscribe",
            Work::Call { op, .. } => match op {
                Op::Delete(_) => "delete row",
                Op::Restore(_) => "restore row (compensation)",
                Op::FencedDelete { .. } => "delete row (fenced)",
                Op::FencedRestore { .. } => "restore row (fenced compensation)",
                Op::DeleteMany(_) => "delete batch (sync)",
                Op::ScanAbsent => "full scan (sync)",
                Op::ScanPresent(_) => "full scan (sync)",
                Op::ReadChanges => "read change table (sync)",
                Op::ClearChanges(_) => "clear change table (sync)",
                Op::ReadLog { .. } => "read commit log (cdc)",
            },
            Work::Consume { delivery, .. } if delivery.update => "consume CustomerUpdated",
            Work::Consume { .. } => "consume CustomerUnsubscribed",
            Work::Persist { update: true, .. } => "persist CustomerUpdated",
            Work::Persist { .. } => "persist CustomerUnsubscribed",
            Work::Update { .. } => "update profile",
        }
    }

    /// The customer the work is about, if one.
    pub fn customer(&self) -> Option<CustomerId> {
        match self {
            Work::Unsubscribe { customer, .. } | Work::Persist { customer, .. } | Work::Update { customer } => {
                Some(*customer)
            }
            Work::Call { op, .. } => op.row(),
            Work::Consume { delivery, .. } => Some(delivery.customer),
        }
    }

    /// The key under which services share the common factor of their
    /// times for this unit of work (see
    /// [`ServiceConfig::time_correlation`](crate::config::ServiceConfig::time_correlation)):
    /// every step of one customer's unsubscribe shares it, at every service
    /// (the source's request, a saga's deletes and restores, the broker's
    /// persist of its event, the first delivery of the event to every
    /// subscriber). A redelivery has a key of its own per attempt. `None`
    /// for work that belongs to no one request (batch writes, scans,
    /// background updates and their events).
    pub fn correlation_key(&self) -> Option<u64> {
        // The attempt above the 32-bit customer; 0 for every first step.
        let key = |customer: CustomerId, later_attempt: u32| u64::from(later_attempt) << 32 | u64::from(customer);
        match self {
            Work::Unsubscribe { customer, .. } | Work::Persist { customer, update: false, .. } => {
                Some(key(*customer, 0))
            }
            Work::Consume { delivery, .. } if !delivery.update => {
                Some(key(delivery.customer, delivery.attempt.saturating_sub(1)))
            }
            Work::Call { op, .. } => op.row().map(|c| key(c, 0)),
            _ => None,
        }
    }
}

/// A short label for traces.
pub fn label(msg: &Msg) -> &'static str {
    match msg {
        Msg::Unsubscribe { .. } => "unsubscribe",
        Msg::Answer { .. } => "answer",
        Msg::Call { op, .. } => match op {
            Op::Delete(_) => "call:delete",
            Op::Restore(_) => "call:restore",
            Op::FencedDelete { .. } => "call:fenced_delete",
            Op::FencedRestore { .. } => "call:fenced_restore",
            Op::DeleteMany(_) => "call:delete_many",
            Op::ScanAbsent => "call:scan_absent",
            Op::ScanPresent(_) => "call:scan_present",
            Op::ReadChanges => "call:read_changes",
            Op::ClearChanges(_) => "call:clear_changes",
            Op::ReadLog { .. } => "call:read_log",
        },
        Msg::Reply { .. } => "reply",
        Msg::Publish { .. } => "publish",
        Msg::PublishAck { .. } => "publish_ack",
        Msg::PublishUpdate { .. } => "publish_update",
        Msg::UpdateAck { .. } => "update_ack",
        Msg::Update { .. } => "update",
        Msg::UpdateArrival => "update_arrival",
        Msg::SignupArrival => "signup_arrival",
        Msg::Deliver(_) => "deliver",
        Msg::Ack(_) => "ack",
        Msg::Nack(_) => "nack",
        Msg::Arrival => "arrival",
        Msg::UserReady { .. } => "user_ready",
        Msg::Resubscribe { .. } => "resubscribe",
        Msg::ClientTimeout { .. } => "client_timeout",
        Msg::Done(_) => "done",
        Msg::CallTimeout { .. } => "call_timeout",
        Msg::Retry { .. } => "retry",
        Msg::SyncTick { .. } => "sync_tick",
        Msg::BillingRun => "billing_run",
        Msg::AckTimeout(_) => "ack_timeout",
        Msg::DispatchDue => "dispatch_due",
        Msg::DlqRepair => "dlq_repair",
        Msg::OutboxPoll => "outbox_poll",
        Msg::PublishNow { .. } => "publish_now",
        Msg::PublishRetry { .. } => "publish_retry",
        Msg::LogRead { .. } => "log_read",
        Msg::LogEntry { .. } => "log_entry",
        Msg::ShipLog { .. } => "ship_log",
        Msg::TailTick => "tail_tick",
        Msg::OffsetCommit => "offset_commit",
    }
}

/// A message reached a component that has no part in it: a bug in the
/// model's wiring, never a consequence of faults (which lose, delay or
/// duplicate messages, but never re-address them).
///
/// # Panics
/// Always, naming the component and the message.
#[cold]
#[track_caller]
pub fn unexpected(node: &str, msg: &Msg) -> ! {
    panic!("{node} got a message it has no part in: {}", label(msg))
}
