//! HLS playlists (RFC 8216 and draft-pantos-hls-rfc8216bis): URI lines and the
//! URI-valued attributes of the tags that have them, found line by line; every
//! other byte is copied as it is.

use super::{
    Decision, LeftAloneUri, MAX_LINE_BYTES, ManifestError, ManifestFormat, Report, Rewritten,
    Stamper, reported_uri,
};

/// The tags with URI-valued attributes: tag, attribute, place in the report.
const URI_ATTRIBUTES: &[(&str, &str, &str)] = &[
    ("EXT-X-KEY", "URI", "EXT-X-KEY URI"),
    ("EXT-X-SESSION-KEY", "URI", "EXT-X-SESSION-KEY URI"),
    ("EXT-X-MAP", "URI", "EXT-X-MAP URI"),
    ("EXT-X-MEDIA", "URI", "EXT-X-MEDIA URI"),
    (
        "EXT-X-I-FRAME-STREAM-INF",
        "URI",
        "EXT-X-I-FRAME-STREAM-INF URI",
    ),
    ("EXT-X-PART", "URI", "EXT-X-PART URI"),
    ("EXT-X-PRELOAD-HINT", "URI", "EXT-X-PRELOAD-HINT URI"),
    (
        "EXT-X-RENDITION-REPORT",
        "URI",
        "EXT-X-RENDITION-REPORT URI",
    ),
    ("EXT-X-SESSION-DATA", "URI", "EXT-X-SESSION-DATA URI"),
    (
        "EXT-X-CONTENT-STEERING",
        "SERVER-URI",
        "EXT-X-CONTENT-STEERING SERVER-URI",
    ),
    (
        "EXT-X-DATERANGE",
        "X-ASSET-URI",
        "EXT-X-DATERANGE X-ASSET-URI",
    ),
    (
        "EXT-X-DATERANGE",
        "X-ASSET-LIST",
        "EXT-X-DATERANGE X-ASSET-LIST",
    ),
];

const URI_LINE: &str = "URI line";

pub(super) fn rewrite(text: &str, mut stamper: Stamper<'_>) -> Result<Rewritten, ManifestError> {
    let mut report = Report::new(ManifestFormat::Hls);
    let scan = Scan::of(text.as_bytes());
    let mut out = String::with_capacity(stamper.output_estimate(text.len(), scan.newlines));
    let mut copied = 0;
    let bom = if text.starts_with('\u{FEFF}') { 3 } else { 0 };
    let bytes = text.as_bytes();
    let mut offset = 0;
    let mut index = 0;
    while offset < bytes.len() {
        let line_number = index + 1;
        let start = offset;
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        offset = end + 1;
        index += 1;
        let line = &text[start..end];
        let line = line.strip_suffix('\r').unwrap_or(line);
        if scan.control {
            check_line(line, line_number)?;
        } else if line.len() > MAX_LINE_BYTES {
            return Err(ManifestError::LineTooLong {
                line: line_number,
                length: line.len(),
                max: MAX_LINE_BYTES,
            });
        }
        let (line, start) = if line_number == 1 {
            (&line[bom..], start + bom)
        } else {
            (line, start)
        };
        if line_number == 1 {
            if line.trim_end_matches([' ', '\t']) != "#EXTM3U" {
                return Err(ManifestError::MissingExtm3u);
            }
            continue;
        }
        let mut uris: [Option<(usize, usize, &'static str)>; 2] = [None, None];
        if let Some(tag_line) = line.strip_prefix('#') {
            // Every tag with a URI is an `EXT-X-` tag: comments, `#EXTINF` and
            // the rest are passed over without looking further.
            if !tag_line.starts_with("EXT-X-") {
                continue;
            }
            let Some((tag, attributes)) = tag_line.split_once(':') else {
                continue;
            };
            if !URI_ATTRIBUTES.iter().any(|(t, _, _)| *t == tag) {
                continue;
            }
            let list_start = 1 + tag.len() + 1;
            let mut found = 0;
            for_each_quoted(
                attributes,
                line_number,
                tag,
                |name, value_start, value_end| {
                    if let Some((_, _, place)) = URI_ATTRIBUTES
                        .iter()
                        .find(|(t, a, _)| *t == tag && *a == name)
                        && found < uris.len()
                    {
                        uris[found] =
                            Some((list_start + value_start, list_start + value_end, *place));
                        found += 1;
                    }
                },
            )?;
        } else {
            let trimmed = line.trim_start_matches([' ', '\t']);
            let uri_start = line.len() - trimmed.len();
            let uri = trimmed.trim_end_matches([' ', '\t']);
            if uri.is_empty() {
                continue; // a blank line
            }
            uris[0] = Some((uri_start, uri_start + uri.len(), URI_LINE));
        }
        for (uri_start, uri_end, place) in uris.into_iter().flatten() {
            let uri = &line[uri_start..uri_end];
            match stamper.decide(None, uri, line_number, place, false)? {
                Decision::Sign {
                    at,
                    separator,
                    parameters,
                } => {
                    let insert = start + uri_start + at;
                    out.push_str(&text[copied..insert]);
                    out.push(separator);
                    out.push_str(&parameters);
                    copied = insert;
                    report.count_signed(place);
                }
                Decision::Leave(reason) => report.left_alone.push(LeftAloneUri {
                    line: line_number,
                    place,
                    uri: reported_uri(uri, &reason),
                    reason,
                }),
            }
        }
    }
    if text.is_empty() {
        return Err(ManifestError::MissingExtm3u);
    }
    out.push_str(&text[copied..]);
    Ok(Rewritten {
        text: out.into_bytes(),
        report,
    })
}

/// One pass over the whole playlist, without branches the compiler cannot
/// vectorise: its line feeds, and whether any control character other than
/// tab and line feed is in it (then each line is checked, [`check_line`]).
struct Scan {
    newlines: usize,
    control: bool,
}

impl Scan {
    fn of(bytes: &[u8]) -> Self {
        let mut newlines = 0usize;
        let mut control = false;
        for chunk in bytes.chunks(64) {
            newlines += chunk.iter().filter(|&&b| b == b'\n').count();
            control |= chunk.iter().fold(false, |c, &b| {
                c | ((b < 0x20) & (b != b'\t') & (b != b'\n')) | (b == 0x7F)
            });
        }
        Self { newlines, control }
    }
}

/// Refuses an over-long line and control characters (binary data): a playlist
/// is text, with tab the only control character inside a line.
fn check_line(line: &str, line_number: usize) -> Result<(), ManifestError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(ManifestError::LineTooLong {
            line: line_number,
            length: line.len(),
            max: MAX_LINE_BYTES,
        });
    }
    match line
        .bytes()
        .position(|b| (b < 0x20 && b != b'\t') || b == 0x7F)
    {
        Some(i) => Err(ManifestError::Binary {
            line: line_number,
            column: i + 1,
            byte: line.as_bytes()[i],
        }),
        None => Ok(()),
    }
}

