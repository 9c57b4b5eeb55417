//! The users: an open-loop Poisson stream of unsubscribe requests, or a
//! closed loop of users who wait for each answer and think before the next.
//!
//! Arrival times and the choice of customer come from the `"workload"`
//! stream only, so under one seed every pattern sees exactly the same
//! requests at exactly the same instants (common random numbers).
//! Re-subscriptions draw from `"workload/resubscribe"`, per request, so
//! whether and when a customer comes back does not depend on the order in
//! which the patterns answer.

use rand::Rng;
use sim_core::{Component, NodeId, SimDuration, SimRng, SimTime, TimerId};

use crate::config::WorkloadConfig;
use crate::ctx::Ctx;
use crate::id_window::IdWindow;
use crate::msg::{unexpected, CustomerId, Msg, RequestId};
use crate::world::{Outcome, World};

/// The user population.
#[derive(Debug)]
pub struct Client {
    cfg: WorkloadConfig,
    entry: NodeId,
    rng: SimRng,
    /// Customers not yet picked sit at `order[picked..]`. Customers the
    /// config pins to a scripted arrival are not in it: no draw takes them.
    order: Vec<CustomerId>,
    picked: usize,
    scripted: usize,
    end: SimTime,
    /// Each waiting request's timeout, and its closed-loop user if any.
    waiting: IdWindow<RequestId, (TimerId, Option<u32>)>,
    /// Whose re-subscription is drawn from, with the seed of its stream.
    resubscribe_seed: u64,
    /// The source service, which background profile updates go to.
    source: NodeId,
    /// Background traffic: update and signup arrivals, each from its own
    /// stream so that turning one on leaves the unsubscribes as they were.
    updates_rng: SimRng,
    signups_rng: SimRng,
}

impl Client {
    /// Users of `customers` customers sending to `entry`, drawing from `rng`.
    ///
    /// `resubscribe_seed` seeds each request's re-subscription draws
    /// (see [`RngFactory::child_seed`](sim_core::RngFactory)).
    /// Background profile updates go to `source`, with arrivals and
    /// customers drawn from `updates_rng`; new subscriptions arrive by
    /// `signups_rng`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: WorkloadConfig,
        entry: NodeId,
        customers: u32,
        rng: SimRng,
        resubscribe_seed: u64,
        source: NodeId,
        updates_rng: SimRng,
        signups_rng: SimRng,
    ) -> Self {
        let end = SimTime::ZERO + cfg.duration;
        let pinned: std::collections::BTreeSet<CustomerId> = cfg.at.iter().filter_map(|a| a.customer()).collect();
        let order = (0..customers).filter(|c| !pinned.contains(c)).collect();
        Client {
            cfg,
            entry,
            rng,
            order,
            picked: 0,
            scripted: 0,
            end,
            waiting: IdWindow::new(),
            resubscribe_seed,
            source,
            updates_rng,
            signups_rng,
        }
    }

    /// Schedules the next background arrival at `rate` per second, drawing
    /// the gap from `rng`, unless the arrival window is over.
    fn next_background(ctx: &mut Ctx<'_>, rng: &mut SimRng, rate: f64, end: SimTime, msg: Msg) {
        if rate > 0.0 {
            let t = ctx.now() + SimDuration::from_secs_f64(sim_core::draw::exp1(rng) / rate);
            if t < end {
                ctx.schedule_at(t, msg);
            }
        }
    }

    /// A customer told "unsubscribed" may come back: drawn per request, so
    /// the same customers come back at the same delays under every pattern.
    fn maybe_resubscribe(&mut self, ctx: &mut Ctx<'_>, req: RequestId) {
        let Some(r) = &self.cfg.resubscribe else { return };
        let mut rng = sim_core::RngFactory::new(self.resubscribe_seed).stream(&format!("request/{req}"));
        if r.probability > 0.0 && rng.random_bool(r.probability) {
            let after = r.after.sample(&mut rng);
            // Just answered, so not retired.
            let Some(customer) = ctx.state().request(req).map(|r| r.customer) else { return };
            ctx.state_mut().expect_resubscribe(req);
            ctx.schedule_after(after, Msg::Resubscribe { customer });
        }
    }

    /// Requests answered or timed out... still waiting for an answer.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn next_gap(&mut self) -> Option<SimDuration> {
        if self.cfg.rate_per_s <= 0.0 {
            return None;
        }
        let x = sim_core::draw::exp1(&mut self.rng);
        Some(SimDuration::from_secs_f64(x / self.cfg.rate_per_s))
    }

    fn schedule_next(&mut self, ctx: &mut Ctx<'_>) {
        if !self.cfg.at.is_empty() {
            if let Some(a) = self.cfg.at.get(self.scripted) {
                self.scripted += 1;
                ctx.schedule_at(a.time().max(ctx.now()), Msg::Arrival);
            }
            return;
        }
        if let Some(gap) = self.next_gap() {
            let t = ctx.now() + gap;
            if t < self.end {
                ctx.schedule_at(t, Msg::Arrival);
            }
        }
    }

    /// A closed-loop user thinks, then sends again (until the arrival window closes).
    fn think(&mut self, ctx: &mut Ctx<'_>, user: u32) {
        let Some(c) = &self.cfg.closed_loop else { return };
        let t = ctx.now() + c.think_time.sample(&mut self.rng);
        if t < self.end {
            ctx.schedule_at(t, Msg::UserReady { user });
        }
    }

    fn send(&mut self, ctx: &mut Ctx<'_>, user: Option<u32>, pinned: Option<CustomerId>) -> bool {
        let customer = match pinned {
            Some(c) => c,
            None => {
                if self.picked >= self.order.len() {
                    return false;
                }
                // One step of a Fisher-Yates shuffle: a uniform pick among
                // the customers who have not unsubscribed yet.
                let j = self.rng.random_range(self.picked..self.order.len());
                self.order.swap(self.picked, j);
                self.picked += 1;
                self.order[self.picked - 1]
            }
        };
        let now = ctx.now();
        let req = ctx.state_mut().new_request(customer, now);
        ctx.send(self.entry, Msg::Unsubscribe { req, customer });
        let t = ctx.set_timer(self.cfg.client_timeout, Msg::ClientTimeout { req });
        self.waiting.insert(req, (t, user));
        true
    }

    fn arrive(&mut self, ctx: &mut Ctx<'_>) {
        // A scripted arrival is the one scheduled last; it may name its customer.
        let pinned = self.scripted.checked_sub(1).and_then(|i| self.cfg.at.get(i)).and_then(|a| a.customer());
        self.send(ctx, None, pinned);
        self.schedule_next(ctx);
    }
}

