//! DASH MPDs (ISO/IEC 23009-1), read with `quick-xml`: the URL-valued attributes
//! and elements are found by the parser and rewritten in place, in the input's
//! own bytes, so the layout, the quoting and the escaping of everything else
//! stay as they were. No DTD is accepted and no entity beyond XML's five is
//! expanded.

use std::borrow::Cow;

use quick_xml::escape::{escape, unescape};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use super::{
    Decision, LeftAlone, LeftAloneUri, MAX_XML_DEPTH, ManifestError, ManifestFormat, Report,
    Rewritten, Stamper, reported_uri,
};

/// The URL-valued attributes: element, attribute, place in the report, whether
/// the value is a template (`$Number$`, `$Time$`, …).
const ATTRIBUTES: &[(&[u8], &[u8], &str, bool)] = &[
    (b"SegmentTemplate", b"media", "SegmentTemplate@media", true),
    (
        b"SegmentTemplate",
        b"initialization",
        "SegmentTemplate@initialization",
        true,
    ),
    (b"SegmentTemplate", b"index", "SegmentTemplate@index", true),
    (
        b"SegmentTemplate",
        b"bitstreamSwitching",
        "SegmentTemplate@bitstreamSwitching",
        true,
    ),
    (b"SegmentURL", b"media", "SegmentURL@media", false),
    (b"SegmentURL", b"index", "SegmentURL@index", false),
    (
        b"Initialization",
        b"sourceURL",
        "Initialization@sourceURL",
        false,
    ),
    (
        b"RepresentationIndex",
        b"sourceURL",
        "RepresentationIndex@sourceURL",
        false,
    ),
    (
        b"BitstreamSwitching",
        b"sourceURL",
        "BitstreamSwitching@sourceURL",
        false,
    ),
];

/// The elements whose text is a URL: `BaseURL` (also the base that relative
/// URLs below it resolve against), and the MPD's own refresh locations.
const TEXT_ELEMENTS: &[(&[u8], &str)] = &[
    (b"BaseURL", "BaseURL"),
    (b"Location", "Location"),
    (b"PatchLocation", "PatchLocation"),
];

/// Tracks the line of increasing byte offsets.
struct Lines<'t> {
    text: &'t [u8],
    offset: usize,
    line: usize,
}

impl Lines<'_> {
    fn at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset >= self.offset {
            self.line += self.text[self.offset..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
        } else {
            self.line = self.text[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        }
        self.offset = offset;
        self.line
    }
}

struct Rewriter<'t, 's> {
    text: &'t str,
    stamper: Stamper<'s>,
    out: String,
    copied: usize,
    report: Report,
    lines: Lines<'t>,
    /// One per open element: the absolute base its first `BaseURL` child set.
    bases: Vec<Option<String>>,
}

pub(super) fn rewrite(text: &str, stamper: Stamper<'_>) -> Result<Rewritten, ManifestError> {
    let mut rewriter = Rewriter {
        text,
        stamper,
        out: String::with_capacity(text.len() + text.len() / 4),
        copied: 0,
        report: Report::new(ManifestFormat::Dash),
        lines: Lines {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        },
        bases: Vec::new(),
    };
    rewriter.run()?;
    let Rewriter {
        mut out,
        copied,
        report,
        ..
    } = rewriter;
    out.push_str(&text[copied..]);
    Ok(Rewritten {
        text: out.into_bytes(),
        report,
    })
}

