//! The dispatcher: the job that turns one stored delivery into an event and hands the event on.
//!
//! It runs in the delivery's own ordering (per repository, in arrival order), records the event,
//! gives it to the [`EventSink`] (the coordinator, once there is one) and marks the delivery
//! handled, all in one transaction that also completes the job behind its fence: either all of it
//! happens once, or none of it does and the job runs again.

use crate::events::{self, Event, EventHeaders, Normalized};
use crate::ingress::{DeliveryJob, payload};
use crate::jobs::{BoxFuture, Discarded, JobContext, JobError, JobHandler};
use crate::metrics::Metrics;
use crate::store::deliveries::{self, DeliveryState, StoredDelivery};
use crate::store::{self, Conn, Durability, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Acts on events as they are dispatched, inside the transaction that records them, so what it
/// writes (follow-up jobs, state changes) commits together with the event or not at all. It waits
/// on nothing but the database: on SQLite the transaction holds the only write lock, so slow work
/// (forge calls, agent runs) belongs in jobs the sink enqueues.
pub trait EventSink: Send + Sync + 'static {
    /// Takes one event; `event_id` is its stored id. An error rolls everything back and the
    /// delivery is retried (or fails, per the error).
    fn accept<'a>(
        &'a self,
        conn: &'a mut Conn,
        event_id: i64,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), JobError>>;
}

/// The handler of [`DeliveryJob`]s.
pub struct Dispatcher {
    sink: Option<Arc<dyn EventSink>>,
    metrics: Arc<Metrics>,
}

impl Dispatcher {
    /// A dispatcher that records events and passes them to `sink`, if there is one.
    pub fn new(sink: Option<Arc<dyn EventSink>>, metrics: Arc<Metrics>) -> Dispatcher {
        Dispatcher { sink, metrics }
    }

    async fn dispatch(&self, ctx: &JobContext, delivery_id: i64) -> Result<(), JobError> {
        let delivery = {
            let mut conn = ctx.store().reader().await?;
            deliveries::get(&mut conn, delivery_id).await?
        };
        let Some(delivery) = delivery else {
            return Err(JobError::Permanent(format!(
                "delivery {delivery_id} is not stored"
            )));
        };
        let span = tracing::info_span!(
            "delivery",
            forge = %delivery.received.forge,
            delivery = %delivery.received.delivery_id,
            event = %delivery.received.event,
        );
        async {
            if delivery.state != DeliveryState::Pending {
                // Handled by an earlier attempt whose job completion was lost; nothing to redo.
                return ctx.finish_empty().await;
            }
            // Reading happens before the transaction: on SQLite it holds the only write lock.
            let normalized = read(&delivery)?;
            // Queue durability: losing this commit to a power cut leaves the delivery pending
            // and its job due, so it is dispatched again, as after a crash just before it.
            let mut tx = ctx.store().begin_for(Durability::Queue).await?;
            let now = ctx.now_ms();
            let (state, outcome) = match normalized {
                Normalized::Event(event) => {
                    let stored = store::events::insert(&mut tx, delivery.id, &event, now).await?;
                    if let (Some(sink), Some(event_id)) = (&self.sink, stored) {
                        sink.accept(&mut tx, event_id, &event).await?;
                    }
                    tracing::info!(event = event.name(), "dispatched event");
                    (DeliveryState::Processed, event.name().to_string())
                }
                Normalized::Ignored(reason) => {
                    tracing::debug!(%reason, "ignored delivery");
                    (DeliveryState::Ignored, reason)
                }
            };
            deliveries::finish(&mut tx, delivery.id, state, &outcome, now).await?;
            // Deliveries and events are not audited: nothing to seal.
            ctx.finish_unsealed(tx).await?;
            self.observe(&delivery, state, now);
            Ok(())
        }
        .instrument(span)
        .await
    }

    fn observe(&self, delivery: &StoredDelivery, state: DeliveryState, now: i64) {
        let latency =
            Duration::from_millis(now.saturating_sub(delivery.received.received_at).max(0) as u64);
        self.metrics.delivery_handled(
            delivery.received.forge.as_str(),
            &delivery.received.event,
            state.as_str(),
            latency,
        );
    }
}

/// Reads a stored delivery as its event. A body that is not what its headers claim fails the
/// delivery for good: retrying cannot change the bytes.
fn read(delivery: &StoredDelivery) -> Result<Normalized, JobError> {
    let json = payload::json_bytes(&delivery.received.content_type, &delivery.received.body)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
    let headers = EventHeaders {
        event: &delivery.received.event,
        event_type: delivery.received.event_type.as_deref(),
    };
    events::normalize(delivery.received.forge, &headers, &json)
        .map_err(|e| JobError::Permanent(e.to_string()))
}

impl JobHandler for Dispatcher {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let job: DeliveryJob = ctx.payload()?;
            self.dispatch(ctx, job.delivery).await
        })
    }

    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(DeliveryJob { delivery: id, .. }) = failed.payload() else {
                return Ok(());
            };
            let Discarded {
                conn, error, now, ..
            } = failed;
            let Some(delivery) = deliveries::get(conn, id).await? else {
                return Ok(());
            };
            deliveries::finish(conn, id, DeliveryState::Failed, error, now).await?;
            tracing::error!(
                forge = %delivery.received.forge,
                delivery = %delivery.received.delivery_id,
                event = %delivery.received.event,
                %error,
                "delivery failed"
            );
            self.observe(&delivery, DeliveryState::Failed, now);
            Ok(())
        })
    }
}
