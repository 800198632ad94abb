//! The HTTP surface: the page, `GET /api/forecast`, `POST /api/track` and
//! the push channel `GET /api/events` (server-sent events). Every request
//! carries a token (`?token=` or `Authorization: Bearer`): none, or one we
//! do not know, is 401; a write with the sponsor's is 403.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use jiff::Timestamp;
use rehearse_sim::track::{Entry, TrackError};
use serde::Deserialize;
use serde_json::json;

use crate::access::Role;
use crate::board::{long, record_text, zone_of};
use crate::hub::Hub;

/// The page, one file, no external assets.
const PAGE: &str = include_str!("page.html");

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    token: Option<String>,
    /// The push channel: send records after this seq only.
    after: Option<u64>,
}

pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/forecast", get(forecast))
        .route("/api/track", axum::routing::post(track))
        .route("/api/events", get(events))
        .with_state(hub)
}

fn error(status: StatusCode, why: impl std::fmt::Display) -> Response {
    (status, axum::Json(json!({ "error": why.to_string() }))).into_response()
}

/// The role the request's token gives, or the 401 and why.
fn role(hub: &Hub, headers: &HeaderMap, params: &Params) -> Result<Role, (StatusCode, &'static str)> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let token = params.token.as_deref().or(bearer);
    let Some(token) = token else {
        return Err((StatusCode::UNAUTHORIZED, "a token is needed: ?token= or Authorization: Bearer"));
    };
    hub.access.role(token).ok_or((StatusCode::UNAUTHORIZED, "unknown token"))
}

async fn page(State(hub): State<Arc<Hub>>, headers: HeaderMap, Query(params): Query<Params>) -> Response {
    match role(&hub, &headers, &params) {
        Ok(r) => {
            let mut resp = Html(PAGE.replace("{{ROLE}}", r.key())).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err((status, why)) => error(status, why),
    }
}

/// The latest board (waiting for the first one, made when the server
/// starts), with the caller's role.
async fn forecast(State(hub): State<Arc<Hub>>, headers: HeaderMap, Query(params): Query<Params>) -> Response {
    let r = match role(&hub, &headers, &params) {
        Ok(r) => r,
        Err((status, why)) => return error(status, why),
    };
    let mut rx = hub.board.subscribe();
    let Ok(b) = rx.wait_for(Option::is_some).await.map(|b| b.clone()) else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    };
    let b = b.expect("waited for");
    let body = format!("{{\"role\":\"{}\",\"version\":{},\"doc\":{}}}", r.key(), b.version, b.json);
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// A record as the push channel sends it.
pub fn record_json(e: &Entry, zone: &jiff::tz::TimeZone) -> serde_json::Value {
    json!({
        "seq": e.seq, "at": e.at.to_string(), "at_display": long(e.at.timestamp(), zone),
        "by": e.by, "kind": e.record.kind(), "text": record_text(&e.record), "record": e.record,
    })
}

async fn track(State(hub): State<Arc<Hub>>, headers: HeaderMap, Query(params): Query<Params>, body: Bytes) -> Response {
    match role(&hub, &headers, &params) {
        Ok(Role::Bridge) => {}
        Ok(Role::Sponsor) => return error(StatusCode::FORBIDDEN, "the sponsor's token is read-only"),
        Err((status, why)) => return error(status, why),
    }
    // The edge: a record without `at` is stamped now, and nothing may be
    // recorded after now (the drill's clock, in a drill).
    let now = hub.now();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let draft = match crate::write::draft(&hub.scenario, &body, key, now) {
        Ok(d) => d,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    if hub.drill.is_some()
        && let Some(why) = drill_refuses(&draft, now)
    {
        return error(StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    let recorded = {
        let _one_at_a_time = hub.write_lock.lock().await;
        let path = hub.path.clone();
        tokio::task::spawn_blocking(move || rehearse_sim::track::record(&path, draft, now)).await
    };
    let recorded = match recorded {
        Ok(r) => r,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("the write stopped: {e}")),
    };
    match recorded {
        Ok(r) => {
            hub.written();
            let status = if r.already { StatusCode::OK } else { StatusCode::CREATED };
            let mut body = record_json(&r.entry, &zone_of(&hub.scenario));
            body["already"] = json!(r.already);
            (status, axum::Json(body)).into_response()
        }
        Err(e @ (TrackError::Refused { .. } | TrackError::Breaks { .. })) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(e @ TrackError::KeyReused { .. }) => error(StatusCode::CONFLICT, e),
        Err(e @ TrackError::BadKey) => error(StatusCode::BAD_REQUEST, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Why a drill does not take `draft` from people, if it does not: its
/// steps start, finish and fail on their own, its time is its own.
fn drill_refuses(draft: &rehearse_sim::track::Draft, now: Timestamp) -> Option<&'static str> {
    use rehearse_sim::track::Record;
    if !matches!(draft.record, Record::Decision { .. } | Record::Note { .. }) {
        return Some("in a drill, steps start, finish and fail on their own: record decisions and notes");
    }
    if draft.at.unix_ms() != now.as_millisecond() {
        return Some("in a drill, records are stamped with the drill's clock: leave `at` out");
    }
    if draft.by.as_deref() == Some(rehearse_sim::drill::BY) {
        return Some("`by` \"drill\" is the drill's own name: say who decides");
    }
    None
}

/// What one page's stream has sent.
struct Follow {
    hub: Arc<Hub>,
    next_seq: u64,
    board_seen: u64,
    records: tokio::sync::watch::Receiver<u64>,
    board: tokio::sync::watch::Receiver<Option<Arc<crate::hub::BoardText>>>,
    pending: std::collections::VecDeque<Event>,
    zone: jiff::tz::TimeZone,
}

/// The push channel: every record after `after` (or the `Last-Event-ID` a
/// reconnecting page sends; all of them otherwise), each as an event
/// `record` with its seq as id, then every new board as an event
/// `forecast`.
async fn events(State(hub): State<Arc<Hub>>, headers: HeaderMap, Query(params): Query<Params>) -> Response {
    if let Err((status, why)) = role(&hub, &headers, &params) {
        return error(status, why);
    }
    let last_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let next_seq = last_id.or(params.after).map_or(0, |s| s + 1);
    let follow = Follow {
        records: hub.records.subscribe(),
        board: hub.board.subscribe(),
        zone: zone_of(&hub.scenario),
        hub,
        next_seq,
        board_seen: 0,
        pending: Default::default(),
    };
    Sse::new(stream(follow)).keep_alive(KeepAlive::default()).into_response()
}

fn stream(follow: Follow) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(ev) = f.pending.pop_front() {
                return Some((Ok(ev), f));
            }
            f.records.borrow_and_update();
            let log = f.hub.log();
            let entries = log.entries();
            if (entries.len() as u64) > f.next_seq {
                for e in &entries[f.next_seq as usize..] {
                    let data = record_json(e, &f.zone).to_string();
                    f.pending.push_back(Event::default().event("record").id(e.seq.to_string()).data(data));
                }
                f.next_seq = entries.len() as u64;
                continue;
            }
            let board = f.board.borrow_and_update().clone();
            if let Some(b) = board
                && b.version != f.board_seen
            {
                f.board_seen = b.version;
                f.pending.push_back(Event::default().event("forecast").data(b.json.clone()));
                continue;
            }
            tokio::select! {
                r = f.records.changed() => if r.is_err() { return None },
                r = f.board.changed() => if r.is_err() { return None },
            }
        }
    })
}