impl<'t> Rewriter<'t, '_> {
    fn offset_of(&self, slice: &[u8]) -> usize {
        slice.as_ptr() as usize - self.text.as_ptr() as usize
    }

    fn run(&mut self) -> Result<(), ManifestError> {
        let mut reader = Reader::from_str(self.text);
        // An open BaseURL/Location: its place and where its content starts; whether
        // markup was seen inside it.
        let mut open_text: Option<(&'static str, usize, bool)> = None;
        loop {
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(source) => {
                    let line = self
                        .lines
                        .at(usize::try_from(reader.error_position()).unwrap_or(usize::MAX));
                    return Err(ManifestError::Xml {
                        line,
                        cause: source,
                    });
                }
            };
            match event {
                Event::Eof => return Ok(()),
                Event::DocType(d) => {
                    let line = self.lines.at(self.offset_of(&d));
                    return Err(ManifestError::Doctype { line });
                }
                Event::Start(e) => {
                    if self.bases.len() >= MAX_XML_DEPTH {
                        let line = self.lines.at(self.offset_of(e.name().as_ref()));
                        return Err(ManifestError::TooDeep {
                            line,
                            max: MAX_XML_DEPTH,
                        });
                    }
                    self.attributes(&e)?;
                    self.bases.push(None);
                    let local = e.local_name();
                    if let Some((_, place)) = TEXT_ELEMENTS
                        .iter()
                        .find(|(name, _)| *name == local.as_ref())
                    {
                        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                        open_text = Some((place, start, false));
                    }
                }
                Event::Empty(e) => self.attributes(&e)?,
                Event::End(e) => {
                    if let Some((place, start, markup)) = open_text.take() {
                        // `</` precedes the name.
                        let end = self.offset_of(e.name().as_ref()) - 2;
                        self.text_element(place, start, end, markup)?;
                    }
                    self.bases.pop();
                }
                Event::Comment(_) | Event::CData(_) | Event::PI(_) => {
                    if let Some((_, _, markup)) = &mut open_text {
                        *markup = true;
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(name) = unknown_entity(&r) {
                        let line = self.lines.at(self.offset_of(&r));
                        return Err(ManifestError::UnknownEntity { line, name });
                    }
                }
                Event::Text(_) | Event::Decl(_) => {}
            }
        }
    }

    /// The base that relative URLs inside the innermost open element resolve
    /// against: its nearest `BaseURL`, or the manifest's URL.
    fn base(&self) -> Option<&str> {
        self.bases.iter().rev().find_map(|b| b.as_deref())
    }

    fn attributes(&mut self, element: &BytesStart<'_>) -> Result<(), ManifestError> {
        let local = element.local_name();
        if !ATTRIBUTES.iter().any(|(e, ..)| *e == local.as_ref()) {
            return Ok(());
        }
        for attribute in element.attributes() {
            let attribute = attribute.map_err(|cause| ManifestError::XmlAttribute {
                line: self.lines.at(self.offset_of(element.name().as_ref())),
                cause,
            })?;
            let Some((_, _, place, template)) = ATTRIBUTES.iter().find(|(e, a, ..)| {
                *e == local.as_ref() && *a == attribute.key.local_name().as_ref()
            }) else {
                continue;
            };
            let Cow::Borrowed(raw) = attribute.value else {
                continue; // never: values borrow from the input
            };
            let start = self.offset_of(raw);
            self.uri(place, start, start + raw.len(), *template)?;
        }
        Ok(())
    }

    fn text_element(
        &mut self,
        place: &'static str,
        start: usize,
        end: usize,
        markup: bool,
    ) -> Result<(), ManifestError> {
        let content = &self.text[start..end];
        let trimmed = content.trim_start();
        let uri_start = start + (content.len() - trimmed.len());
        let uri_end = uri_start + trimmed.trim_end().len();
        if markup {
            let line = self.lines.at(uri_start);
            self.report.left_alone.push(LeftAloneUri {
                line,
                place,
                uri: content.trim().to_owned(),
                reason: LeftAlone::Markup,
            });
            return Ok(());
        }
        if place == "BaseURL" {
            self.set_base(&self.text[uri_start..uri_end], uri_start)?;
        }
        self.uri(place, uri_start, uri_end, false)
    }

    /// Records a `BaseURL` as the base of the element that holds it (the first
    /// one wins, as players use the first and fall back to the others).
    fn set_base(&mut self, raw: &str, offset: usize) -> Result<(), ManifestError> {
        let value = self.unescaped(raw, offset)?;
        let parent = self.bases.len().saturating_sub(2);
        if self.bases.get(parent).is_some_and(Option::is_none) {
            let mut absolute = String::new();
            let base = self
                .base()
                .map_or_else(|| self.stamper.base.as_str().to_owned(), str::to_owned);
            super::resolve::resolve_into(&base, &value, &mut absolute);
            self.bases[parent] = Some(absolute);
        }
        Ok(())
    }

    fn unescaped<'v>(
        &mut self,
        raw: &'v str,
        offset: usize,
    ) -> Result<Cow<'v, str>, ManifestError> {
        unescape(raw).map_err(|e| {
            let line = self.lines.at(offset);
            ManifestError::Xml {
                line,
                cause: quick_xml::Error::Escape(e),
            }
        })
    }

    /// Decides for the URL whose raw (escaped) text is `text[start..end]`.
    fn uri(
        &mut self,
        place: &'static str,
        start: usize,
        end: usize,
        template_place: bool,
    ) -> Result<(), ManifestError> {
        let text = self.text;
        let raw = &text[start..end];
        let value = self.unescaped(raw, start)?;
        let line = self.lines.at(start);
        let template = template_place && value.replace("$$", "").contains('$');
        // The fields are borrowed apart: the base is read while the stamper decides.
        let base = self.bases.iter().rev().find_map(|b| b.as_deref());
        match self.stamper.decide(base, &value, line, place, template)? {
            Decision::Sign {
                at,
                separator,
                parameters,
            } => {
                let raw_at = if at == value.len() {
                    raw.len()
                } else if matches!(value, Cow::Borrowed(_)) {
                    at
                } else {
                    // An escaped value with a fragment: the first `#` that is not
                    // part of a character reference.
                    raw.char_indices()
                        .find(|&(i, c)| c == '#' && !raw[..i].ends_with('&'))
                        .map_or(raw.len(), |(i, _)| i)
                };
                let insert = start + raw_at;
                self.out.push_str(&text[self.copied..insert]);
                self.out
                    .push_str(if separator == '&' { "&amp;" } else { "?" });
                self.out.push_str(&escape(parameters.as_ref()));
                self.copied = insert;
                self.report.count_signed(place);
            }
            Decision::Leave(reason) => self.report.left_alone.push(LeftAloneUri {
                line,
                place,
                uri: reported_uri(&value, &reason),
                reason,
            }),
        }
        Ok(())
    }
}

