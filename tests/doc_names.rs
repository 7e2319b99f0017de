//! Docs do not drift from the code: every code name written between backticks in `docs/*.md`,
//! in the README and in the module header comments (`//!`) of the crates names something the
//! code has.
//!
//! A name counts as existing when it appears as a word in code, not in comments: a function,
//! type or constant that was renamed or deleted is caught even if a comment still mentions it.
//! File paths must name a file of the repository. Names of other projects (system calls, peers'
//! items) are listed in `EXTERNAL` below, each one deliberately.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Names the docs use that belong to the OS, the standard library or other projects, so they
/// never appear in weft's code.
const EXTERNAL: &[&str] = &[
    // System calls, kernel and libc names.
    "sched_yield",
    "writev",
    "EAGAIN",
    // HTTP/2's frame names (RFC 9113).
    "SETTINGS",
    "waitpid",
    "epoll",
    "kqueue",
    "MSG_NOSIGNAL",
    "TCP_NODELAY",
    "TCP_USER_TIMEOUT",
    "clock_gettime",
    "CLOCK_MONOTONIC",
    "CLOCK_MONOTONIC_COARSE",
    "futex",
    "pread",
    "openat",
    "statx",
    "memmove",
    "memset",
    "_int_malloc",
    "_int_free",
    "malloc_consolidate",
    "futex_wait",
    "timerfd_settime",
    "epoll_ctl",
    "epoll_wait",
    "getrusage",
    "RUSAGE_THREAD",
    "EPOLLRDHUP",
    "recvfrom",
    "GOAWAY",
    // The standard library's internals seen in profiles, and its wall clock.
    "sub_timespec",
    "SystemTime",
    // Tools and their output, cargo's environment.
    "CARGO_TARGET_DIR",
    "callgrind_annotate",
    "Collected",
    // Other crates' items: bytes, tokio's AsyncSeek.
    "BytesMut",
    "start_seek",
    // crossbeam's Backoff::spin, hyper-util's HttpConnector, aiohttp's ClientSession.
    "spin",
    "HttpConnector",
    "ClientSession",
    // Other projects' names: tokio's cfg and constant, the proc-macro crates, a debugger command.
    "tokio_unstable",
    "MAX_LIFO_POLLS_PER_TICK",
    // Go's scheduler: its LIFO slot.
    "runnext",
    "syn",
    "quote",
    "bt",
    // tonic's feature and status type, reqwest's builder methods (docs/ecosystem.md).
    "transport",
    "Status",
    "dns_resolver",
    "connector_layer",
    // Python's asyncio, which the facade's docs translate from.
    "contextvars",
    "create_task",
    "TaskGroup",
    "start_server",
    "add_signal_handler",
    "create_subprocess_exec",
    "communicate",
    "aiofiles",
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (recursively) whose name ends with one of `exts`, skipping build output.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                files(&path, exts, out);
            }
        } else if exts.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

fn source_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut out = Vec::new();
    for dir in ["crates", "examples", "benches", "tests"] {
        files(&root.join(dir), &[".rs"], &mut out);
    }
    out
}

/// The words of `text` that are identifiers.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        })
}

/// Every identifier that occurs in code (comments removed) of the repository, plus the names of
/// manifests' packages and features.
fn code_words() -> HashSet<String> {
    let mut set = HashSet::new();
    for path in source_files() {
        let text = fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let code = match line.find("//") {
                // A `//` inside a string literal ("http://") is rare in this code base; cutting
                // the line there only loses names, which makes the check stricter, not looser.
                Some(at) => &line[..at],
                None => line,
            };
            set.extend(words(code).map(str::to_owned));
        }
    }
    let mut manifests = Vec::new();
    files(&repo_root(), &["Cargo.toml"], &mut manifests);
    for path in manifests {
        let text = fs::read_to_string(&path).unwrap();
        for token in text.split(|c: char| c.is_whitespace() || "=[]{},\"".contains(c)) {
            if !token.is_empty() {
                set.insert(token.to_owned());
            }
        }
    }
    set
}

/// The backticked spans of `text`, outside fenced code blocks, with their line numbers.
fn backticked(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            out.push((n + 1, inside.to_owned()));
        }
    }
    out
}

fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether a word is distinctive enough to check inside an expression: snake_case with an
/// underscore, CamelCase with an inner capital, or an upper-case constant.
fn is_distinctive(w: &str) -> bool {
    w.len() > 2
        && (w.contains('_')
            || w.chars().skip(1).any(|c| c.is_ascii_uppercase())
                && w.chars().any(|c| c.is_ascii_lowercase()))
}

