//! Inputs echoed in messages, cut to a readable length.
//!
//! An error about a 120 KB URL must not print 120 KB. [`Excerpt`] shows an input
//! whole when it is short, and otherwise a window of about [`MAX_ECHO_BYTES`]
//! around the position the message is about, with `...` where it was cut and the
//! input's full length, so a position given in the message still points into it.
//!
//! ```
//! use cfsign::excerpt::Excerpt;
//!
//! assert_eq!(Excerpt::start("https://a.example/x").to_string(), r#""https://a.example/x""#);
//!
//! let long = format!("https://a.example/{}b c{}", "a".repeat(60_000), "a".repeat(60_000));
//! let at = long.find(' ').unwrap();
//! let shown = Excerpt::around(&long, at).to_string();
//! assert!(shown.len() < 200);
//! assert!(shown.starts_with(r#"..."aaa"#) && shown.contains("b c"));
//! assert!(shown.ends_with(r#"aaa"... (120021 bytes)"#));
//! ```

use std::fmt;

/// The most bytes of an input a message shows.
pub const MAX_ECHO_BYTES: usize = 160;

/// An input as a message shows it: quoted and escaped like `{:?}`, whole if at
/// most [`MAX_ECHO_BYTES`] long, else a window of that size around a position.
#[derive(Debug, Clone, Copy)]
pub struct Excerpt<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Excerpt<'a> {
    /// The window around byte offset `at` (the character a message is about).
    #[must_use]
    pub fn around(text: &'a str, at: usize) -> Self {
        Self { text, at }
    }

    /// The window at the start of `text` (for messages about the whole input).
    #[must_use]
    pub fn start(text: &'a str) -> Self {
        Self::around(text, 0)
    }
}

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text;
        if text.len() <= MAX_ECHO_BYTES {
            return write!(f, "{text:?}");
        }
        let at = self.at.min(text.len());
        // Two thirds of the window after the position: the start of a URL is usually
        // the part that is fine.
        let end = (at.saturating_sub(MAX_ECHO_BYTES / 3) + MAX_ECHO_BYTES).min(text.len());
        let start = text.floor_char_boundary(end.saturating_sub(MAX_ECHO_BYTES));
        let end = text.floor_char_boundary(end);
        let before = if start > 0 { "..." } else { "" };
        let after = if end < text.len() { "..." } else { "" };
        write!(
            f,
            "{before}{:?}{after} ({} bytes)",
            &text[start..end],
            text.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_inputs_are_shown_whole() {
        let s = "a".repeat(MAX_ECHO_BYTES);
        assert_eq!(Excerpt::start(&s).to_string(), format!("{s:?}"));
        assert_eq!(Excerpt::around("a\"b", 99).to_string(), r#""a\"b""#);
    }

    #[test]
    fn long_inputs_show_a_window_around_the_position() {
        let mut s = "a".repeat(120_000);
        s.replace_range(70_000..70_001, "#");
        for at in [0, 1, 70_000, 119_999, 120_000, 500_000] {
            let shown = Excerpt::around(&s, at).to_string();
            assert!(shown.len() <= MAX_ECHO_BYTES + 30, "{at}: {shown}");
            assert!(shown.ends_with("(120000 bytes)"), "{at}: {shown}");
            assert_eq!(
                shown.starts_with("..."),
                at > MAX_ECHO_BYTES / 3,
                "{at}: {shown}"
            );
        }
        let shown = Excerpt::around(&s, 70_000).to_string();
        assert!(shown.contains('#'), "{shown}");
        assert!(Excerpt::start(&s).to_string().starts_with("\"aaa"));
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let s = "é".repeat(10_000);
        for at in [0, 1, 2, 3, 5_001, 19_999] {
            let shown = Excerpt::around(&s, at).to_string();
            assert!(shown.contains('é'), "{shown}");
        }
    }
}
