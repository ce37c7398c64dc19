//! Per-request work does not grow with a person's history: after 50 extensions of one role,
//! one request is open (the others are superseded) and `open_requests_for` returns one row, on
//! every backend. The extensions are paced at the rate limit (one every 6 s).

use chrono::Duration;
use pimbot::core::state::RequestState;

use crate::on_every_backend;
use crate::support::app::TestApp;

#[tokio::test]
async fn fifty_extensions_leave_one_open_request() {
    on_every_backend!(|app: TestApp| async move {
        let (_, first) = app.activate("U0BOB", "reader 30m first look").await;
        app.settle().await;
        let mut last = first.clone();
        for n in 0..50 {
            app.advance(Duration::seconds(6));
            let (reply, id) = app.activate("U0BOB", &format!("reader 30m look {n}")).await;
            assert!(reply.text().contains("Extension"), "{}", reply.text());
            app.settle().await;
            assert_eq!(app.request(&last).await.state, RequestState::Superseded);
            last = id;
        }
        let open = app.store().open_requests_for(&"bob".into()).await.expect("open");
        assert_eq!(open.len(), 1, "{open:#?}");
        assert_eq!(open[0].id, last);
        assert_eq!(open[0].state, RequestState::Active);
        assert_eq!(app.request(&first).await.state, RequestState::Superseded);
        app.stop().await;
    });
}
