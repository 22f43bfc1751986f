//! The attribute's arguments: `worker_threads = N` and `crate = path`.
//!
//! Parsing happens in two steps. [`RawArg`] reads the syntax (`name = value`)
//! and rejects names it does not know at once, so `#[weft::main(flavor(x))]`
//! says "unknown argument" rather than "expected `=`". [`Config::from_args`]
//! then checks each value and keeps every setting that was valid, so the
//! expansion that goes out next to the errors still uses the user's `crate`
//! path and does not add errors of its own.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, LitInt, Path, Token};

/// The names the attributes accept, in the order the error message lists them.
const ACCEPTED: &str = "`worker_threads = N` and `crate = \"path\"`";

/// What the arguments ask the expansion to do differently from the defaults.
#[derive(Default)]
pub(crate) struct Config {
    /// `worker_threads = N`, as a literal carrying the user's span.
    pub(crate) worker_threads: Option<LitInt>,
    /// `crate = path`: the path used in place of `::weft`.
    pub(crate) krate: Option<Path>,
}

impl Config {
    /// Parses the attribute's arguments.
    ///
    /// Returns the valid settings together with every error found, so the
    /// caller can expand with what is known and report the rest.
    pub(crate) fn parse(args: TokenStream) -> (Config, Option<syn::Error>) {
        match Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(args) {
            Ok(args) => Config::from_args(args),
            Err(error) => (Config::default(), Some(error)),
        }
    }

    fn from_args(args: impl IntoIterator<Item = RawArg>) -> (Config, Option<syn::Error>) {
        let mut config = Config::default();
        let mut errors = Errors::default();
        for arg in args {
            let already_set = match arg.kind {
                ArgKind::WorkerThreads => config.worker_threads.is_some(),
                ArgKind::Crate => config.krate.is_some(),
            };
            if already_set {
                errors.push(syn::Error::new(
                    arg.name.span(),
                    format!("`{}` is given more than once; keep one", arg.name),
                ));
                continue;
            }
            let checked = match arg.kind {
                ArgKind::WorkerThreads => {
                    worker_threads(&arg.value).map(|n| config.worker_threads = Some(n))
                }
                ArgKind::Crate => crate_path(&arg.value).map(|path| config.krate = Some(path)),
            };
            if let Err(error) = checked {
                errors.push(error);
            }
        }
        (config, errors.into_inner())
    }
}

/// The arguments the attributes accept.
#[derive(Clone, Copy)]
enum ArgKind {
    WorkerThreads,
    Crate,
}

/// One `name = value` pair whose name is one of the accepted ones.
struct RawArg {
    kind: ArgKind,
    name: Ident,
    value: Expr,
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `parse_any` so that the keyword `crate` is accepted as a name.
        let name = input.call(Ident::parse_any).map_err(|error| {
            syn::Error::new(
                error.span(),
                format!("expected an argument; the accepted arguments are {ACCEPTED}"),
            )
        })?;
        let (kind, example) = match name.unraw().to_string().as_str() {
            "worker_threads" => (ArgKind::WorkerThreads, "worker_threads = 4"),
            "crate" => (ArgKind::Crate, "crate = \"::weft\""),
            "flavor" => {
                return Err(syn::Error::new(
                    name.span(),
                    "unknown argument `flavor`: weft has one multi-threaded runtime; \
                     for a single worker write `worker_threads = 1`",
                ))
            }
            other => {
                return Err(syn::Error::new(
                    name.span(),
                    format!("unknown argument `{other}`; the accepted arguments are {ACCEPTED}"),
                ))
            }
        };
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                name.span(),
                format!("`{name}` needs a value: write `{example}`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(RawArg { kind, name, value })
    }
}

/// Checks the value of `worker_threads`: a positive integer literal.
fn worker_threads(value: &Expr) -> syn::Result<LitInt> {
    let bad_value = || {
        syn::Error::new_spanned(
            value,
            "`worker_threads` takes a positive integer literal, such as `worker_threads = 4`",
        )
    };
    let Expr::Lit(lit) = strip_invisible_group(value) else {
        return Err(bad_value());
    };
    let Lit::Int(int) = &lit.lit else {
        return Err(bad_value());
    };
    if !matches!(int.suffix(), "" | "usize") {
        return Err(syn::Error::new(
            int.span(),
            "`worker_threads` is a `usize`; drop the suffix",
        ));
    }
    let count: usize = int
        .base10_parse()
        .map_err(|_| syn::Error::new(int.span(), "`worker_threads` is too large for a `usize`"))?;
    if count == 0 {
        return Err(syn::Error::new(
            int.span(),
            "`worker_threads` must be at least 1",
        ));
    }
    Ok(LitInt::new(&count.to_string(), int.span()))
}

/// Checks the value of `crate`: a path, bare or in a string literal.
fn crate_path(value: &Expr) -> syn::Result<Path> {
    let bad_value = |tokens: &dyn ToTokens| {
        syn::Error::new_spanned(
            tokens,
            "`crate` takes the path under which weft is reachable, \
             such as `crate = weft` or `crate = \"::my_crate::weft\"`",
        )
    };
    match strip_invisible_group(value) {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => Ok(path.path.clone()),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(string),
            ..
        }) => string.parse().map_err(|_| bad_value(string)),
        other => Err(bad_value(other)),
    }
}

