//! `#[weft::main]` and `#[weft::test]`: run an `async fn` on a weft runtime.
//!
//! Written on `proc_macro` alone (no `syn`, no `quote`): the transformation is small (drop
//! `async`, wrap the body in `Builder::new_current_thread()...build().block_on(async move
//! { .. })`, or `new_multi_thread`; a current-thread test also takes its seed and reports it
//! on panic), and users should not pay `syn`'s compile time for it.
//! Errors point at the user's code.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Runs `async fn main` on a weft runtime (asyncio's `asyncio.run(main())`).
///
/// ```ignore
/// #[weft::main]
/// async fn main() {
///     weft::time::sleep(std::time::Duration::from_millis(10)).await;
/// }
/// ```
///
/// It runs on the multi-thread runtime. Options: `worker_threads = N`, and
/// `flavor = "current_thread"` for the current-thread runtime (then without
/// `worker_threads`): `#[weft::main(flavor = "current_thread")]`.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item.clone(), false).unwrap_or_else(|e| with_item(e, item))
}

/// Runs an `async fn` test on a fresh weft runtime.
///
/// ```ignore
/// #[weft::test]
/// async fn adds() {
///     assert_eq!(weft::spawn(async { 1 + 1 }).await.unwrap(), 2);
/// }
/// ```
///
/// It runs on a current-thread runtime (as tokio's `#[tokio::test]` does): tasks run on the
/// test's thread, and `spawn_local` works. For the multi-thread runtime:
/// `#[weft::test(flavor = "multi_thread")]`, with `worker_threads = N` if wanted (the
/// default is one per CPU): `#[weft::test(flavor = "multi_thread", worker_threads = 2)]`.
///
/// `start_paused = true` starts the runtime with its clock paused (see
/// `weft::Builder::start_paused`; current-thread only): timers fire as soon as every task
/// is idle, so a test of an hour of timeouts takes microseconds.
///
/// ```ignore
/// #[weft::test(start_paused = true)]
/// async fn a_day_in_no_time() {
///     weft::time::sleep(std::time::Duration::from_secs(86_400)).await;
/// }
/// ```
///
/// Seeds (see `weft::Builder::seed`): a current-thread test runs with the seed in the
/// environment variable `WEFT_SEED` if it is set, in an order drawn from it, and without
/// it in first-in first-out order, as tokio's tests do, so that a test run twice runs the
/// same way and a run of the suite does not change from one time to the next unless asked
/// to. `seed = N` pins a test's seed (`WEFT_SEED` then does not change it): a schedule
/// that once failed, kept as a regression test. A seeded test that panics or returns an
/// `Err` prints its seed on stderr, `weft: NAME ran with seed N; replay it with
/// WEFT_SEED=N`. Multi-thread tests ignore `WEFT_SEED`.
///
/// ```ignore
/// #[weft::test(seed = 42, start_paused = true)]
/// async fn runs_one_schedule() {
///     assert_eq!(weft::spawn(async { 1 + 1 }).await.unwrap(), 2);
/// }
/// ```
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item.clone(), true).unwrap_or_else(|e| with_item(e, item))
}

/// The error, plus the function as written: so the only error the user sees is ours.
fn with_item(error: TokenStream, item: TokenStream) -> TokenStream {
    error.into_iter().chain(item).collect()
}

fn error(span: Span, msg: &str) -> TokenStream {
    // compile_error!("msg") with the span of the offending token.
    let mut ts: Vec<TokenTree> = vec![
        Ident::new("compile_error", span).into(),
        Punct::new('!', Spacing::Alone).into(),
    ];
    let mut lit = Literal::string(msg);
    lit.set_span(span);
    let mut g = Group::new(Delimiter::Parenthesis, TokenTree::from(lit).into());
    g.set_span(span);
    ts.push(g.into());
    ts.push(Punct::new(';', Spacing::Alone).into());
    ts.into_iter().collect()
}