/// The descriptor [`url_query`](super::url_query) adds: DASH Annex I's `UrlQueryInfo`, telling the
/// player to append the MPD URL's query to its segment requests.
pub const URL_QUERY_DESCRIPTOR: &str = r#"<EssentialProperty schemeIdUri="urn:mpeg:dash:urlparam:2014" xmlns:up="urn:mpeg:dash:schema:urlparam:2014"><up:UrlQueryInfo queryTemplate="$querypart$" useMPDUrlQuery="true"/></EssentialProperty>"#;

/// Inserts [`URL_QUERY_DESCRIPTOR`] as the first child of every
/// `AdaptationSet` that has no `urn:mpeg:dash:urlparam` descriptor yet;
/// returns the MPD and how many were given one.
pub(super) fn url_query(text: &str) -> Result<(String, usize), ManifestError> {
    let mut lines = Lines {
        text: text.as_bytes(),
        offset: 0,
        line: 1,
    };
    let mut reader = Reader::from_str(text);
    let mut out = String::with_capacity(text.len() + 512);
    let mut copied = 0;
    let mut depth = 0;
    // The AdaptationSet being read: where the descriptor goes, and whether it has one.
    let mut open: Option<(usize, bool)> = None;
    let mut added = 0;
    let offset_of = |slice: &[u8]| slice.as_ptr() as usize - text.as_ptr() as usize;
    loop {
        let event = reader.read_event().map_err(|cause| ManifestError::Xml {
            line: lines.at(usize::try_from(reader.error_position()).unwrap_or(usize::MAX)),
            cause,
        })?;
        match event {
            Event::Eof => break,
            Event::DocType(d) => {
                return Err(ManifestError::Doctype {
                    line: lines.at(offset_of(&d)),
                });
            }
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Err(ManifestError::TooDeep {
                        line: lines.at(offset_of(e.name().as_ref())),
                        max: MAX_XML_DEPTH,
                    });
                }
                if e.local_name().as_ref() == b"AdaptationSet" {
                    let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                    open = Some((after, false));
                } else if let Some((_, has)) = &mut open
                    && is_url_param_descriptor(&e)
                {
                    *has = true;
                }
            }
            Event::Empty(e) => {
                if let Some((_, has)) = &mut open
                    && is_url_param_descriptor(&e)
                {
                    *has = true;
                }
            }
            Event::End(e) => {
                depth -= 1;
                if e.local_name().as_ref() == b"AdaptationSet"
                    && let Some((at, has)) = open.take()
                    && !has
                {
                    out.push_str(&text[copied..at]);
                    out.push_str(URL_QUERY_DESCRIPTOR);
                    copied = at;
                    added += 1;
                }
            }
            Event::GeneralRef(r) => {
                if let Some(name) = unknown_entity(&r) {
                    return Err(ManifestError::UnknownEntity {
                        line: lines.at(offset_of(&r)),
                        name,
                    });
                }
            }
            _ => {}
        }
    }
    out.push_str(&text[copied..]);
    Ok((out, added))
}

