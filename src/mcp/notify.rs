//! Who hears that the set of notes changed: `notifications/resources/list_changed` for the
//! sessions of 2025-03-26 … 2025-11-25 (on their GET stream) and for the 2026-07-28
//! `subscriptions/listen` streams that asked for `resourcesListChanged`.
//!
//! A listen stream's notifications go through rmcp's `SubscriptionSink`, which tags each one
//! with the subscription id and refuses kinds the subscription did not accept; the
//! acknowledgement before them is sent by rmcp when the subscription is established.
//!
//! On shutdown, listen streams end gracefully: [`Notifier::close_listen_streams`] makes every
//! `listen` return, so rmcp sends the final `subscriptions/listen` result (the spec's "ended
//! gracefully", unlike a dropped connection), and waits until those responses are written
//! (the HTTP layer holds a [`Notifier::listen_stream_opened`] token per listen response)
//! before the server cuts the remaining streams.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::service::{Peer, SubscriptionSendError, SubscriptionSink};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// The sessions and listen streams to tell when the set of notes changes.
#[derive(Default)]
pub struct Notifier {
    sessions: Mutex<Vec<Peer<RoleServer>>>,
    listeners: Mutex<Vec<(u64, SubscriptionSink)>>,
    next_listener: AtomicU64,
    /// Cancelled when the server stops: every `listen` returns.
    closing: CancellationToken,
    /// One token per `subscriptions/listen` HTTP response still being written.
    open_streams: TaskTracker,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("sessions", &self.sessions.lock().map_or(0, |p| p.len()))
            .field("listeners", &self.listener_count())
            .finish()
    }
}

/// A listen stream's place in the [`Notifier`]; dropping it (the stream ended) removes it.
pub(crate) struct Listening<'a> {
    notifier: &'a Notifier,
    id: u64,
}

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        if let Ok(mut listeners) = self.notifier.listeners.lock() {
            listeners.retain(|(id, _)| *id != self.id);
        }
    }
}

impl Notifier {
    /// A session that finished `initialize` (its peer is how its GET stream is reached).
    pub(crate) fn register_session(&self, peer: Peer<RoleServer>) {
        if let Ok(mut peers) = self.sessions.lock() {
            peers.retain(|p| !p.is_transport_closed());
            peers.push(peer);
        }
    }

    /// A `subscriptions/listen` stream that accepted `resourcesListChanged`, until the
    /// returned guard is dropped.
    pub(crate) fn register_listener(&self, sink: SubscriptionSink) -> Listening<'_> {
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.push((id, sink));
        }
        Listening { notifier: self, id }
    }

    /// Cancelled when listen streams are to end (the server is stopping).
    pub(crate) fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// Held by the HTTP layer while a `subscriptions/listen` response is being written.
    pub fn listen_stream_opened(&self) -> TaskTrackerToken {
        self.open_streams.token()
    }

    /// Ends every listen stream gracefully (each gets its final result) and waits, at most
    /// `within`, until their responses are written. New listen requests from then on end at
    /// once the same way.
    pub async fn close_listen_streams(&self, within: Duration) {
        self.closing.cancel();
        self.open_streams.close();
        if tokio::time::timeout(within, self.open_streams.wait())
            .await
            .is_err()
        {
            tracing::debug!(
                open = self.open_streams.len(),
                "listen streams still open at shutdown"
            );
        }
    }

    /// Open listen streams that asked for resource list changes.
    pub fn listener_count(&self) -> usize {
        self.listeners.lock().map_or(0, |l| l.len())
    }

    /// Tells every open session and listen stream that the list of notes changed; forgets
    /// the closed ones.
    pub async fn resources_changed(&self) {
        let peers: Vec<Peer<RoleServer>> = match self.sessions.lock() {
            Ok(mut peers) => {
                peers.retain(|p| !p.is_transport_closed());
                peers.clone()
            }
            Err(_) => Vec::new(),
        };
        for peer in peers {
            if let Err(e) = peer.notify_resource_list_changed().await {
                tracing::debug!("could not notify a session: {e}");
            }
        }
        let sinks: Vec<(u64, SubscriptionSink)> = self
            .listeners
            .lock()
            .map_or_else(|_| Vec::new(), |l| l.clone());
        let mut closed = Vec::new();
        for (id, sink) in sinks {
            match sink.notify_resource_list_changed().await {
                Ok(()) => {}
                Err(SubscriptionSendError::SubscriptionClosed) => closed.push(id),
                Err(e) => tracing::debug!("could not notify a listen stream: {e}"),
            }
        }
        if !closed.is_empty()
            && let Ok(mut listeners) = self.listeners.lock()
        {
            listeners.retain(|(id, _)| !closed.contains(id));
        }
    }
}