/// The flavours `flavor = ".."` may name.
const FLAVORS: &str = "`flavor = \"current_thread\"` or `flavor = \"multi_thread\"`";
/// The options, for error messages.
const OPTIONS: &str = "the options are `flavor = \"current_thread\"` / `\"multi_thread\"`, \
    `worker_threads = N`, `start_paused = true` and (tests) `seed = N`";

/// The runtime the options ask for: the builder to start from and the calls to make on it.
struct Options {
    /// `new_current_thread` or `new_multi_thread`.
    constructor: &'static str,
    calls: Vec<TokenTree>,
    /// A current-thread test: it takes a seed (`pinned`, else `WEFT_SEED`).
    seeded_test: bool,
    /// `seed = N`.
    pinned: Option<Literal>,
}

/// Parses `key = value, ...` into the builder the function runs on: `#[weft::test]`
/// defaults to the current-thread flavour, `#[weft::main]` to the multi-thread one (as
/// tokio's do); `worker_threads = N` needs the multi-thread flavour.
fn options(attr: TokenStream, is_test: bool) -> Result<Options, TokenStream> {
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    let mut flavor: Option<(String, Span)> = None;
    let mut workers: Option<(Literal, Span)> = None;
    let mut paused: Option<(Ident, Span)> = None;
    let mut seed: Option<(Literal, Span)> = None;
    let mut i = 0;
    while i < tokens.len() {
        let key = match &tokens[i] {
            TokenTree::Ident(id) => id.clone(),
            t => {
                return Err(error(
                    t.span(),
                    &format!("expected an option such as `worker_threads = 2`: {OPTIONS}"),
                ))
            }
        };
        let name = key.to_string();
        match tokens.get(i + 1) {
            Some(TokenTree::Punct(p)) if p.as_char() == '=' => {}
            _ => return Err(error(key.span(), &format!("expected `{name} = ..`"))),
        }
        let Some(value) = tokens.get(i + 2) else {
            return Err(error(key.span(), &format!("expected `{name} = ..`")));
        };
        match name.as_str() {
            "worker_threads" => {
                let n = match value {
                    TokenTree::Literal(l)
                        if l.to_string().parse::<usize>().is_ok_and(|n| n > 0) =>
                    {
                        l.clone()
                    }
                    t => {
                        return Err(error(
                            t.span(),
                            "`worker_threads` must be a whole number above 0",
                        ))
                    }
                };
                if workers.replace((n, key.span())).is_some() {
                    return Err(error(key.span(), "`worker_threads` is given twice"));
                }
            }
            "start_paused" => {
                let b = match value {
                    TokenTree::Ident(b) if b.to_string() == "true" || b.to_string() == "false" => {
                        b.clone()
                    }
                    t => return Err(error(t.span(), "`start_paused` must be `true` or `false`")),
                };
                if paused.replace((b, key.span())).is_some() {
                    return Err(error(key.span(), "`start_paused` is given twice"));
                }
            }
            "seed" => {
                let n = match value {
                    TokenTree::Literal(l) if l.to_string().parse::<u64>().is_ok() => l.clone(),
                    t => {
                        return Err(error(
                            t.span(),
                            "`seed` must be a whole number from 0 to 2^64-1, without a suffix",
                        ))
                    }
                };
                if !is_test {
                    return Err(error(
                        key.span(),
                        "`seed` is an option of `#[weft::test]`; a program seeds its runtime \
                         with `weft::Builder::new_current_thread().seed(N)`",
                    ));
                }
                if seed.replace((n, key.span())).is_some() {
                    return Err(error(key.span(), "`seed` is given twice"));
                }
            }
            "flavor" => {
                let text = value.to_string();
                let f = match (value, text.as_str()) {
                    (TokenTree::Literal(_), "\"current_thread\"") => "current_thread",
                    (TokenTree::Literal(_), "\"multi_thread\"") => "multi_thread",
                    (t, _) => {
                        return Err(error(
                            t.span(),
                            &format!("unknown flavor {text}: expected {FLAVORS}"),
                        ))
                    }
                };
                if flavor.replace((f.to_string(), key.span())).is_some() {
                    return Err(error(key.span(), "`flavor` is given twice"));
                }
            }
            _ => {
                return Err(error(
                    key.span(),
                    &format!("unknown option `{name}`: {OPTIONS}"),
                ))
            }
        }
        i += 3;
        match tokens.get(i) {
            Some(TokenTree::Punct(p)) if p.as_char() == ',' => i += 1,
            None => {}
            Some(t) => return Err(error(t.span(), "expected `,` between options")),
        }
    }
    let multi = match &flavor {
        Some((f, _)) => f == "multi_thread",
        None => !is_test,
    };
    let mut calls = Vec::new();
    if let Some((n, span)) = workers {
        if !multi {
            let msg = if flavor.is_some() {
                "`worker_threads` needs the multi-thread runtime: the current-thread flavour \
                 runs tasks on the calling thread alone; use `flavor = \"multi_thread\"`"
            } else {
                "`worker_threads` needs the multi-thread runtime, and `#[weft::test]` runs \
                 on the current-thread one by default: add `flavor = \"multi_thread\"`"
            };
            return Err(error(span, msg));
        }
        calls.push(Punct::new('.', Spacing::Alone).into());
        calls.push(Ident::new("worker_threads", span).into());
        calls.push(Group::new(Delimiter::Parenthesis, TokenTree::from(n).into()).into());
    }
    if let Some((b, span)) = paused {
        if multi && b.to_string() == "true" {
            return Err(error(
                span,
                "`start_paused` needs the current-thread runtime (paused time advances when \
                 every task is idle, which only it can tell): drop `flavor = \"multi_thread\"`",
            ));
        }
        calls.push(Punct::new('.', Spacing::Alone).into());
        calls.push(Ident::new("start_paused", span).into());
        calls.push(Group::new(Delimiter::Parenthesis, TokenTree::from(b).into()).into());
    }
    if let (Some((_, span)), true) = (&seed, multi) {
        return Err(error(
            *span,
            "`seed` needs the current-thread runtime (the order of a multi-thread runtime's \
             polls depends on its threads' timing): drop `flavor = \"multi_thread\"`",
        ));
    }
    Ok(Options {
        seeded_test: is_test && !multi,
        pinned: seed.map(|(n, _)| n),
        constructor: if multi {
            "new_multi_thread"
        } else {
            "new_current_thread"
        },
        calls,
    })
}

