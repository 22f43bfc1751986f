//! The expansion shared by `#[weft::main]` and `#[weft::test]`.
//!
//! ```text
//! #[weft::main(worker_threads = 4)]        fn main() -> R {
//! async fn main() -> R {           ==>         let body = async move { BODY };
//!     BODY                                     let runtime = ::weft::Runtime::builder()
//! }                                                .worker_threads(4)
//!                                                  .build()
//!                                                  .expect("...");
//!                                              <::weft::Runtime>::block_on(&runtime, body)
//!                                          }
//! ```
//!
//! The last line carries the spans of the body's last statement, so that a
//! body whose value does not match the return type is reported there, not at
//! the attribute. `body` and `runtime` are hygienic: the user's code cannot
//! name them.
//!
//! `#[weft::test]` expands the same way and adds `#[test]`.
//!
//! When something is wrong the expansion still goes out, next to the errors,
//! built from whatever was valid: a missing `async` or a bad argument then
//! gives exactly one error, not a second one saying `main` is missing or is
//! not allowed to be `async`. Only an item that does not parse as a function
//! is passed through untouched.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, FnArg, Ident, PatType, Signature, Visibility};

use crate::config::{Config, Errors};

/// Which attribute is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Main,
    Test,
}

impl Entry {
    fn attribute(self) -> &'static str {
        match self {
            Entry::Main => "#[weft::main]",
            Entry::Test => "#[weft::test]",
        }
    }
}

/// Expands `#[weft::main]` or `#[weft::test]` with arguments `args` on `item`.
pub(crate) fn expand(entry: Entry, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: EntryFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut errors = Errors::default();
    let (config, config_error) = Config::parse(args);
    if let Some(error) = config_error {
        errors.push(error);
    }
    function.check(entry, &mut errors);
    let expanded = function.expand(entry, &config);
    match errors.into_inner() {
        Some(error) => {
            let error = error.to_compile_error();
            quote!(#error #expanded)
        }
        None => expanded,
    }
}

/// An `async fn` whose body is kept as tokens.
///
/// The body is not parsed: it goes back out unchanged, so every error in it
/// is reported by rustc at the user's own spans, and a large body costs
/// nothing to expand.
struct EntryFn {
    outer_attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    /// `#![...]` at the top of the body; they move to the generated function,
    /// since an `async` block cannot carry them.
    inner_attrs: Vec<Attribute>,
    /// The body without its inner attributes.
    body: TokenStream,
    /// The body's braces, where the `async` block and its result are placed.
    brace: syn::token::Brace,
}

impl Parse for EntryFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let content;
        let brace = syn::braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body: TokenStream = content.parse()?;
        Ok(EntryFn {
            outer_attrs,
            vis,
            sig,
            inner_attrs,
            body,
            brace,
        })
    }
}