/// Calls `found(name, value_start, value_end)` for every attribute of an
/// attribute list whose value is a quoted string (offsets inside `list`,
/// without the quotes). RFC 8216 §4.2: a quoted string has no escape and
/// cannot hold `"`, CR or LF, so the first `"` after the opening one closes it.
fn for_each_quoted<'l>(
    list: &'l str,
    line: usize,
    tag: &str,
    mut found: impl FnMut(&'l str, usize, usize),
) -> Result<(), ManifestError> {
    let bytes = list.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(eq) = list[pos..].find(['=', ',']).map(|i| pos + i) else {
            break;
        };
        if bytes[eq] == b',' {
            pos = eq + 1; // an attribute without a value: not ours to judge
            continue;
        }
        let name = list[pos..eq].trim_matches([' ', '\t']);
        let value = eq + 1;
        if bytes.get(value) == Some(&b'"') {
            let Some(close) = list[value + 1..].find('"').map(|i| value + 1 + i) else {
                return Err(ManifestError::UnterminatedQuote {
                    line,
                    tag: tag.to_owned(),
                    attribute: name.to_owned(),
                });
            };
            found(name, value + 1, close);
            pos = list[close..]
                .find(',')
                .map_or(bytes.len(), |i| close + i + 1);
        } else {
            pos = list[value..]
                .find(',')
                .map_or(bytes.len(), |i| value + i + 1);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::PARAMS;
    use super::super::{ManifestError, Signing, rewrite};
    use crate::{Resource, SignableUrl};

    fn stamp(manifest: &str) -> Result<super::super::Rewritten, ManifestError> {
        super::super::test_support::stamp(manifest, "index.m3u8")
    }

    fn text(manifest: &str) -> String {
        String::from_utf8(stamp(manifest).unwrap().text).unwrap()
    }

    #[test]
    fn uri_lines_and_attributes_keep_every_other_byte() {
        let input = "#EXTM3U\r\n#EXT-X-VERSION:7\r\n# a comment seg.ts\r\n\r\n#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x00\r\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\r\n#EXTINF:1.0,title, with comma\r\nseg0.m4s\r\n#EXTINF:1.0,\r\n  ../1/seg1.m4s?v=2 \r\n#EXT-X-ENDLIST\r\n";
        let want = format!(
            "#EXTM3U\r\n#EXT-X-VERSION:7\r\n# a comment seg.ts\r\n\r\n#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin?{PARAMS}\",IV=0x00\r\n#EXT-X-MAP:URI=\"init.mp4?{PARAMS}\",BYTERANGE=\"720@0\"\r\n#EXTINF:1.0,title, with comma\r\nseg0.m4s?{PARAMS}\r\n#EXTINF:1.0,\r\n  ../1/seg1.m4s?v=2&{PARAMS} \r\n#EXT-X-ENDLIST\r\n"
        );
        assert_eq!(text(input), want);
    }

    #[test]
    fn uris_outside_the_resource_are_reported() {
        let input = "#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://key-42\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n#EXT-X-DEFINE:NAME=\"p\",VALUE=\"x\"\n{$p}/a.ts\n../2/b.ts\nhttps://other.example.com/c.ts\nd.ts?Signature=abc\n/v/1/e%zz.ts\n#EXT-X-MAP:URI=\"\"\n";
        let out = stamp(input).unwrap();
        assert_eq!(String::from_utf8(out.text).unwrap(), input);
        let reasons: Vec<String> = out
            .report
            .left_alone
            .iter()
            .map(|l| format!("{}:{}:{}", l.line, l.uri, l.reason))
            .collect();
        assert_eq!(reasons.len(), 7, "{reasons:#?}");
        assert!(reasons[0].starts_with("2:skd://key-42:its scheme `skd`"));
        assert!(reasons[1].starts_with("4:{$p}/a.ts:it uses an EXT-X-DEFINE"));
        assert!(reasons[2].contains("https://cdn.example.com/v/2/b.ts is outside"));
        assert!(reasons[3].contains("https://other.example.com/c.ts is outside"));
        assert_eq!(
            reasons[4],
            "7:d.ts:it already carries CloudFront signing parameters"
        );
        assert!(reasons[5].starts_with("8:/v/1/e%zz.ts:it is not a valid URL"));
        assert!(reasons[6].starts_with("9::it names the manifest itself"));
        assert_eq!(out.report.signed, 0);
    }

    #[test]
    fn a_fragment_stays_after_the_parameters() {
        assert_eq!(
            text("#EXTM3U\nseg.ts#t=1\n"),
            format!("#EXTM3U\nseg.ts?{PARAMS}#t=1\n")
        );
    }

    #[test]
    fn malformed_playlists_are_refused_with_the_line() {
        let cases = [
            ("#EXTM3\nseg.ts\n", "line 1: an HLS playlist must start"),
            ("", "line 1: an HLS playlist must start"),
            (
                "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\n",
                "line 2: the quoted value of attribute URI in EXT-X-KEY is not closed",
            ),
            (
                "#EXTM3U\nseg\0.ts\n",
                "line 2: the byte 0x00 at column 4 is binary",
            ),
            (
                "#EXTM3U\n\nseg.ts\rx\n",
                "line 3: the byte 0x0D at column 7",
            ),
        ];
        for (input, want) in cases {
            let url = SignableUrl::parse("https://cdn.example.com/v/1/index.m3u8").unwrap();
            let covers = Resource::parse("https://cdn.example.com/v/1/*").unwrap();
            let signing = Signing::Stamp {
                parameters: PARAMS,
                covers: &covers,
            };
            let err = super::super::rewrite_as(
                super::super::ManifestFormat::Hls,
                input.as_bytes(),
                &url,
                &signing,
            )
            .unwrap_err();
            assert!(err.to_string().starts_with(want), "{input:?}: {err}");
        }
        let long = format!("#EXTM3U\n{}\n", "a".repeat(super::MAX_LINE_BYTES + 1));
        assert!(matches!(
            stamp(&long).unwrap_err(),
            ManifestError::LineTooLong { line: 2, .. }
        ));
        let binary = b"#EXTM3U\nseg\xff.ts\n";
        let url = SignableUrl::parse("https://cdn.example.com/v/1/index.m3u8").unwrap();
        let covers = Resource::parse("https://cdn.example.com/v/1/*").unwrap();
        let err = rewrite(
            binary,
            &url,
            &Signing::Stamp {
                parameters: PARAMS,
                covers: &covers,
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: the manifest is not UTF-8 text (invalid byte at column 4)"
        );
    }

    #[test]
    fn every_uri_tag_is_rewritten() {
        for (tag, attribute, _) in super::URI_ATTRIBUTES {
            let input = format!("#EXTM3U\n#{tag}:ID=\"x\",{attribute}=\"a.m3u8\",B=1\n");
            let out = stamp(&input).unwrap();
            assert_eq!(
                String::from_utf8(out.text).unwrap(),
                format!("#EXTM3U\n#{tag}:ID=\"x\",{attribute}=\"a.m3u8?{PARAMS}\",B=1\n")
            );
            assert_eq!(out.report.signed, 1);
        }
    }
}