/// Looks through the invisible group a `macro_rules!` fragment (`$n:expr`)
/// arrives in, so `#[weft::test(worker_threads = $n)]` works in a macro.
fn strip_invisible_group(mut value: &Expr) -> &Expr {
    while let Expr::Group(group) = value {
        value = &group.expr;
    }
    value
}

/// Errors gathered while checking, so that one compile reports all of them.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn into_inner(self) -> Option<syn::Error> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::{Delimiter, Group};
    use quote::quote;

    fn messages(error: Option<syn::Error>) -> Vec<String> {
        error
            .into_iter()
            .flat_map(|error| error.into_iter().map(|e| e.to_string()).collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn no_arguments_give_the_defaults() {
        let (config, error) = Config::parse(TokenStream::new());
        assert!(error.is_none());
        assert!(config.worker_threads.is_none());
        assert!(config.krate.is_none());
    }

    #[test]
    fn worker_threads_is_read() {
        let (config, error) = Config::parse(quote!(worker_threads = 4));
        assert!(error.is_none());
        assert_eq!(
            config.worker_threads.map(|n| n.to_string()),
            Some("4".into())
        );
    }

    #[test]
    fn worker_threads_accepts_a_usize_suffix_and_a_trailing_comma() {
        let (config, error) = Config::parse(quote!(worker_threads = 2usize,));
        assert!(error.is_none());
        // The suffix is dropped so the literal fits whatever integer the
        // builder takes.
        assert_eq!(
            config.worker_threads.map(|n| n.to_string()),
            Some("2".into())
        );
    }

    #[test]
    fn values_from_macro_rules_fragments_are_read() {
        // `$n:expr` arrives wrapped in an invisible group.
        let four = Group::new(Delimiter::None, quote!(4));
        let path = Group::new(Delimiter::None, quote!(::weft));
        let (config, error) = Config::parse(quote!(worker_threads = #four, crate = #path));
        assert!(error.is_none(), "{:?}", messages(error));
        assert_eq!(
            config.worker_threads.map(|n| n.to_string()),
            Some("4".into())
        );
        assert!(config.krate.is_some());
    }

    #[test]
    fn worker_threads_rejects_bad_values() {
        for (args, expected) in [
            (quote!(worker_threads = 0), "must be at least 1"),
            (
                quote!(worker_threads = "two"),
                "takes a positive integer literal",
            ),
            (
                quote!(worker_threads = two),
                "takes a positive integer literal",
            ),
            (
                quote!(worker_threads = -1),
                "takes a positive integer literal",
            ),
            (
                quote!(worker_threads = 1.5),
                "takes a positive integer literal",
            ),
            (quote!(worker_threads = 4u8), "drop the suffix"),
            (
                quote!(worker_threads = 99999999999999999999999),
                "too large",
            ),
            (quote!(worker_threads), "needs a value"),
        ] {
            let (config, error) = Config::parse(args.clone());
            let messages = messages(error);
            assert_eq!(messages.len(), 1, "{args}: {messages:?}");
            assert!(messages[0].contains(expected), "{args}: {messages:?}");
            assert!(config.worker_threads.is_none());
        }
    }

    #[test]
    fn crate_accepts_a_path_or_a_string() {
        for (args, expected) in [
            (quote!(crate = weft), "weft"),
            (quote!(crate = ::weft), ":: weft"),
            (quote!(crate = "::my_crate::weft"), ":: my_crate :: weft"),
            (quote!(crate = "weft"), "weft"),
        ] {
            let (config, error) = Config::parse(args.clone());
            assert!(error.is_none(), "{args}: {:?}", messages(error));
            let path = config.krate.map(|path| path.to_token_stream().to_string());
            assert_eq!(path.as_deref(), Some(expected), "{args}");
        }
    }

    #[test]
    fn crate_rejects_what_is_not_a_path() {
        for args in [
            quote!(crate = 4),
            quote!(crate = "not a path"),
            quote!(crate = a + b),
        ] {
            let messages = messages(Config::parse(args.clone()).1);
            assert_eq!(messages.len(), 1, "{args}: {messages:?}");
            assert!(messages[0].contains("`crate` takes the path"), "{args}");
        }
    }

    #[test]
    fn unknown_arguments_list_the_accepted_ones() {
        for args in [
            quote!(threads = 4),
            quote!(multi_thread),
            quote!(start_paused(true)),
        ] {
            let messages = messages(Config::parse(args.clone()).1);
            assert_eq!(messages.len(), 1, "{args}: {messages:?}");
            assert!(messages[0].starts_with("unknown argument"), "{args}");
            assert!(messages[0].contains(ACCEPTED), "{args}");
        }
        let messages = messages(Config::parse(quote!(flavor = "current_thread")).1);
        assert!(messages[0].contains("worker_threads = 1"), "{messages:?}");
    }

    #[test]
    fn a_duplicate_is_reported_and_the_first_value_kept() {
        let (config, error) = Config::parse(quote!(worker_threads = 2, worker_threads = 3));
        assert_eq!(
            messages(error),
            ["`worker_threads` is given more than once; keep one"]
        );
        assert_eq!(
            config.worker_threads.map(|n| n.to_string()),
            Some("2".into())
        );
    }

    #[test]
    fn every_bad_value_is_reported_and_the_good_ones_kept() {
        let (config, error) = Config::parse(quote!(worker_threads = 0, crate = weft, crate = x));
        let messages = messages(error);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("at least 1"));
        assert!(messages[1].contains("more than once"));
        assert!(config.krate.is_some());
    }
}