/// The name of an entity reference other than a character reference or one of
/// XML's five, which are the only ones an MPD may use (no DTD defines more).
fn unknown_entity(reference: &BytesRef<'_>) -> Option<String> {
    let name: &[u8] = reference;
    (!reference.is_char_ref() && !matches!(name, b"lt" | b"gt" | b"amp" | b"apos" | b"quot"))
        .then(|| String::from_utf8_lossy(name).into_owned())
}

fn is_url_param_descriptor(e: &BytesStart<'_>) -> bool {
    matches!(
        e.local_name().as_ref(),
        b"EssentialProperty" | b"SupplementalProperty"
    ) && e.attributes().flatten().any(|a| {
        a.key.local_name().as_ref() == b"schemeIdUri"
            && a.value.starts_with(b"urn:mpeg:dash:urlparam:")
    })
}

#[cfg(test)]
mod tests {
    use super::super::{ManifestError, Signing, rewrite};
    use crate::{Resource, SignableUrl};

    const ESCAPED: &str = "Policy=cG9saWN5&amp;Signature=c2ln&amp;Key-Pair-Id=K2JCJMDEHXQW5F";

    fn stamp(manifest: &str) -> Result<super::super::Rewritten, ManifestError> {
        super::super::test_support::stamp(manifest, "stream.mpd")
    }

    #[test]
    fn templates_lists_and_base_urls() {
        let input = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- made by hand -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">
  <Period>
    <BaseURL> media/ </BaseURL>
    <AdaptationSet mimeType='video/mp4'>
      <SegmentTemplate media="v-$Number%05d$.m4s?a=1&amp;b=2" initialization="init.mp4" startNumber="1"/>
      <Representation id="v" bandwidth="1">
        <SegmentList>
          <Initialization sourceURL="i.mp4"/>
          <SegmentURL media="s1.m4s"/><SegmentURL media="https://other.example/s2.m4s"/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
    <AdaptationSet><BaseURL>https://elsewhere.example/a/</BaseURL><SegmentTemplate media="$Time$.m4s"/></AdaptationSet>
  </Period>
</MPD>
"#;
        let want = input
            .replace(" media/ ", &format!(" media/?{ESCAPED} "))
            .replace("b=2\"", &format!("b=2&amp;{ESCAPED}\""))
            .replace("\"init.mp4\"", &format!("\"init.mp4?{ESCAPED}\""))
            .replace("\"i.mp4\"", &format!("\"i.mp4?{ESCAPED}\""))
            .replace("\"s1.m4s\"", &format!("\"s1.m4s?{ESCAPED}\""));
        let out = stamp(input).unwrap();
        assert_eq!(String::from_utf8(out.text).unwrap(), want);
        assert_eq!(out.report.signed, 5);
        let left: Vec<String> = out
            .report
            .left_alone
            .iter()
            .map(|l| format!("{} {} {}", l.line, l.place, l.reason))
            .collect();
        assert_eq!(
            left,
            [
                "11 SegmentURL@media https://other.example/s2.m4s is outside the signed resource",
                "15 BaseURL https://elsewhere.example/a/ is outside the signed resource",
                "15 SegmentTemplate@media https://elsewhere.example/a/$Time$.m4s is outside the signed resource",
            ]
        );
    }

