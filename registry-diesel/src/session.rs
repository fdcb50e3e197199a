//! What each new server connection is told: its connection URL's timeout parameters and its
//! session's statement timeout.

use std::time::Duration;

/// The PostgreSQL URL with socket and connection timeouts added, unless the URL sets them.
///
/// * `connect_timeout`: how long libpq waits for the server while connecting, in whole
///   seconds (libpq treats anything below 2 as 2).
/// * `keepalives` and `tcp_user_timeout`: a connection whose packets go unacknowledged (a
///   dead peer, a dropped network path) fails after the statement timeout instead of the
///   kernel's default of about fifteen minutes.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn postgres_url(url: &str, connect: Duration, statement: Duration) -> String {
    let connect_secs = connect.as_millis().div_ceil(1000).max(2);
    let statement_ms = statement.as_millis().max(1);
    let idle_secs = statement.as_secs().max(1);
    let params = [
        ("connect_timeout", connect_secs.to_string()),
        ("keepalives", "1".to_owned()),
        ("keepalives_idle", idle_secs.to_string()),
        ("keepalives_interval", "1".to_owned()),
        ("keepalives_count", "3".to_owned()),
        ("tcp_user_timeout", statement_ms.to_string()),
    ];
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let mut with_params = url.to_owned();
    for (key, value) in params {
        let present = query
            .split('&')
            .any(|pair| pair.split_once('=').map_or(pair, |(k, _)| k) == key);
        if !present {
            with_params.push(if with_params.contains('?') { '&' } else { '?' });
            with_params.push_str(&format!("{key}={value}"));
        }
    }
    with_params
}

/// PostgreSQL: the server cancels a statement running longer than this and answers with an
/// error, so a slow statement ends without losing the connection.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn postgres_statement_timeout(timeout: Duration) -> String {
    format!(
        "SET statement_timeout = {};",
        server_timeout(timeout).as_millis().max(1)
    )
}

/// MariaDB's `max_statement_time` (seconds, any statement); MySQL's `max_execution_time`
/// (milliseconds, `SELECT` only) where MariaDB's is unknown.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn mysql_statement_timeouts(timeout: Duration) -> [String; 2] {
    let timeout = server_timeout(timeout);
    [
        format!(
            "SET SESSION max_statement_time = {:.3};",
            timeout.as_secs_f64().max(0.001)
        ),
        format!(
            "SET SESSION max_execution_time = {};",
            timeout.as_millis().max(1)
        ),
    ]
}

/// The server's own timeout fires a little before the client's deadline, so that a statement
/// the server merely runs too long ends with the server's error and keeps its connection; the
/// client's deadline (see `crate::deadline`) is for a server that cannot answer at all.
fn server_timeout(timeout: Duration) -> Duration {
    timeout * 9 / 10
}

/// The host and port part of a server URL, without the user info (and its password).
pub(crate) fn url_server(url: &str) -> &str {
    let Some((_, rest)) = url.split_once("://") else {
        return "";
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// The TCP port a server URL names, or the backend's default.
pub(crate) fn url_port(url: &str, default: u16) -> u16 {
    let host_port = url_server(url);
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host_port.ends_with(']') => {
            port.parse().unwrap_or(default)
        }
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_timeouts_unless_they_set_them() {
        let url = postgres_url(
            "postgres://u@h/db",
            Duration::from_millis(300),
            Duration::from_millis(2500),
        );
        assert_eq!(
            url,
            "postgres://u@h/db?connect_timeout=2&keepalives=1&keepalives_idle=2&\
             keepalives_interval=1&keepalives_count=3&tcp_user_timeout=2500"
        );
        let own = postgres_url(
            "postgres://u@h/db?connect_timeout=9&sslmode=disable",
            Duration::from_secs(5),
            Duration::from_secs(2),
        );
        assert!(
            own.starts_with("postgres://u@h/db?connect_timeout=9&sslmode=disable&keepalives=1")
        );
        assert_eq!(own.matches("connect_timeout").count(), 1);
    }

    #[test]
    fn ports_come_from_the_url() {
        assert_eq!(url_port("postgres://u:p@h:6543/db?x=1", 5432), 6543);
        assert_eq!(url_port("postgres://u@h/db", 5432), 5432);
        assert_eq!(url_port("mysql://root@127.0.0.1:3307", 3306), 3307);
        assert_eq!(url_port("mysql://root@[::1]/db", 3306), 3306);
        assert_eq!(url_server("postgres://u:p@w@h:6543/db?x=1"), "h:6543");
    }

    #[test]
    fn server_timeouts_come_just_before_the_deadline() {
        assert_eq!(
            postgres_statement_timeout(Duration::from_secs(2)),
            "SET statement_timeout = 1800;"
        );
        assert_eq!(
            mysql_statement_timeouts(Duration::from_secs(2))[0],
            "SET SESSION max_statement_time = 1.800;"
        );
    }
}