/// What is missing for `span` to name code: nothing when it does, or when it is prose or
/// foreign syntax.
fn problems(span: &str, words: &HashSet<String>, paths: &[String], only_weft: bool) -> Vec<String> {
    let span = span.trim();
    if span.is_empty() || EXTERNAL.contains(&span) {
        return Vec::new();
    }
    let looks_like_path = span.ends_with(".rs") || span.ends_with(".md") || span.ends_with(".toml");
    if looks_like_path && !span.contains(' ') {
        if only_weft || span.contains('*') {
            return Vec::new();
        }
        let wanted = span.trim_start_matches("./");
        if paths.iter().any(|p| p.ends_with(wanted)) {
            return Vec::new();
        }
        return vec![format!("no file `{span}`")];
    }
    if only_weft && !span.starts_with("weft") {
        return Vec::new();
    }
    // `poll_*`: some name starts so.
    if let Some(prefix) = span.strip_suffix('*').filter(|p| is_identifier(p)) {
        if words.iter().any(|w| w.starts_with(prefix)) {
            return Vec::new();
        }
        return vec![format!("no code name starting `{prefix}`")];
    }
    // A path of identifiers, maybe called or a macro: every segment must exist.
    let bare = span.trim_end_matches("()").trim_end_matches('!');
    let segments: Vec<&str> = bare.split("::").collect();
    let mut missing = Vec::new();
    if segments.iter().all(|s| is_identifier(s)) {
        for s in segments {
            let s = s.trim_end_matches('!');
            if s.len() > 1 && !words.contains(s) && !EXTERNAL.contains(&s) {
                missing.push(format!("no code name `{s}` (in `{span}`)"));
            }
        }
        return missing;
    }
    // Prose or a shell command, not code: nothing to check.
    if !["::", "(", "|", "&", "<"].iter().any(|p| span.contains(p)) {
        return missing;
    }
    // An expression or a signature: its distinctive words must exist.
    for w in self::words(span) {
        if is_distinctive(w) && !words.contains(w) && !EXTERNAL.contains(&w) {
            missing.push(format!("no code name `{w}` (in `{span}`)"));
        }
    }
    missing
}

#[test]
fn every_code_name_in_the_docs_exists() {
    let root = repo_root();
    let words = code_words();
    let mut all = Vec::new();
    files(&root, &[".rs", ".md", ".toml", ".sh"], &mut all);
    let paths: Vec<String> = all
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();

    let mut docs = Vec::new();
    files(&root.join("docs"), &[".md"], &mut docs);
    docs.push(root.join("README.md"));

    let mut failures = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let text = fs::read_to_string(doc).unwrap();
        // The asyncio guide is mostly Python: only its weft names are checked.
        let only_weft = doc.ends_with("asyncio-to-weft.md");
        for (line, span) in backticked(&text) {
            checked += 1;
            for p in problems(&span, &words, &paths, only_weft) {
                failures.push(format!(
                    "{}:{line}: {p}",
                    doc.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    for src in source_files() {
        let text = fs::read_to_string(&src).unwrap();
        let header: String = text
            .lines()
            .take_while(|l| l.trim_start().starts_with("//!") || l.trim().is_empty())
            .map(|l| format!("{}\n", l.trim_start().trim_start_matches("//!")))
            .collect();
        for (line, span) in backticked(&header) {
            checked += 1;
            for p in problems(&span, &words, &paths, false) {
                failures.push(format!(
                    "{}:{line}: {p}",
                    src.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        checked > 500,
        "the check found only {checked} names: is it reading the docs?"
    );
    assert!(
        failures.is_empty(),
        "{} stale names in the docs:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_check_catches_a_missing_name() {
    let words: HashSet<String> = ["Handle", "spawn", "PARKED"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let paths = vec!["crates/weft/src/lib.rs".to_owned()];
    assert!(problems("Handle::spawn", &words, &paths, false).is_empty());
    assert_eq!(
        problems("Handle::spawn_gone()", &words, &paths, false).len(),
        1
    );
    assert_eq!(
        problems("PARKED | GONE_BIT", &words, &paths, false).len(),
        1
    );
    assert!(problems("weft/src/lib.rs", &words, &paths, false).is_empty());
    assert_eq!(problems("weft/src/gone.rs", &words, &paths, false).len(), 1);
    assert!(problems("asyncio.run(main())", &words, &paths, true).is_empty());
    assert!(problems("spa*", &words, &paths, false).is_empty());
    assert_eq!(problems("gone_*", &words, &paths, false).len(), 1);
}