impl EntryFn {
    /// Reports what keeps this function from being an entry point.
    fn check(&self, entry: Entry, errors: &mut Errors) {
        if self.sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                self.sig.fn_token.span,
                "the `async` keyword is missing from the function declaration",
            ));
        }
        if self.has_forbidden_parameters(entry) {
            let message = match entry {
                Entry::Main => {
                    "the main function cannot accept arguments; \
                     read command-line arguments with `std::env::args()`"
                }
                Entry::Test => {
                    "a test function cannot accept arguments; \
                     build its inputs inside the test"
                }
            };
            errors.push(syn::Error::new_spanned(&self.sig.inputs, message));
        }
        for attr in &self.outer_attrs {
            if is_weft_entry_attribute(attr) {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "a function takes one `#[weft::main]` or `#[weft::test]`; remove this one",
                ));
            } else if entry == Entry::Test && is_test_attribute(attr) {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "second #[test] attribute is supplied; \
                     remove it, `#[weft::test]` already makes the function a test",
                ));
            }
        }
    }

    /// Whether the function has parameters it may not have: `main` and tests
    /// are called with none. A `#[weft::main]` function with another name is
    /// an ordinary function that callers pass arguments to.
    fn has_forbidden_parameters(&self, entry: Entry) -> bool {
        !self.sig.inputs.is_empty() && (entry == Entry::Test || self.sig.ident == "main")
    }

    /// Moves the parameters out of the signature into locals that are never
    /// initialised, so that after the error about them the body still
    /// type-checks and rustc adds no error of its own about `main` or `#[test]`.
    fn take_parameters(&mut self) -> TokenStream {
        std::mem::take(&mut self.sig.inputs)
            .into_iter()
            .filter_map(|input| match input {
                FnArg::Typed(PatType { pat, ty, .. }) => {
                    Some(quote!(let #pat: #ty = ::core::unreachable!();))
                }
                FnArg::Receiver(_) => None,
            })
            .collect()
    }

    /// The plain function that builds a runtime and blocks on the body.
    fn expand(mut self, entry: Entry, config: &Config) -> TokenStream {
        let stand_ins = self
            .has_forbidden_parameters(entry)
            .then(|| self.take_parameters());
        let allow_stand_ins = stand_ins
            .is_some()
            .then(|| quote!(#[allow(unreachable_code, unused_variables)]));
        let EntryFn {
            outer_attrs,
            vis,
            mut sig,
            inner_attrs,
            body,
            brace,
        } = self;
        sig.asyncness = None;

        let krate = match &config.krate {
            Some(path) => path.to_token_stream(),
            None => quote!(::weft),
        };
        let worker_threads = config
            .worker_threads
            .as_ref()
            .map(|count| quote!(.worker_threads(#count)));
        let message = format!("{}: failed to build the runtime", entry.attribute());

        let body_future = Ident::new("body", Span::mixed_site());
        let runtime = Ident::new("runtime", Span::mixed_site());

        let mut async_body = Group::new(Delimiter::Brace, body.clone());
        async_body.set_span(brace.span.join());
        // `<Runtime>::block_on(..)` starts and ends on the user's last
        // statement: rustc reports a mismatched return type at this call.
        let statement = last_statement(body);
        let first = statement
            .first()
            .map_or(brace.span.close(), TokenTree::span);
        let last = statement.last().map_or(brace.span.close(), end_span);
        let open = quote_spanned!(first=> <);
        let block_on = quote_spanned!(last=> >::block_on(&#runtime, #body_future));
        let block_on = quote!(#open #krate::Runtime #block_on);

        // A second `#[test]` or `#[weft::...]` was reported by `check`; it is
        // left out so that it does not expand again into errors of its own.
        let outer_attrs = outer_attrs.into_iter().filter(|attr| {
            let repeats_test = entry == Entry::Test && is_test_attribute(attr);
            !repeats_test && !is_weft_entry_attribute(attr)
        });
        let test_attr = (entry == Entry::Test).then(|| quote!(#[::core::prelude::v1::test]));

        quote! {
            #test_attr
            #(#outer_attrs)*
            #allow_stand_ins
            #vis #sig {
                #(#inner_attrs)*
                #stand_ins
                let #body_future = async move #async_body;
                let #runtime = #krate::Runtime::builder()
                    #worker_threads
                    .build()
                    .expect(#message);
                #block_on
            }
        }
    }
}

/// The tokens of the body's last statement, with its `;` if it has one.
///
/// Statements are told apart by their `;` alone, which is enough to point
/// at the body's value without parsing the body.
fn last_statement(body: TokenStream) -> Vec<TokenTree> {
    let mut last = Vec::new();
    let mut current = Vec::new();
    for token in body {
        let ends_statement = matches!(&token, TokenTree::Punct(punct) if punct.as_char() == ';');
        current.push(token);
        if ends_statement {
            last = std::mem::take(&mut current);
        }
    }
    if current.is_empty() {
        last
    } else {
        current
    }
}

/// The span of the last character of `token`: a group's closing delimiter.
fn end_span(token: &TokenTree) -> Span {
    match token {
        TokenTree::Group(group) => group.span_close(),
        other => other.span(),
    }
}

/// Whether `attr` is the standard `#[test]`, written bare or by its full
/// path in the prelude (`::core::prelude::v1::test`, `std::prelude::rust_2021::test`).
fn is_test_attribute(attr: &Attribute) -> bool {
    let segments = &attr.path().segments;
    let Some(last) = segments.last() else {
        return false;
    };
    if last.ident != "test" || !matches!(attr.meta, syn::Meta::Path(_)) {
        return false;
    }
    match segments.len() {
        1 => attr.path().leading_colon.is_none(),
        4 => {
            let root = &segments[0].ident;
            (root == "core" || root == "std") && segments[1].ident == "prelude"
        }
        _ => false,
    }
}

/// Whether `attr` is `#[weft::main]` or `#[weft::test]`, which cannot be
/// stacked on a function that already has one.
fn is_weft_entry_attribute(attr: &Attribute) -> bool {
    let segments = &attr.path().segments;
    segments.len() == 2
        && segments[0].ident == "weft"
        && (segments[1].ident == "main" || segments[1].ident == "test")
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::ItemFn;

    fn expand_ok(entry: Entry, args: TokenStream, item: TokenStream) -> ItemFn {
        let tokens = expand(entry, args, item);
        assert!(
            !tokens.to_string().contains("compile_error"),
            "unexpected error: {tokens}"
        );
        syn::parse2(tokens).expect("the expansion is a function")
    }

    fn error_messages(entry: Entry, args: TokenStream, item: TokenStream) -> Vec<String> {
        let tokens = expand(entry, args, item).to_string();
        tokens
            .match_indices("compile_error")
            .map(|(at, _)| {
                let message = &tokens[at..];
                let start = message.find('"').unwrap_or(0) + 1;
                let end = start + message[start..].find('"').unwrap_or(0);
                message[start..end].to_string()
            })
            .collect()
    }

    #[test]
    fn main_becomes_a_plain_function_that_blocks_on_its_body() {
        let function = expand_ok(
            Entry::Main,
            TokenStream::new(),
            quote!(
                #[doc = "entry"]
                pub async fn main() -> Result<(), std::io::Error> {
                    #![allow(unused)]
                    Ok(())
                }
            ),
        );
        assert!(function.sig.asyncness.is_none());
        assert_eq!(function.sig.ident, "main");
        assert!(matches!(function.vis, Visibility::Public(_)));
        assert_eq!(function.attrs.len(), 2, "the doc and the inner allow");
        assert!(function
            .sig
            .output
            .to_token_stream()
            .to_string()
            .contains("Result"));
        let body = function.block.to_token_stream().to_string();
        assert!(body.contains(":: weft :: Runtime :: builder ()"), "{body}");
        assert!(!body.contains("worker_threads"), "{body}");
        assert!(body.contains("async move { Ok (()) }"), "{body}");
        assert!(
            body.contains("< :: weft :: Runtime > :: block_on (& runtime , body)"),
            "{body}"
        );
    }

    #[test]
    fn arguments_reach_the_builder() {
        let function = expand_ok(
            Entry::Main,
            quote!(worker_threads = 3, crate = "::my::weft"),
            quote!(
                async fn main() {}
            ),
        );
        let body = function.block.to_token_stream().to_string();
        assert!(
            body.contains(":: my :: weft :: Runtime :: builder () . worker_threads (3) . build ()"),
            "{body}"
        );
    }

    #[test]
    fn test_adds_the_test_attribute() {
        let function = expand_ok(
            Entry::Test,
            quote!(worker_threads = 1),
            quote!(
                #[ignore]
                async fn it_works() {}
            ),
        );
        let attrs: Vec<_> = function
            .attrs
            .iter()
            .map(|a| a.to_token_stream().to_string())
            .collect();
        assert_eq!(
            attrs,
            ["# [:: core :: prelude :: v1 :: test]", "# [ignore]"]
        );
    }

    #[test]
    fn a_function_that_is_not_async_is_an_error() {
        assert_eq!(
            error_messages(
                Entry::Main,
                TokenStream::new(),
                quote!(
                    fn main() {}
                )
            ),
            ["the `async` keyword is missing from the function declaration"]
        );
        assert_eq!(
            error_messages(
                Entry::Test,
                TokenStream::new(),
                quote!(
                    fn t() {}
                )
            ),
            ["the `async` keyword is missing from the function declaration"]
        );
    }

    #[test]
    fn arguments_are_an_error_on_main_and_on_tests() {
        let main = error_messages(
            Entry::Main,
            TokenStream::new(),
            quote!(
                async fn main(x: u8) {}
            ),
        );
        assert_eq!(main.len(), 1);
        assert!(main[0].starts_with("the main function cannot accept arguments"));
        let test = error_messages(
            Entry::Test,
            TokenStream::new(),
            quote!(
                async fn t(x: u8) {}
            ),
        );
        assert_eq!(test.len(), 1);
        assert!(test[0].starts_with("a test function cannot accept arguments"));
        // Any other function under `#[weft::main]` is called with arguments.
        expand_ok(
            Entry::Main,
            TokenStream::new(),
            quote!(
                async fn serve(port: u16) {}
            ),
        );
    }

    #[test]
    fn a_second_test_attribute_is_an_error() {
        for attr in [
            quote!(#[test]),
            quote!(#[::core::prelude::v1::test]),
            quote!(#[std::prelude::rust_2021::test]),
        ] {
            let item = quote!(#attr async fn t() {});
            let messages = error_messages(Entry::Test, TokenStream::new(), item.clone());
            assert_eq!(messages.len(), 1, "{attr}");
            assert!(
                messages[0].starts_with("second #[test] attribute"),
                "{attr}"
            );
            let expanded = expand(Entry::Test, TokenStream::new(), item).to_string();
            let (_error, function) = expanded
                .split_once("\" } ")
                .expect("an error, then the function");
            let function: ItemFn = syn::parse_str(function).expect("a function");
            assert_eq!(function.attrs.len(), 1, "{}", function.to_token_stream());
        }
        // Attributes that merely end in `test` are someone else's.
        expand_ok(
            Entry::Test,
            TokenStream::new(),
            quote!(
                #[my::test]
                async fn t() {}
            ),
        );
    }

    #[test]
    fn weft_attributes_do_not_stack() {
        for attr in [
            quote!(#[weft::test]),
            quote!(#[weft::main(worker_threads = 2)]),
        ] {
            let item = quote!(#attr async fn t() {});
            let messages = error_messages(Entry::Test, TokenStream::new(), item.clone());
            assert_eq!(messages.len(), 1, "{attr}");
            assert!(messages[0].starts_with("a function takes one"), "{attr}");
            let expanded = expand(Entry::Test, TokenStream::new(), item).to_string();
            assert!(!expanded.contains("# [weft"), "{expanded}");
        }
    }

    #[test]
    fn parameters_that_are_an_error_become_unreachable_locals() {
        let tokens = expand(
            Entry::Main,
            TokenStream::new(),
            quote!(
                async fn main((a, mut b): (u8, u8)) {}
            ),
        )
        .to_string();
        assert!(tokens.contains("fn main ()"), "{tokens}");
        assert!(
            tokens.contains("let (a , mut b) : (u8 , u8) = :: core :: unreachable ! () ;"),
            "{tokens}"
        );
        assert!(tokens.contains("allow (unreachable_code"), "{tokens}");
    }

    #[test]
    fn the_last_statement_is_found_by_its_semicolon() {
        let last = |body: TokenStream| -> String {
            last_statement(body)
                .into_iter()
                .collect::<TokenStream>()
                .to_string()
        };
        assert_eq!(last(TokenStream::new()), "");
        assert_eq!(last(quote!(let x = 1; x)), "x");
        assert_eq!(last(quote!(let x = 1; Ok(x?);)), "Ok (x ?) ;");
        assert_eq!(
            last(quote!(let x = 1; if x > 0 { x } else { 0 })),
            "if x > 0 { x } else { 0 }"
        );
        // Only top-level `;` count.
        assert_eq!(
            last(quote!({
                a;
                b
            })),
            "{ a ; b }"
        );
    }

    #[test]
    fn errors_are_all_reported_and_the_function_still_expands() {
        let tokens = expand(
            Entry::Main,
            quote!(worker_threads = 0, crate = weft),
            quote!(
                fn main() {}
            ),
        )
        .to_string();
        assert_eq!(tokens.matches("compile_error").count(), 2, "{tokens}");
        assert!(tokens.contains("fn main ()"), "{tokens}");
        assert!(
            tokens.contains("weft :: Runtime :: builder () . build ()"),
            "{tokens}"
        );
    }

    #[test]
    fn an_item_that_is_not_a_function_passes_through() {
        let tokens = expand(
            Entry::Main,
            TokenStream::new(),
            quote!(
                struct S;
            ),
        )
        .to_string();
        assert!(tokens.contains("compile_error"), "{tokens}");
        assert!(tokens.ends_with("struct S ;"), "{tokens}");
    }
}
