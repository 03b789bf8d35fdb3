//! Driving one relayed connection: its two ends, and one direction ([`Flow`]) or two over them.
//!
//! The loop: give every direction that can move a turn; when none can, park until an end is ready
//! for what a direction parked on it waits for ([`poller`]), and wake that direction. One task
//! per connection: both directions of a proxy stay on one thread, and a failure in either stops
//! both at once.

use super::end::RelayEnd;
use super::flow::{Flow, Side, Turn};
use super::poller::{self, Readiness};
use crate::error::Failure;
use crate::limits::STEP_BYTES;

/// One direction of a connection: the flow, the ends it reads and writes, and where it stands.
pub struct Route {
    pub flow: Flow,
    from: usize,
    to: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ready,
    /// Waiting for `end` to be ready for `wants`.
    Parked {
        end: usize,
        wants: Readiness,
    },
    Ended,
}

impl Route {
    /// `flow` reads end `from` and writes end `to` (0 or 1).
    pub fn new(flow: Flow, from: usize, to: usize) -> Self {
        Route {
            flow,
            from,
            to,
            state: State::Ready,
        }
    }

    fn take_turn(&mut self, ends: &[RelayEnd; 2]) -> Result<(), Failure> {
        let turn = self
            .flow
            .turn(&ends[self.from], &ends[self.to], STEP_BYTES)?;
        self.state = match turn {
            Turn::Parked(Side::Source) => State::Parked {
                end: self.from,
                wants: Readiness::READABLE,
            },
            Turn::Parked(Side::Destination) => State::Parked {
                end: self.to,
                wants: Readiness::WRITABLE,
            },
            Turn::Ended => State::Ended,
            Turn::Spent => State::Ready,
        };
        Ok(())
    }

    /// What this route waits for on `end`, if anything.
    fn waits_on(&self, end: usize) -> Readiness {
        match self.state {
            State::Parked { end: e, wants } if e == end => wants,
            _ => Readiness::NONE,
        }
    }

    /// Ready again if its end reported what it waits for.
    fn wake(&mut self, reported: &[Readiness; 2]) {
        if let State::Parked { end, wants } = self.state {
            if reported[end].intersects(wants) {
                self.state = State::Ready;
            }
        }
    }
}

/// Relays until every route has ended or one fails. `on_progress` hears the sum of the routes'
/// byte counts at most once per `STEP_BYTES`. Must run inside a tokio runtime with IO enabled.
/// Cancel by dropping the future: the counts stay right, and a pipe left holding bytes is
/// closed, not pooled.
pub async fn run(
    ends: &[RelayEnd; 2],
    routes: &mut [Route],
    on_progress: &mut (impl FnMut(u64) + Send),
) -> Result<(), Failure> {
    let mut progress = total(routes);
    loop {
        for route in routes.iter_mut().filter(|r| r.state == State::Ready) {
            route.take_turn(ends)?;
        }
        let bytes = total(routes);
        if bytes - progress >= STEP_BYTES {
            progress = bytes;
            on_progress(bytes);
        }
        if routes.iter().all(|r| r.state == State::Ended) {
            return Ok(());
        }
        if routes.iter().any(|r| r.state == State::Ready) {
            // A whole step moved without a park: let the other connections on this thread have a
            // turn (a park is a turn for them too).
            tokio::task::yield_now().await;
            continue;
        }
        let wanted = [0, 1].map(|end| {
            routes
                .iter()
                .fold(Readiness::NONE, |all, r| all | r.waits_on(end))
        });
        let reported = poller::wait(ends, wanted).await?;
        for route in routes.iter_mut() {
            route.wake(&reported);
        }
    }
}

fn total(routes: &[Route]) -> u64 {
    routes.iter().map(|r| r.flow.bytes()).sum()
}
