//! The PDF's fallback font: DejaVu Sans and DejaVu Sans Bold, built into the extension.
//!
//! The PDF writes text in Helvetica (a standard font every reader has, nothing embedded) when the
//! WinAnsi character set holds it. Names and titles on a social platform also come in Cyrillic,
//! Greek, Latin Extended, symbols …: those characters are drawn with DejaVu Sans instead, and each
//! PDF embeds only the glyphs it uses (subset by `subsetter`, the typst project's subsetter), so a
//! report with a few such names grows by a few kilobytes. Glyph ids and advance widths come from
//! `ttf-parser`. DejaVu Sans was chosen for its coverage of European scripts and its permissive
//! licence (`fonts/LICENSE`).
//!
//! Right-to-left scripts (Hebrew, Arabic …) would need bidirectional reordering and shaping, which
//! this renderer does not do, so they stay `?` rather than being drawn backwards; so does anything
//! DejaVu Sans lacks (CJK, most emoji: it has a few, such as 😀). The HTML shows every character.

use std::sync::OnceLock;

use super::text::Weight;

static REGULAR_TTF: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("fonts/DejaVuSans-Bold.ttf");

/// One parsed face of the fallback font.
pub struct FallbackFace {
    pub data: &'static [u8],
    pub face: ttf_parser::Face<'static>,
    /// The PDF name of the embedded subset; the six-letter tag marks it as a subset.
    pub pdf_name: &'static str,
}

impl FallbackFace {
    /// Font units per 1000 em units (the PDF's glyph space).
    pub fn to_thousandths(&self, units: f64) -> f64 {
        units * 1000.0 / f64::from(self.face.units_per_em())
    }

    /// Advance width of a glyph in 1/1000 em.
    pub fn advance(&self, glyph: u16) -> f64 {
        let units = self
            .face
            .glyph_hor_advance(ttf_parser::GlyphId(glyph))
            .unwrap_or(0);
        self.to_thousandths(f64::from(units))
    }
}

fn parse(data: &'static [u8], pdf_name: &'static str) -> Option<FallbackFace> {
    ttf_parser::Face::parse(data, 0)
        .ok()
        .map(|face| FallbackFace {
            data,
            face,
            pdf_name,
        })
}

/// The fallback face for `weight`; `None` only if the built-in font could not be parsed, and then
/// text falls back to `?` as before.
pub fn fallback_face(weight: Weight) -> Option<&'static FallbackFace> {
    static REGULAR: OnceLock<Option<FallbackFace>> = OnceLock::new();
    static BOLD: OnceLock<Option<FallbackFace>> = OnceLock::new();
    match weight {
        Weight::Regular => REGULAR.get_or_init(|| parse(REGULAR_TTF, "MKAAAA+DejaVuSans")),
        Weight::Bold => BOLD.get_or_init(|| parse(BOLD_TTF, "MKAAAB+DejaVuSans-Bold")),
    }
    .as_ref()
}

/// Scripts written right to left, which need reordering and shaping to read correctly.
fn is_right_to_left(c: char) -> bool {
    matches!(c as u32,
        0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF)
}

/// The fallback glyph of `c` and its advance width (1/1000 em), if the fallback font draws it.
pub fn fallback_glyph(c: char, weight: Weight) -> Option<(u16, f64)> {
    if is_right_to_left(c) || c.is_control() {
        return None;
    }
    let face = fallback_face(weight)?;
    let glyph = face.face.glyph_index(c)?;
    if glyph.0 == 0 {
        return None;
    }
    Some((glyph.0, face.advance(glyph.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn european_scripts_have_glyphs_and_the_rest_do_not() {
        for c in ['Ж', 'я', 'Ω', 'ł', 'ğ', 'ơ', '▲', '→', '₂'] {
            for weight in [Weight::Regular, Weight::Bold] {
                let (glyph, width) = fallback_glyph(c, weight).unwrap_or_else(|| panic!("{c}"));
                assert!(glyph > 0 && width > 0.0 && width < 2000.0, "{c}: {width}");
            }
        }
        // Right-to-left letters are refused even though DejaVu Sans has them; CJK and emoji are
        // not in the font.
        for c in ['ا', 'ש', '日', '酒', '🍺'] {
            assert_eq!(fallback_glyph(c, Weight::Regular), None, "{c}");
        }
    }

    #[test]
    fn widths_are_in_thousandths_of_an_em() {
        // DejaVu Sans has 2048 units per em; its Cyrillic Ж is wider than its и.
        let (_, zhe) = fallback_glyph('Ж', Weight::Regular).unwrap();
        let (_, i) = fallback_glyph('и', Weight::Regular).unwrap();
        assert!(zhe > i && zhe < 1100.0, "{zhe} {i}");
    }
}
