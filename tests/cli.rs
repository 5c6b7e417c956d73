//! The command line's own behaviour: how it logs (JSON from the config file, no colour codes in
//! a pipe) and which commands need which folders. Through the real binary.

mod support;

use support::Dir;

/// A vault with one note and one file that is skipped with a warning in the log.
fn vault_with_a_warning() -> Dir {
    let dir = Dir::new();
    dir.create("good.md", "# Good\n\nsentinel\n");
    dir.create("bad.md", b"\0\x01\x02 binary bytes");
    dir
}

/// The log lines (stderr) of `reindex` at level `warn`, with `NO_COLOR` unset.
fn reindex_log(dir: &Dir, extra_args: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = extra_args.to_vec();
    args.push("reindex");
    let mut cmd = dir.cmd(&args);
    cmd.env("RUST_LOG", "warn").env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = support::Run::of(cmd.output().unwrap());
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr.contains("bad.md"),
        "the warning is logged: {run:?}"
    );
    run.stderr
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = vault_with_a_warning();
    let log = reindex_log(&dir, &[], &[]);
    assert!(!log.contains('\x1b'), "ANSI codes in a pipe: {log:?}");
}

#[test]
fn log_json_in_the_config_file_is_honoured() {
    let dir = vault_with_a_warning();
    let config = dir.outside().join("config.toml");
    std::fs::write(&config, "log_json = true\n").unwrap();
    let log = reindex_log(&dir, &["--config", config.to_str().unwrap()], &[]);
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line:?}"));
        assert_eq!(v["level"], "WARN", "{line}");
    }
}

#[test]
fn log_json_on_in_the_environment_means_json() {
    let dir = vault_with_a_warning();
    let log = reindex_log(&dir, &[], &[("VAULTMCP_LOG_JSON", "on")]);
    let first = log.lines().next().unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "{first:?}"
    );
}

#[test]
fn keys_rotate_and_the_admin_commands_need_only_the_data_dir() {
    // No vault anywhere: not given, not in the environment, no `vault-fixtures` in the folder.
    let dir = Dir::new();
    let data = dir.data().to_str().unwrap().to_owned();
    let first = support::Run::of(
        dir.bare_cmd(&["--data-dir", &data, "keys", "rotate"])
            .output()
            .unwrap(),
    );
    assert_eq!(first.code, Some(0), "{first:?}");
    assert!(first.stdout.contains("new signing key"), "{first:?}");
    assert!(dir.data().join("auth.sqlite3").is_file());
    // So do the other commands that touch only the auth store.
    for args in [
        &["token", "list", "--json"][..],
        &["clients", "list", "--json"],
        &["audit", "--json"],
    ] {
        let mut all = vec!["--data-dir", data.as_str()];
        all.extend_from_slice(args);
        let run = support::Run::of(dir.bare_cmd(&all).output().unwrap());
        assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
    }
    // Without a data dir (and no vault to derive the default from) it says what to pass.
    let none = support::Run::of(dir.bare_cmd(&["keys", "rotate"]).output().unwrap());
    assert_eq!(none.code, Some(1), "{none:?}");
    assert!(none.stderr.contains("--data-dir"), "{}", none.stderr);
}
