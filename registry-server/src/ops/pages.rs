//! The embedded pages and their assets.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

const DASHBOARD_HTML: &str = include_str!("../../assets/dashboard.html");
const TRACES_HTML: &str = include_str!("../../assets/traces.html");
const DOCS_HTML: &str = include_str!("../../assets/docs.html");
const ASSETS: [(&str, &str, &str); 5] = [
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard.js"),
    ),
    (
        "pictures.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/pictures.js"),
    ),
    (
        "traces.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/traces.js"),
    ),
    (
        "docs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/docs.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/style.css"),
    ),
];

fn html(text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

/// `GET /`: the dashboard.
pub(crate) async fn dashboard() -> Response {
    html(DASHBOARD_HTML)
}

/// `GET /traces`: the traces view.
pub(crate) async fn traces() -> Response {
    html(TRACES_HTML)
}

/// `GET /docs`: the API description at `/openapi.json`, rendered.
pub(crate) async fn docs() -> Response {
    html(DOCS_HTML)
}

/// `GET /assets/{name}`: a script or style sheet of the pages.
pub(crate) async fn asset(Path(name): Path<String>) -> Result<Response, AppError> {
    let (_, kind, text) = ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .ok_or_else(|| AppError::NotFound(format!("/assets/{name}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, *kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        *text,
    )
        .into_response())
}