impl Component<World> for Client {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        match self.cfg.closed_loop.as_ref().map(|c| c.users) {
            // Every user starts with a think time, so they do not all fire at once.
            Some(users) => (0..users).for_each(|u| self.think(ctx, u)),
            None => self.schedule_next(ctx),
        }
        if let Some(b) = self.cfg.background.clone() {
            Self::next_background(ctx, &mut self.updates_rng, b.updates_per_s, self.end, Msg::UpdateArrival);
            Self::next_background(ctx, &mut self.signups_rng, b.signups_per_s, self.end, Msg::SignupArrival);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Arrival => self.arrive(ctx),
            Msg::UserReady { user } => {
                self.send(ctx, Some(user), None);
            }
            Msg::Answer { req, ok } => {
                if let Some((t, user)) = self.waiting.remove(req) {
                    ctx.cancel_timer(t);
                    let outcome = if ok { Outcome::Ok } else { Outcome::Error };
                    let now = ctx.now();
                    ctx.state_mut().answer(req, outcome, now);
                    if ok {
                        self.maybe_resubscribe(ctx, req);
                    }
                    if let Some(u) = user {
                        self.think(ctx, u);
                    }
                }
            }
            Msg::UpdateArrival => {
                let b = self.cfg.background.clone().unwrap_or_default();
                let customer = self.updates_rng.random_range(0..ctx.state().customers());
                ctx.send(self.source, Msg::Update { customer });
                ctx.state_mut().counters.update_requests += 1;
                Self::next_background(ctx, &mut self.updates_rng, b.updates_per_s, self.end, Msg::UpdateArrival);
            }
            Msg::SignupArrival => {
                let b = self.cfg.background.clone().unwrap_or_default();
                ctx.state_mut().signup();
                Self::next_background(ctx, &mut self.signups_rng, b.signups_per_s, self.end, Msg::SignupArrival);
            }
            Msg::Resubscribe { customer } => {
                let now = ctx.now();
                ctx.state_mut().resubscribe(customer, now);
            }
            Msg::ClientTimeout { req } => {
                if let Some((_, user)) = self.waiting.remove(req) {
                    let now = ctx.now();
                    ctx.state_mut().answer(req, Outcome::Timeout, now);
                    if let Some(u) = user {
                        self.think(ctx, u);
                    }
                }
            }
            other => unexpected("the client", &other),
        }
    }
}

impl crate::node::Service for Client {}
