//! Text measurement and encoding shared by the SVG and PDF renderers.
//!
//! Both renderers lay text out themselves (truncation with an ellipsis, wrapping, label thinning),
//! so they need glyph widths without a system font library. We use the metrics of the PDF
//! standard fonts Helvetica and Helvetica-Bold (Adobe's Core 14 AFM widths, in 1/1000 em; Arial,
//! which browsers substitute, has the same widths). The PDF writes these fonts in
//! `WinAnsiEncoding` without embedding them; characters outside that set are drawn with the
//! built-in fallback font (DejaVu Sans, see [`super::fonts`]) when it has them, a few typographic
//! ones are approximated (minus sign, narrow spaces), anything else becomes `?`
//! ([`pdf_chars`]). The HTML keeps the text as it is.

use super::fonts::fallback_glyph;

/// Widths of the 256 WinAnsi codes in Helvetica and Helvetica-Bold, 1/1000 em. Generated from
/// the Adobe AFM metrics (as shipped in groff's `devps/HR` and `devps/HB`); 0 = no glyph.
mod widths {
    pub(super) const HELVETICA_WIDTHS: [u16; 256] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556,
        556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667,
        722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611,
        722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278,
        556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500,
        500, 500, 334, 260, 334, 584, 0, 556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667,
        333, 1000, 0, 611, 0, 0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0,
        500, 667, 278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
        400, 584, 333, 333, 333, 578, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, 667, 667,
        667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778,
        778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556, 556, 556,
        889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556, 556, 556, 556, 556, 556, 584,
        611, 556, 556, 556, 556, 500, 556, 500,
    ];

    pub(super) const HELVETICA_BOLD_WIDTHS: [u16; 256] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556,
        556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722,
        722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611,
        722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333,
        611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556,
        556, 500, 389, 280, 389, 584, 0, 556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667,
        333, 1000, 0, 611, 0, 0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0,
        500, 667, 278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
        400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, 722, 722,
        722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778,
        778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556, 556, 556,
        889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611, 611, 611, 611, 611, 611, 584,
        611, 611, 611, 611, 611, 556, 611, 556,
    ];
}

/// Width of a character with no WinAnsi glyph, as a browser would draw it from a fallback font:
/// wide (CJK, emoji) characters take a full em, others an average Latin glyph.
fn fallback_width(c: char) -> f64 {
    if is_wide(c) {
        1000.0
    } else {
        556.0
    }
}

/// East Asian wide and emoji ranges, which fallback fonts draw about one em wide.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD)
}

/// The WinAnsi (Windows-1252) code of `c`, if it has one.
pub fn win_ansi_code(c: char) -> Option<u8> {
    let u = c as u32;
    match u {
        0x20..=0x7E | 0xA0..=0xFF => Some(u as u8),
        _ => Some(match c {
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            'Ž' => 0x8E,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'ž' => 0x9E,
            'Ÿ' => 0x9F,
            _ => return None,
        }),
    }
}

/// The WinAnsi code the PDF writes for `c`: its own code, a close substitute for a few common
/// typographic characters, `?` for anything else. Control characters become spaces.
pub fn win_ansi_or_substitute(c: char) -> u8 {
    if let Some(code) = win_ansi_code(c) {
        return code;
    }
    match c {
        '\u{2212}' | '\u{2010}' | '\u{2011}' => b'-',
        '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => b' ',
        '\u{2032}' => b'\'',
        '\u{2033}' => b'"',
        '\u{2190}' => b'<',
        '\u{2192}' => b'>',
        '\u{2191}' | '\u{25B2}' => b'^',
        '\u{2193}' | '\u{25BC}' => b'v',
        '\u{00}'..='\u{1F}' | '\u{7F}'..='\u{9F}' => b' ',
        _ => b'?',
    }
}

fn is_invisible(c: char) -> bool {
    matches!(c as u32, 0x200B..=0x200F | 0x2060..=0x2064 | 0xFE00..=0xFE0F | 0xFEFF | 0x0300..=0x036F)
}

/// Font weight of a piece of text; the renderers use only these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