/// Tokens of code the macro writes itself (spans at the call site).
fn parse(code: &str) -> TokenStream {
    code.parse().expect("the macro's own code parses")
}

fn expand(attr: TokenStream, item: TokenStream, is_test: bool) -> Result<TokenStream, TokenStream> {
    let name = if is_test {
        "#[weft::test]"
    } else {
        "#[weft::main]"
    };
    let Options {
        constructor,
        calls,
        seeded_test,
        pinned,
    } = options(attr, is_test)?;
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let fn_pos = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "fn"))
        .ok_or_else(|| error(Span::call_site(), &format!("{name} goes on a function")))?;
    let async_pos = tokens[..fn_pos]
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "async"));
    let Some(async_pos) = async_pos else {
        return Err(error(
            tokens[fn_pos].span(),
            &format!("{name} can only be used on an `async fn`: add `async` before `fn`"),
        ));
    };
    if !is_test {
        if let Some(TokenTree::Ident(n)) = tokens.get(fn_pos + 1) {
            if n.to_string() != "main" {
                return Err(error(n.span(), "#[weft::main] goes on `async fn main`"));
            }
        }
    }
    let body = match tokens.pop() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g,
        Some(t) => return Err(error(t.span(), &format!("{name} needs a function body"))),
        None => {
            return Err(error(
                Span::call_site(),
                &format!("{name} needs a function body"),
            ))
        }
    };
    tokens.remove(async_pos);

    // let mut __weft_builder = ::weft::Builder::new_..(); __weft_builder <calls>;
    // (a test: the seed, and its report on panic)
    // __weft_builder.build().expect("..").block_on(async move <body>)
    let span = body.span();
    let mut expr: Vec<TokenTree> = Vec::new();
    expr.extend(parse("let mut __weft_builder = "));
    for seg in ["weft", "Builder", constructor] {
        expr.push(Punct::new(':', Spacing::Joint).into());
        expr.push(Punct::new(':', Spacing::Alone).into());
        expr.push(Ident::new(seg, span).into());
    }
    expr.push(Group::new(Delimiter::Parenthesis, TokenStream::new()).into());
    expr.push(Punct::new(';', Spacing::Alone).into());
    if !calls.is_empty() {
        expr.extend(parse("__weft_builder"));
        expr.extend(calls);
        expr.push(Punct::new(';', Spacing::Alone).into());
    }
    if seeded_test {
        let pinned = match pinned {
            Some(n) => format!("::core::option::Option::Some({n}u64)"),
            None => "::core::option::Option::None".to_string(),
        };
        // Dropped as a panic unwinds: after the panic's message, which the hook printed.
        expr.extend(parse(&format!(
            "let __weft_seed = ::weft::__private::test_seed({pinned}); \
             let __weft_report = ::weft::__private::SeedReport(__weft_seed); \
             if let ::core::option::Option::Some(__weft_s) = __weft_seed {{ \
                 __weft_builder.seed(__weft_s); \
             }}"
        )));
    }
    // Where the final expression, the `block_on`, begins.
    let block_on_start = expr.len();
    expr.extend(parse("__weft_builder"));
    expr.push(Punct::new('.', Spacing::Alone).into());
    expr.push(Ident::new("build", span).into());
    expr.push(Group::new(Delimiter::Parenthesis, TokenStream::new()).into());
    expr.push(Punct::new('.', Spacing::Alone).into());
    expr.push(Ident::new("expect", span).into());
    expr.push(
        Group::new(
            Delimiter::Parenthesis,
            TokenTree::from(Literal::string("weft: could not start the runtime")).into(),
        )
        .into(),
    );
    expr.push(Punct::new('.', Spacing::Alone).into());
    expr.push(Ident::new("block_on", span).into());
    let inner: TokenStream = [
        TokenTree::from(Ident::new("async", span)),
        Ident::new("move", span).into(),
        body.into(),
    ]
    .into_iter()
    .collect();
    expr.push(Group::new(Delimiter::Parenthesis, inner).into());
    if seeded_test {
        // let __weft_out = <block_on>; __weft_report.returned(&__weft_out); __weft_out
        // (an `Err` returned fails the test as a panic does: print the seed for it too).
        let block_on = expr.split_off(block_on_start);
        expr.extend(parse("let __weft_out = "));
        expr.extend(block_on);
        expr.extend(parse("; __weft_report.returned(&__weft_out); __weft_out"));
    }

    let mut out: Vec<TokenTree> = Vec::new();
    if is_test {
        // #[::core::prelude::v1::test]
        out.push(Punct::new('#', Spacing::Alone).into());
        let path: TokenStream = [
            TokenTree::from(Punct::new(':', Spacing::Joint)),
            Punct::new(':', Spacing::Alone).into(),
            Ident::new("core", span).into(),
            Punct::new(':', Spacing::Joint).into(),
            Punct::new(':', Spacing::Alone).into(),
            Ident::new("prelude", span).into(),
            Punct::new(':', Spacing::Joint).into(),
            Punct::new(':', Spacing::Alone).into(),
            Ident::new("v1", span).into(),
            Punct::new(':', Spacing::Joint).into(),
            Punct::new(':', Spacing::Alone).into(),
            Ident::new("test", span).into(),
        ]
        .into_iter()
        .collect();
        out.push(Group::new(Delimiter::Bracket, path).into());
    }
    out.extend(tokens);
    out.push(Group::new(Delimiter::Brace, expr.into_iter().collect()).into());
    Ok(out.into_iter().collect())
}