    #[test]
    fn urls_mode_refuses_templates() {
        let key = crate::PrivateKey::generate(crate::KeyType::EcdsaP256).unwrap();
        let signer = crate::Signer::new(crate::KeyPairId::new("K2JCJMDEHXQW5F").unwrap(), key);
        let url = SignableUrl::parse("https://cdn.example.com/v/1/stream.mpd").unwrap();
        let covers = Resource::parse("https://cdn.example.com/v/1/*").unwrap();
        let signing = Signing::Urls {
            signer: &signer,
            expires: jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60),
            covers: &covers,
        };
        let input = "<MPD>\n<Period><AdaptationSet>\n<SegmentTemplate media=\"$Number$.m4s\"/></AdaptationSet></Period></MPD>";
        let err = rewrite(input.as_bytes(), &url, &signing).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 3: SegmentTemplate@media is the template \"$Number$.m4s\""),
            "{err}"
        );
        let list =
            "<MPD><Period><SegmentList><SegmentURL media=\"a.m4s\"/></SegmentList></Period></MPD>";
        let out = rewrite(list.as_bytes(), &url, &signing).unwrap();
        let text = String::from_utf8(out.text).unwrap();
        assert!(text.contains("a.m4s?Expires="), "{text}");
        assert!(text.contains("&amp;Signature="), "{text}");
    }

    #[test]
    fn malformed_mpds_are_refused_with_the_line() {
        let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE MPD [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<MPD><BaseURL>&lol2;</BaseURL></MPD>"#;
        let cases = [
            (laughs, "line 2: the MPD has a <!DOCTYPE>"),
            (
                "<MPD>\n<Period>\n</MPD>",
                "line 3: the MPD is not well-formed XML",
            ),
            (
                "<MPD>\n<BaseURL>&lol;</BaseURL></MPD>",
                "line 2: the MPD uses the entity `&lol;`",
            ),
            (
                "<MPD>\n<SegmentList><SegmentURL media=\"a&lol;.m4s\"/></SegmentList></MPD>",
                "line 2: the MPD is not well-formed XML",
            ),
        ];
        for (input, want) in cases {
            let err = stamp(input).unwrap_err();
            assert!(err.to_string().starts_with(want), "{input:?}: {err}");
        }
        let deep = format!("<MPD>{}", "<a>".repeat(super::MAX_XML_DEPTH));
        assert!(matches!(
            stamp(&deep).unwrap_err(),
            ManifestError::TooDeep { line: 1, .. }
        ));
    }

    #[test]
    fn url_query_info_goes_into_each_adaptation_set_once() {
        let input = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\">\n<Period>\n  <AdaptationSet id=\"0\">\n    <SegmentTemplate media=\"a-$Number$.m4s\"/>\n  </AdaptationSet>\n  <AdaptationSet id=\"1\">\n    <SupplementalProperty schemeIdUri=\"urn:mpeg:dash:urlparam:2016\"/>\n  </AdaptationSet>\n  <AdaptationSet id=\"2\"/>\n</Period>\n</MPD>\n";
        let out = super::super::url_query(input.as_bytes()).unwrap();
        assert_eq!(out.adaptation_sets, 1);
        let want = input.replacen(
            "<AdaptationSet id=\"0\">",
            &format!("<AdaptationSet id=\"0\">{}", super::URL_QUERY_DESCRIPTOR),
            1,
        );
        assert_eq!(String::from_utf8(out.text).unwrap(), want);
        // Once: a second pass finds the descriptor and adds nothing.
        let again = super::super::url_query(want.as_bytes()).unwrap();
        assert_eq!((again.adaptation_sets, again.text), (0, want.into_bytes()));
        assert!(matches!(
            super::super::url_query(b"#EXTM3U\n").unwrap_err(),
            ManifestError::NotDash
        ));
        let err = super::super::url_query(b"<MPD>\n<!DOCTYPE x>").unwrap_err();
        assert!(err.to_string().starts_with("line 2"), "{err}");
    }
}
