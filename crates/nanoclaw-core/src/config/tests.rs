use super::*;

fn load(text: Option<&str>, env: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    let vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let lookup_vars = vars.clone();
    Config::from_parts(
        text,
        "config.yml",
        vars,
        move |name| {
            lookup_vars
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        },
        Path::new("/srv/nanoclaw"),
    )
}

fn err(text: &str) -> String {
    load(Some(text), &[]).unwrap_err().to_string()
}

#[test]
fn no_file_means_single_mode_sqlite_on_loopback() {
    let loaded = load(None, &[]).unwrap();
    let c = loaded.config;
    assert!(!loaded.from_file);
    assert_eq!(c.auth_mode, AuthMode::Single);
    assert_eq!(
        (c.backend_host.as_str(), c.backend_port),
        ("127.0.0.1", 3000)
    );
    assert_eq!(c.jwt_expiry, 604_800);
    assert_eq!(c.password_min_length, 8);
    assert_eq!(c.login_rate_limit, 10);
    assert!(c.cors_origins.is_empty());
    match c.database_target() {
        DatabaseTarget::SqliteFile(p) => {
            assert_eq!(p, Path::new("/srv/nanoclaw/data/nano_claw.db"))
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn original_example_config_loads() {
    let text = r#"
backend_port: 3000
frontend_port: 4000
max_iterations: 15
tool_max_workers: 4
sub_agent: {max_iterations: 3, max_concurrency: 3, timeout: 60}
code_execution:
  default_strictness: standard
  extra_allowed_modules:
    standard: [numpy]
models:
  - id: deepseek-chat
    name: DeepSeek V3
    api_url: https://api.deepseek.com/chat/completions
    api_key: ${DEEPSEEK_API_KEY}
default_model: deepseek-chat
db_type: sqlite
db_sqlite_file: nano_claw.db
workspace_root: ./workspaces
auth_mode: multi
jwt_secret: change-me-to-a-long-random-value
"#;
    let c = load(Some(text), &[("DEEPSEEK_API_KEY", "sk-test")])
        .unwrap()
        .config;
    assert_eq!(c.max_iterations, 15);
    assert_eq!(c.auth_mode, AuthMode::Multi);
    assert_eq!(c.models[0].api_key.as_ref().unwrap().expose(), "sk-test");
    assert_eq!(c.workspace_root, Path::new("/srv/nanoclaw/workspaces"));
    assert_eq!(
        c.code_execution.extra_allowed_modules["standard"],
        vec!["numpy".to_string()]
    );
}

#[test]
fn empty_file_and_keys_without_value_mean_defaults() {
    assert_eq!(load(Some(""), &[]).unwrap().config.max_iterations, 5);
    let c = load(Some("models:\nsub_agent:\n"), &[]).unwrap().config;
    assert!(c.models.is_empty());
    assert_eq!(c.sub_agent.timeout, 60);
}

#[test]
fn errors_name_the_key() {
    assert!(err("backend_port: lots").contains("`backend_port`"));
    assert!(err("sub_agent: {timeout: x}").contains("`sub_agent.timeout`"));
    assert!(err("auth_mode: both").contains("`auth_mode`"));
    assert!(err("db_type: oracle").contains("`db_type`"));
    assert!(err("tool_max_workers: 9").contains("`tool_max_workers`"));
    assert!(err("password_min_length: 0").contains("`password_min_length`"));
    assert!(err("models: [{id: a, name: A, api_url: 'http://u', api_key: k}, {id: a, name: B, api_url: 'http://u', api_key: k}]")
        .contains("`models[1].id`"));
    assert!(
        err("models: [{id: a, name: A, api_url: u, api_key: k}]").contains("`models[0].api_url`")
    );
    assert!(err("models: [{id: a, name: A}]").contains("api_url"));
    assert!(err("db_type: postgresql\ndb_user: u\ndb_password: p").contains("`db_name`"));
    assert!(err("cors_origins: ['*']").contains("`cors_origins[0]`"));
    assert!(err("[1, 2]").contains("mapping"));
    assert!(err("a: [").contains("not valid YAML"));
}

#[test]
fn unset_variables_fail_with_the_key_and_defaults_apply() {
    let e = load(Some("jwt_secret: ${NOPE}"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("`jwt_secret`") && e.contains("NOPE"), "{e}");
    let c = load(Some("db_host: ${DBH:-db.internal}"), &[])
        .unwrap()
        .config;
    assert_eq!(c.db_host, "db.internal");
}

#[test]
fn env_overrides_win_and_are_typed() {
    let c = load(
        Some("auth_mode: single\nsub_agent: {timeout: 5}"),
        &[
            ("NANOCLAW__AUTH_MODE", "multi"),
            ("NANOCLAW__BACKEND_PORT", "8080"),
            ("NANOCLAW__SUB_AGENT__TIMEOUT", "30"),
            ("NANOCLAW__DB_PASSWORD", "123456"),
            (
                "NANOCLAW__CORS_ORIGINS",
                "[https://a.example, http://b.example:8080]",
            ),
        ],
    )
    .unwrap()
    .config;
    assert_eq!(c.auth_mode, AuthMode::Multi);
    assert_eq!(c.backend_port, 8080);
    assert_eq!(c.sub_agent.timeout, 30);
    assert_eq!(c.db_password.unwrap().expose(), "123456");
    assert_eq!(c.cors_origins.len(), 2);
    let e = load(None, &[("NANOCLAW__NOT_A_KEY", "1")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("NANOCLAW__NOT_A_KEY"), "{e}");
}

#[test]
fn unknown_keys_warn() {
    let w = load(Some("colour: blue"), &[]).unwrap().warnings;
    assert!(w.iter().any(|w| w.contains("colour")));
}

#[test]
fn credentials_are_url_encoded() {
    let c = load(
        Some("db_type: PostgreSQL\ndb_user: app\ndb_password: 'p@ss:w/rd#%'\ndb_name: nano\ndb_host: db"),
        &[],
    )
    .unwrap()
    .config;
    match c.database_target() {
        DatabaseTarget::Url(u) => {
            assert_eq!(
                u.expose(),
                "postgres://app:p%40ss%3Aw%2Frd%23%25@db:5432/nano"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    let c = load(
        Some("db_type: mysql\ndb_user: root\ndb_password: 1234\ndb_name: n\ndatabase_url: 'sqlite::memory:'"),
        &[],
    )
    .unwrap()
    .config;
    assert!(
        matches!(c.database_target(), DatabaseTarget::Url(u) if u.expose() == "sqlite::memory:")
    );
}

#[test]
fn data_dir_inside_workspace_is_refused() {
    assert!(err("workspace_root: /srv/w\ndata_dir: /srv/w/data").contains("`data_dir`"));
    assert!(
        err("workspace_root: /srv/w\ndb_sqlite_file: /srv/w/x.db").contains("`db_sqlite_file`")
    );
}

#[test]
fn default_model_falls_back_to_the_first() {
    let loaded = load(
        Some("models: [{id: a, name: A, api_url: 'https://u', api_key: k}]\ndefault_model: zzz"),
        &[],
    )
    .unwrap();
    assert_eq!(loaded.config.default_model, "a");
    assert!(loaded.warnings.iter().any(|w| w.contains("zzz")));
}

#[test]
fn published_default_secret_is_not_usable() {
    let c = load(
        Some(&format!("jwt_secret: {PUBLISHED_DEFAULT_JWT_SECRET}")),
        &[],
    )
    .unwrap()
    .config;
    assert!(c.usable_jwt_secret().is_none());
    let c = load(Some("jwt_secret: ''"), &[]).unwrap().config;
    assert!(c.usable_jwt_secret().is_none());
}

#[test]
fn secrets_are_redacted_in_debug() {
    let c = load(
        Some("jwt_secret: topsecretvalue\ndb_password: pw-value-123"),
        &[],
    )
    .unwrap()
    .config;
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("topsecretvalue") && !dbg.contains("pw-value-123"));
}

#[test]
fn the_shipped_example_config_loads() {
    let text = include_str!("../../../../config.example.yml");
    let loaded = load(Some(text), &[]).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.auth_mode, AuthMode::Single);
}

#[test]
fn account_keys_parse_and_validate() {
    let c = load(
        Some("registration: closed\napi_keys_enabled: false\ntrusted_header: {header: X-Forwarded-User, email_header: X-Forwarded-Email}\ntrusted_proxies: [10.0.0.0/8, 127.0.0.1, '::1']\npassword_min_score: 3\nallowed_hosts: [nanoclaw.lan]\nsingle_token: a-long-single-token-value\n"),
        &[],
    )
    .unwrap()
    .config;
    assert_eq!(c.registration, Registration::Closed);
    assert!(!c.api_keys_enabled);
    assert_eq!(c.trusted_proxies.len(), 3);
    assert!(c.trusted_proxies[0].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
    assert_eq!(
        c.trusted_header.unwrap().email_header.as_deref(),
        Some("X-Forwarded-Email")
    );
    let d = Config::default();
    assert_eq!(
        (d.registration, d.api_keys_enabled, d.password_min_score),
        (Registration::Open, true, 2)
    );
    assert!(err("trusted_header: {header: X-User}").contains("trusted_proxies"));
    assert!(err("trusted_proxies: [not-an-ip]").contains("`trusted_proxies"));
    assert!(err("password_min_score: 5").contains("`password_min_score`"));
    assert!(err("single_token: short").contains("`single_token`"));
    assert!(err("registration: maybe").contains("`registration`"));
}

#[test]
fn metrics_addr_is_a_socket_address_or_unset() {
    let c = load(None, &[]).unwrap().config;
    assert_eq!(c.metrics_addr, None);
    let c = load(Some("metrics_addr: 127.0.0.1:9100"), &[])
        .unwrap()
        .config;
    assert_eq!(c.metrics_addr, Some("127.0.0.1:9100".parse().unwrap()));
    let c = load(Some("metrics_addr: '[::1]:9100'"), &[])
        .unwrap()
        .config;
    assert_eq!(c.metrics_addr, Some("[::1]:9100".parse().unwrap()));
    let c = load(Some("metrics_addr: ''"), &[]).unwrap().config;
    assert_eq!(c.metrics_addr, None);
    for env in ["0.0.0.0:9100", "[::1]:9100"] {
        let c = load(None, &[("NANOCLAW__METRICS_ADDR", env)])
            .unwrap()
            .config;
        assert_eq!(c.metrics_addr, Some(env.parse().unwrap()), "{env}");
    }
    for bad in [
        "metrics_addr: localhost:9100",
        "metrics_addr: 9100",
        "metrics_addr: 127.0.0.1",
    ] {
        let e = err(bad);
        assert!(
            e.contains("`metrics_addr`") && e.contains("socket address"),
            "{e}"
        );
    }
}

#[test]
fn log_format_is_auto_json_or_pretty() {
    assert_eq!(load(None, &[]).unwrap().config.log_format, LogFormat::Auto);
    for (text, want) in [
        ("log_format: json", LogFormat::Json),
        ("log_format: pretty", LogFormat::Pretty),
        ("log_format: auto", LogFormat::Auto),
    ] {
        assert_eq!(load(Some(text), &[]).unwrap().config.log_format, want);
    }
    let c = load(None, &[("NANOCLAW__LOG_FORMAT", "pretty")])
        .unwrap()
        .config;
    assert_eq!(c.log_format, LogFormat::Pretty);
    assert!(err("log_format: xml").contains("`log_format`"));
}

#[test]
fn serialized_settings_redact_every_secret_and_name_every_key() {
    let text = "jwt_secret: topsecretvalue\n\
        db_type: postgresql\ndb_user: app\ndb_password: pw-value-123\ndb_name: n\n\
        database_url: 'postgres://app:url-pw-456@db:5432/n?sslmode=require&password=q-pw-789'\n\
        models: [{id: a, name: A, api_url: 'https://x.example/v1', api_key: sk-key-000}]\n\
        metrics_addr: 127.0.0.1:9100\n";
    let c = load(Some(text), &[]).unwrap().config;
    let out = yaml_serde::to_string(&c).unwrap();
    for secret in [
        "topsecretvalue",
        "pw-value-123",
        "url-pw-456",
        "q-pw-789",
        "sk-key-000",
    ] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    assert!(
        out.contains("postgres://app:[redacted]@db:5432/n?sslmode=[redacted]&password=[redacted]"),
        "{out}"
    );
    assert!(out.contains("metrics_addr: 127.0.0.1:9100"), "{out}");
    let Value::Mapping(map) = yaml_serde::from_str::<Value>(&out).unwrap() else {
        panic!("not a mapping: {out}");
    };
    for key in KNOWN_KEYS {
        assert!(map.contains_key(*key), "`{key}` missing from:\n{out}");
    }
    assert_eq!(map.len(), KNOWN_KEYS.len(), "{out}");
}

#[test]
fn url_redaction() {
    use serde_helpers::redact_url;
    for (url, want) in [
        ("sqlite:data/x.db", "sqlite:data/x.db"),
        ("sqlite::memory:", "sqlite::memory:"),
        ("postgres://db.internal/n", "postgres://db.internal/n"),
        ("postgres://u@db/n", "postgres://u@db/n"),
        ("mysql://u:p@ss@db:3306/n", "mysql://u:[redacted]@db:3306/n"),
        (
            "postgres://u:p@[::1]:5432",
            "postgres://u:[redacted]@[::1]:5432",
        ),
        (
            "postgres://db/n?user=u&Password=x#frag",
            "postgres://db/n?user=[redacted]&Password=[redacted]#[redacted]",
        ),
        (
            "postgres://u:pw@db/n?password=a&sslpassword=b&flag",
            "postgres://u:[redacted]@db/n?password=[redacted]&sslpassword=[redacted]&[redacted]",
        ),
        (
            "https://h.example/v1?key=SECRET",
            "https://h.example/v1?key=[redacted]",
        ),
        (
            "https://h.example?key=S",
            "https://h.example?key=[redacted]",
        ),
        ("sqlite:x.db?key=S", "sqlite:x.db?key=[redacted]"),
        // Malformed: raw `/`, `?` or `@` in a password still hide it whole.
        ("postgres://u:pa/ss@db/n", "postgres://[redacted]@db/n"),
        ("postgres://u:pa@ss@db/n", "postgres://u:[redacted]@db/n"),
        ("postgres://u:pa?ss@db/n", "postgres://[redacted]@db/n"),
        ("postgres://db/n?user=a@b", "postgres://[redacted]@b"),
        ("sqlite:x.db?key=a@b", "[redacted]@b"),
    ] {
        assert_eq!(redact_url(url), want, "{url}");
    }
}

#[test]
fn new_account_keys_have_defaults_and_parse() {
    let d = load(None, &[]).unwrap().config;
    assert_eq!(
        (
            d.api_key_expiry_days,
            d.audit_retention_days,
            d.accept_legacy_tokens
        ),
        (90, 90, LegacyTokens::Auto)
    );
    for (text, want) in [
        ("accept_legacy_tokens: auto", LegacyTokens::Auto),
        ("accept_legacy_tokens: true", LegacyTokens::On),
        ("accept_legacy_tokens: false", LegacyTokens::Off),
        ("accept_legacy_tokens: 'true'", LegacyTokens::On),
        ("accept_legacy_tokens: 'false'", LegacyTokens::Off),
        ("accept_legacy_tokens: AUTO", LegacyTokens::Auto),
    ] {
        assert_eq!(
            load(Some(text), &[]).unwrap().config.accept_legacy_tokens,
            want,
            "{text}"
        );
    }
    let c = load(None, &[("NANOCLAW__ACCEPT_LEGACY_TOKENS", "false")])
        .unwrap()
        .config;
    assert_eq!(c.accept_legacy_tokens, LegacyTokens::Off);
    let e = err("accept_legacy_tokens: sometimes");
    assert!(
        e.contains("`accept_legacy_tokens`") && !e.contains("sometimes"),
        "{e}"
    );
    // The printed settings load again to the same values.
    for value in ["auto", "true", "false"] {
        let c = load(Some(&format!("accept_legacy_tokens: {value}")), &[])
            .unwrap()
            .config;
        let out = yaml_serde::to_string(&c).unwrap();
        assert!(
            out.contains(&format!("accept_legacy_tokens: {value}")),
            "{out}"
        );
    }

    let th = "trusted_proxies: [127.0.0.1]\ntrusted_header: {header: X-User}";
    let c = load(Some(th), &[]).unwrap().config;
    assert!(!c.trusted_header.unwrap().allow_local_login);
    let c = load(
        Some("trusted_proxies: [127.0.0.1]\ntrusted_header: {header: X-User, allow_local_login: true}"),
        &[],
    )
    .unwrap()
    .config;
    assert!(c.trusted_header.unwrap().allow_local_login);
}

#[test]
fn every_bound_is_enforced_at_both_ends() {
    for (key, min, max) in [
        ("max_iterations", 1u64, 100u64),
        ("tool_max_workers", 1, 6),
        ("sub_agent.max_iterations", 1, 100),
        ("sub_agent.max_concurrency", 1, 32),
        ("sub_agent.timeout", 1, 3600),
        ("sub_agent.deadline", 1, 3600),
        ("weather.timeout", 1, 300),
        ("jwt_expiry", 60, 7_776_000),
        ("password_min_length", 1, 1024),
        ("login_rate_limit", 0, 10_000),
        ("password_min_score", 0, 4),
        ("api_key_expiry_days", 1, 3650),
        ("audit_retention_days", 0, 36_500),
    ] {
        let text = |v: u64| match key.split_once('.') {
            Some((section, inner)) => format!("{section}: {{{inner}: {v}}}"),
            None => format!("{key}: {v}"),
        };
        for ok in [min, max] {
            assert!(load(Some(&text(ok)), &[]).is_ok(), "{key} = {ok} refused");
        }
        let mut bad = vec![max + 1];
        if min > 0 {
            bad.push(min - 1);
        }
        for v in bad {
            let e = err(&text(v));
            assert!(e.contains(&format!("`{key}`")), "{key} = {v}: {e}");
        }
    }
}

#[test]
fn short_jwt_secret_is_an_error_in_multi_mode_and_a_warning_in_single() {
    let short = "short-secret-0123456789abcdef"; // 29 bytes
    let e = err(&format!("auth_mode: multi\njwt_secret: {short}"));
    assert!(e.contains("`jwt_secret`") && !e.contains(short), "{e}");
    let loaded = load(
        Some(&format!("auth_mode: single\njwt_secret: {short}")),
        &[],
    )
    .unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("jwt_secret") && !w.contains(short)),
        "{:?}",
        loaded.warnings
    );
    let long = "x".repeat(MIN_JWT_SECRET_BYTES);
    let loaded = load(Some(&format!("auth_mode: multi\njwt_secret: {long}")), &[]).unwrap();
    assert!(loaded.warnings.is_empty());
    // Unset, empty or the published default: a secret is generated, nothing to refuse.
    assert!(load(Some("auth_mode: multi\njwt_secret: ''"), &[]).is_ok());
}

#[test]
fn errors_never_show_the_value() {
    const SECRET: &str = "s3cr3t";
    for (text, key) in [
        ("backend_port: \"s3cr3t-value\"", "backend_port"),
        ("backend_port: 700000", "backend_port"),
        ("jwt_expiry: s3cr3t", "jwt_expiry"),
        ("jwt_expiry: [s3cr3t]", "jwt_expiry"),
        ("jwt_expiry: {s3cr3t: 1}", "jwt_expiry"),
        ("jwt_expiry: 1.5e3", "jwt_expiry"),
        ("api_keys_enabled: s3cr3t", "api_keys_enabled"),
        ("auth_mode: s3cr3t", "auth_mode"),
        ("registration: \"s3cr3t, expected x\"", "registration"),
        ("log_format: s3cr3t", "log_format"),
        ("accept_legacy_tokens: s3cr3t", "accept_legacy_tokens"),
        (
            "models: [{id: x, name: y, api_url: 5, api_key: s3cr3t}]",
            "models[0].api_url",
        ),
        (
            "models: [{id: x, name: y, api_url: s3cr3t, api_key: k}]",
            "models[0].api_url",
        ),
        (
            "models: [{id: x, name: y, api_url: 'https://x', api_key: [s3cr3t]}]",
            "models[0].api_key",
        ),
        (
            "models: [{id: s3cr3t, name: y, api_url: 'https://x', api_key: k}, {id: s3cr3t, name: z, api_url: 'https://x', api_key: k}]",
            "models[1].id",
        ),
        ("db_password: {s3cr3t: x}", "db_password"),
        ("db_type: s3cr3t", "db_type"),
        ("database_url: s3cr3t", "database_url"),
        ("metrics_addr: s3cr3t", "metrics_addr"),
        ("trusted_proxies: [s3cr3t]", "trusted_proxies"),
        ("cors_origins: [s3cr3t]", "cors_origins[0]"),
        ("allowed_hosts: ['s3cr3t/x']", "allowed_hosts[0]"),
        (
            "trusted_proxies: [127.0.0.1]\ntrusted_header: {header: 's3cr3t x'}",
            "trusted_header.header",
        ),
        ("sub_agent: {timeout: s3cr3t}", "sub_agent.timeout"),
        ("jwt_secret: 'pa$s3cr3t'", "jwt_secret"),
        ("jwt_secret: '${s3cr3t'", "jwt_secret"),
        ("frontend_port: -1", "frontend_port"),
    ] {
        let e = err(text);
        assert!(e.contains(&format!("`{key}`")), "{text}: {e}");
        assert!(
            !e.contains(SECRET) && !e.contains("700000") && !e.contains("1.5"),
            "{text}: {e}"
        );
    }
    // What is kept says what was expected.
    assert!(err("backend_port: lots").contains("expected u16"));
    assert!(err("auth_mode: s3cr3t").contains("`single`"));
}

#[test]
fn serde_messages_lose_their_values() {
    use serde_helpers::without_value;
    for (message, want) in [
        (
            "invalid type: string \"hunter2\", expected u16",
            "invalid type: string, expected u16",
        ),
        (
            "invalid value: integer `70000`, expected u16",
            "invalid value: integer, expected u16",
        ),
        (
            "invalid type: string \"a, expected b\", expected u16",
            "invalid type: string, expected u16",
        ),
        (
            "unknown variant `hunter2`, expected `single` or `multi`",
            "unknown variant, expected `single` or `multi`",
        ),
        ("missing field `api_url`", "missing field `api_url`"),
        ("invalid type: something odd", "invalid type: a value"),
    ] {
        assert_eq!(without_value(message), want);
    }
}

#[test]
fn tools_switches_parse_and_unknown_names_warn() {
    let loaded = load(
        Some("tools:\n  file: false\n  file_read: true\n  multi_agent: false\n  web: false\n  calculater: false\n"),
        &[],
    )
    .unwrap();
    let t = &loaded.config.tools;
    // A tool's own key beats its category's; unnamed tools are on.
    assert!(t.is_enabled("file_read", "file"));
    assert!(!t.is_enabled("file_write", "file"));
    assert!(!t.is_enabled("multi_agent", "agent"));
    assert!(t.is_enabled("calculator", "data"));
    assert_eq!(t.unknown_names(), ["calculater", "web"]);
    let warned: Vec<&String> = loaded
        .warnings
        .iter()
        .filter(|w| w.starts_with("tools: "))
        .collect();
    assert_eq!(warned.len(), 2, "{:?}", loaded.warnings);
    assert!(warned[0].contains("`calculater`") && warned[1].contains("`web`"));
    // Known names and categories raise nothing; the key itself is known.
    let quiet = load(
        Some("tools: {code: false, get_weather: false, agent: true}"),
        &[],
    )
    .unwrap();
    assert!(quiet.warnings.is_empty(), "{:?}", quiet.warnings);
    // Switches are booleans.
    assert!(err("tools: {calculator: maybe}").contains("`tools"));
    // Every listed tool has one of the spec's categories.
    for (_, category) in BUILTIN_TOOLS {
        assert!(["code", "crawler", "data", "file", "weather", "agent"].contains(category));
    }
    assert_eq!(BUILTIN_TOOLS.len(), 15);
}

#[test]
fn weather_section_defaults_to_simulated_and_parses_open_meteo() {
    let c = load(None, &[]).unwrap().config;
    assert_eq!(c.weather.provider, WeatherProvider::Simulated);
    assert_eq!(c.weather.timeout, 10);
    assert!(
        c.weather
            .forecast_url
            .starts_with("https://api.open-meteo.com/")
    );
    let c = load(
        Some("weather:\n  provider: open_meteo\n  geocoding_url: http://127.0.0.1:9/geo\n  forecast_url: http://127.0.0.1:9/fc\n  language: zh\n"),
        &[],
    )
    .unwrap()
    .config;
    assert_eq!(c.weather.provider, WeatherProvider::OpenMeteo);
    assert_eq!(c.weather.geocoding_url, "http://127.0.0.1:9/geo");
    assert_eq!(c.weather.language, "zh");
    assert!(err("weather: {provider: accuweather}").contains("`weather.provider`"));
    assert!(err("weather: {forecast_url: 'ftp://x/y'}").contains("`weather.forecast_url`"));
    assert!(err("weather: {nope: 1}").contains("`weather"));
    // The sub-agent deadline is new, with a default.
    assert_eq!(c.sub_agent.deadline, 300);
}

#[test]
fn code_execution_sandbox_keys() {
    let c = load(None, &[]).unwrap().config;
    let ce = &c.code_execution;
    assert_eq!(ce.max_strictness, "standard");
    assert_eq!(ce.project_mount, ProjectMountMode::ReadOnly);
    assert_eq!(ce.python, None);
    assert_eq!(
        (ce.memory_mb, ce.max_processes, ce.max_file_mb),
        (512, 32, 16)
    );
    assert_eq!((ce.scratch_mb, ce.max_output_bytes), (64, 65536));
    let c = load(
        Some("code_execution:\n  default_strictness: strict\n  max_strictness: lenient\n  python: /usr/bin/python3\n  project_mount: read_write\n  memory_mb: 1024\n  max_processes: 8\n"),
        &[],
    )
    .unwrap()
    .config;
    let ce = &c.code_execution;
    assert_eq!(ce.max_strictness, "lenient");
    assert_eq!(ce.python.as_deref(), Some("/usr/bin/python3"));
    assert_eq!(ce.project_mount, ProjectMountMode::ReadWrite);
    assert_eq!((ce.memory_mb, ce.max_processes), (1024, 8));
    assert_eq!(
        load(Some("code_execution: {project_mount: none}"), &[])
            .unwrap()
            .config
            .code_execution
            .project_mount,
        ProjectMountMode::None
    );
    assert!(
        err("code_execution: {max_strictness: yolo}").contains("`code_execution.max_strictness`")
    );
    assert!(err("code_execution: {project_mount: rw}").contains("code_execution"));
    assert!(err("code_execution: {max_processes: 1}").contains("`code_execution.max_processes`"));
    assert!(err("code_execution: {memory_mb: 65537}").contains("`code_execution.memory_mb`"));
    assert!(
        err("code_execution: {max_output_bytes: 100}")
            .contains("`code_execution.max_output_bytes`")
    );
}