fn char_width_units(c: char, weight: Weight) -> f64 {
    if is_invisible(c) {
        return 0.0;
    }
    let table = match weight {
        Weight::Regular => &widths::HELVETICA_WIDTHS,
        Weight::Bold => &widths::HELVETICA_BOLD_WIDTHS,
    };
    match win_ansi_code(c) {
        Some(code) if table[code as usize] > 0 => f64::from(table[code as usize]),
        _ => match fallback_glyph(c, weight) {
            Some((_, width)) => width,
            None => fallback_width(c),
        },
    }
}

/// Width of `text` at font size `size` (same unit as the result).
pub fn text_width(text: &str, size: f64, weight: Weight) -> f64 {
    text.chars()
        .map(|c| char_width_units(c, weight))
        .sum::<f64>()
        * size
        / 1000.0
}

/// How the PDF draws one character.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PdfChar {
    /// A WinAnsi code of the standard font (Helvetica or Helvetica-Bold).
    Standard(u8),
    /// A glyph of the fallback font: its glyph id and advance width in 1/1000 em.
    Fallback(u16, f64),
}

/// How the PDF draws `c`: its WinAnsi code; else a space or hyphen for the spaces and dashes that
/// are only typographic variants; else the fallback font's glyph; else a close substitute or `?`.
/// Zero-width and combining characters draw nothing (`None`) rather than a `?` each.
pub fn pdf_char(c: char, weight: Weight) -> Option<PdfChar> {
    if is_invisible(c) {
        return None;
    }
    if let Some(code) = win_ansi_code(c) {
        return Some(PdfChar::Standard(code));
    }
    let substitute = win_ansi_or_substitute(c);
    if substitute == b' ' || substitute == b'-' {
        return Some(PdfChar::Standard(substitute));
    }
    Some(match fallback_glyph(c, weight) {
        Some((glyph, width)) => PdfChar::Fallback(glyph, width),
        None => PdfChar::Standard(substitute),
    })
}

/// `text` as the PDF draws it, character by character (see [`pdf_char`]).
pub fn pdf_chars(text: &str, weight: Weight) -> impl Iterator<Item = (char, PdfChar)> + '_ {
    text.chars()
        .filter_map(move |c| pdf_char(c, weight).map(|p| (c, p)))
}

/// Width of `text` as the PDF draws it (standard font, fallback font or substitute).
pub fn pdf_text_width(text: &str, size: f64, weight: Weight) -> f64 {
    let table = match weight {
        Weight::Regular => &widths::HELVETICA_WIDTHS,
        Weight::Bold => &widths::HELVETICA_BOLD_WIDTHS,
    };
    pdf_chars(text, weight)
        .map(|(_, p)| match p {
            PdfChar::Standard(code) => f64::from(table[code as usize]),
            PdfChar::Fallback(_, width) => width,
        })
        .sum::<f64>()
        * size
        / 1000.0
}

/// `text` shortened with a trailing "…" so it fits in `max_width`; unchanged if it fits.
pub fn truncate_to_width(text: &str, max_width: f64, size: f64, weight: Weight) -> String {
    if text_width(text, size, weight) <= max_width {
        return text.to_string();
    }
    let ellipsis = text_width("…", size, weight);
    let mut out = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        let w = char_width_units(c, weight) * size / 1000.0;
        if used + w + ellipsis > max_width {
            break;
        }
        used += w;
        out.push(c);
    }
    let trimmed = out.trim_end();
    let mut out = trimmed.to_string();
    out.push('…');
    out
}

