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
/// Options: `#[weft::test(worker_threads = 1)]`.
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

/// `worker_threads = N` (the only option), as builder calls.
fn options(attr: TokenStream) -> Result<Vec<TokenTree>, TokenStream> {
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    let mut calls = Vec::new();
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
        if key.to_string() != "worker_threads" {
            return Err(error(
                key.span(),
                "unknown option: the only option is `worker_threads = N`",
            ));
        }
        match tokens.get(i + 1) {
            Some(TokenTree::Punct(p)) if p.as_char() == '=' => {}
            _ => return Err(error(key.span(), "expected `worker_threads = N`")),
        }
        let value = match tokens.get(i + 2) {
            Some(TokenTree::Literal(l)) if l.to_string().parse::<usize>().is_ok_and(|n| n > 0) => {
                l.clone()
            }
            Some(t) => {
                return Err(error(
                    t.span(),
                    "`worker_threads` must be a whole number above 0",
                ))
            }
            None => return Err(error(key.span(), "expected `worker_threads = N`")),
        };
        calls.push(Punct::new('.', Spacing::Alone).into());
        calls.push(Ident::new("worker_threads", key.span()).into());
        calls.push(Group::new(Delimiter::Parenthesis, TokenTree::from(value).into()).into());
        i += 3;
        match tokens.get(i) {
            Some(TokenTree::Punct(p)) if p.as_char() == ',' => i += 1,
            None => {}
            Some(t) => return Err(error(t.span(), "expected `,` between options")),
        }
    }
    Ok(calls)
}

fn expand(attr: TokenStream, item: TokenStream, is_test: bool) -> Result<TokenStream, TokenStream> {
    let name = if is_test {
        "#[weft::test]"
    } else {
        "#[weft::main]"
    };
    let calls = options(attr)?;
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
    for seg in ["weft", "Builder", "new"] {
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
