//! `#[weft::main]` and `#[weft::test]`: run an `async fn` on a weft runtime.
//!
//! Written on `proc_macro` alone (no `syn`, no `quote`): the transformation is small (drop
//! `async`, wrap the body in `Builder::new()...build().block_on(async move { .. })`), and
//! users should not pay `syn`'s compile time for it. Errors point at the user's code.

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
/// Options: `#[weft::main(worker_threads = 4)]`.
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
/// Options: `#[weft::test(worker_threads = 1)]`; `#[weft::test(start_paused = true)]`
/// runs it on a current-thread runtime with its clock paused (see
/// `weft::Builder::start_paused`):
///
/// ```ignore
/// #[weft::test(start_paused = true)]
/// async fn a_day_in_no_time() {
///     weft::time::sleep(std::time::Duration::from_secs(86_400)).await;
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

/// The options as builder calls: `worker_threads = N`, `start_paused = true|false`.
/// Returns them, and whether the runtime must be the current-thread one (paused time
/// needs it).
fn options(attr: TokenStream) -> Result<(Vec<TokenTree>, bool), TokenStream> {
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    let mut calls = Vec::new();
    let mut workers: Option<Span> = None;
    let mut paused: Option<Span> = None;
    let mut i = 0;
    while i < tokens.len() {
        let key = match &tokens[i] {
            TokenTree::Ident(id) => id.clone(),
            t => {
                return Err(error(
                    t.span(),
                    "expected an option such as `worker_threads = 2`",
                ))
            }
        };
        let name = key.to_string();
        if name != "worker_threads" && name != "start_paused" {
            return Err(error(
                key.span(),
                "unknown option: the options are `worker_threads = N` and \
                 `start_paused = true`",
            ));
        }
        match tokens.get(i + 1) {
            Some(TokenTree::Punct(p)) if p.as_char() == '=' => {}
            _ => return Err(error(key.span(), &format!("expected `{name} = ..`"))),
        }
        let value: TokenTree = match (name.as_str(), tokens.get(i + 2)) {
            ("worker_threads", Some(TokenTree::Literal(l)))
                if l.to_string().parse::<usize>().is_ok_and(|n| n > 0) =>
            {
                workers = Some(key.span());
                l.clone().into()
            }
            ("worker_threads", Some(t)) => {
                return Err(error(
                    t.span(),
                    "`worker_threads` must be a whole number above 0",
                ))
            }
            ("start_paused", Some(TokenTree::Ident(b)))
                if b.to_string() == "true" || b.to_string() == "false" =>
            {
                if b.to_string() == "true" {
                    paused = Some(key.span());
                }
                b.clone().into()
            }
            (_, Some(t)) => {
                return Err(error(t.span(), "`start_paused` must be `true` or `false`"))
            }
            (_, None) => return Err(error(key.span(), &format!("expected `{name} = ..`"))),
        };
        calls.push(Punct::new('.', Spacing::Alone).into());
        calls.push(Ident::new(&name, key.span()).into());
        calls.push(Group::new(Delimiter::Parenthesis, value.into()).into());
        i += 3;
        match tokens.get(i) {
            Some(TokenTree::Punct(p)) if p.as_char() == ',' => i += 1,
            None => {}
            Some(t) => return Err(error(t.span(), "expected `,` between options")),
        }
    }
    if let (Some(_), Some(span)) = (workers, paused) {
        return Err(error(
            span,
            "`start_paused` needs the current-thread runtime, and `worker_threads` asks \
             for the multi-thread one: drop `worker_threads`",
        ));
    }
    Ok((calls, paused.is_some()))
}

fn expand(attr: TokenStream, item: TokenStream, is_test: bool) -> Result<TokenStream, TokenStream> {
    let name = if is_test {
        "#[weft::test]"
    } else {
        "#[weft::main]"
    };
    let (calls, current_thread) = options(attr)?;
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

    // ::weft::Builder::new() <calls> .build().expect("..").block_on(async move <body>)
    let span = body.span();
    let mut expr: Vec<TokenTree> = Vec::new();
    let ctor = if current_thread {
        "new_current_thread"
    } else {
        "new"
    };
    for seg in ["weft", "Builder", ctor] {
        expr.push(Punct::new(':', Spacing::Joint).into());
        expr.push(Punct::new(':', Spacing::Alone).into());
        expr.push(Ident::new(seg, span).into());
    }
    expr.push(Group::new(Delimiter::Parenthesis, TokenStream::new()).into());
    expr.extend(calls);
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