/// `text` broken into lines no wider than `max_width`, at spaces where possible; a word longer
/// than a line is cut. Explicit newlines are kept. At most `max_lines` lines (the last one then
/// ends with "…"); `max_lines == 0` means no limit.
pub fn wrap_text(
    text: &str,
    max_width: f64,
    size: f64,
    weight: Weight,
    max_lines: usize,
) -> Vec<String> {
    let max_width = if max_width.is_finite() && max_width > size {
        max_width
    } else {
        size.max(1.0)
    };
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0.0;
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let word_width = text_width(word, size, weight);
            let space = if line.is_empty() {
                0.0
            } else {
                text_width(" ", size, weight)
            };
            if line_width + space + word_width <= max_width {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
                line_width += space + word_width;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
            }
            // The word alone: cut it into pieces that fit.
            for c in word.chars() {
                let w = char_width_units(c, weight) * size / 1000.0;
                if line_width + w > max_width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0.0;
                }
                line.push(c);
                line_width += w;
            }
        }
        lines.push(line);
    }
    if max_lines > 0 && lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let with_mark = format!("{last} …");
            *last = truncate_to_width(&with_mark, max_width, size, weight);
            if !last.ends_with('…') {
                last.push('…');
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_match_helvetica() {
        // "Hello": H 722 + e 556 + l 222 + l 222 + o 556 = 2278 units.
        assert!((text_width("Hello", 10.0, Weight::Regular) - 22.78).abs() < 1e-9);
        assert!(
            text_width("Hello", 10.0, Weight::Bold) > text_width("Hello", 10.0, Weight::Regular)
        );
        assert_eq!(text_width("", 12.0, Weight::Regular), 0.0);
    }

    /// The standard-font bytes of `text`, with `F` for each fallback-font glyph.
    fn standard_or_fallback(text: &str) -> Vec<u8> {
        pdf_chars(text, Weight::Regular)
            .map(|(_, p)| match p {
                PdfChar::Standard(code) => code,
                PdfChar::Fallback(..) => b'F',
            })
            .collect()
    }

    #[test]
    fn pdf_text_is_win_ansi_then_the_fallback_font_then_a_substitute() {
        assert_eq!(
            standard_or_fallback("Café – 5 €"),
            b"Caf\xe9 \x96 5 \x80".to_vec()
        );
        // The typographic minus and narrow spaces stay in the standard font.
        assert_eq!(standard_or_fallback("−3\u{202F}k"), b"-3 k".to_vec());
        // Cyrillic, Greek, Polish and arrows come from the fallback font ...
        assert_eq!(standard_or_fallback("Пиво Ωł→"), b"FFFF FFF".to_vec());
        // ... CJK, emoji and right-to-left letters are not drawn by it.
        assert_eq!(standard_or_fallback("日本🍺שלום"), b"???????".to_vec());
        assert_eq!(standard_or_fallback("a\u{200B}b\u{0301}"), b"ab".to_vec());
        assert_eq!(standard_or_fallback("a\tb"), b"a b".to_vec());
    }

    #[test]
    fn measured_width_is_the_width_the_pdf_draws() {
        // Layout (text_width) and drawing (pdf_text_width) agree for text either font draws, so
        // wrapped and right-aligned Cyrillic lines fit where they are put.
        for text in ["Hello", "Пиво и сидр", "Ωmega → ▲ 5"] {
            for weight in [Weight::Regular, Weight::Bold] {
                let (layout, drawn) = (
                    text_width(text, 10.0, weight),
                    pdf_text_width(text, 10.0, weight),
                );
                assert!((layout - drawn).abs() < 1e-9, "{text}: {layout} vs {drawn}");
            }
        }
        let (_, zhe) = crate::kernels::report::fonts::fallback_glyph('Ж', Weight::Regular).unwrap();
        assert!((pdf_text_width("Ж", 10.0, Weight::Regular) - zhe / 100.0).abs() < 1e-9);
    }

    #[test]
    fn truncation_adds_an_ellipsis_and_fits() {
        let long = "A very long category name that cannot fit";
        let short = truncate_to_width(long, 60.0, 10.0, Weight::Regular);
        assert!(short.ends_with('…'));
        assert!(text_width(&short, 10.0, Weight::Regular) <= 60.0);
        assert_eq!(
            truncate_to_width("Short", 60.0, 10.0, Weight::Regular),
            "Short"
        );
        assert_eq!(
            truncate_to_width("Anything", 0.0, 10.0, Weight::Regular),
            "…"
        );
    }

    #[test]
    fn wrapping_keeps_words_and_limits_lines() {
        let lines = wrap_text(
            "one two three four five six",
            60.0,
            10.0,
            Weight::Regular,
            0,
        );
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), "one two three four five six");
        for line in &lines {
            assert!(text_width(line, 10.0, Weight::Regular) <= 60.0);
        }
        let capped = wrap_text(&"word ".repeat(200), 60.0, 10.0, Weight::Regular, 2);
        assert_eq!(capped.len(), 2);
        assert!(capped[1].ends_with('…'));
        let unbroken = wrap_text(&"x".repeat(100), 30.0, 10.0, Weight::Regular, 0);
        assert!(unbroken
            .iter()
            .all(|l| text_width(l, 10.0, Weight::Regular) <= 30.0));
    }
}
