//! Evidence files on tickets: what kind of file a body is, decided by
//! its first bytes and never by its name; what name it may be stored and
//! offered under; and the limits per file and per ticket, as policy.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};

/// A kind of file kefu accepts, recognised by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKind {
    pub content_type: &'static str,
    /// The extension the stored name gets.
    pub ext: &'static str,
    /// Other extensions that name the same kind (`jpeg` for `jpg`).
    pub aliases: &'static [&'static str],
    /// Shown as a picture (thumbnail) in the console.
    pub image: bool,
    pub label_zh: &'static str,
    pub label_en: &'static str,
}

const fn kind(
    content_type: &'static str,
    ext: &'static str,
    aliases: &'static [&'static str],
    image: bool,
    label_zh: &'static str,
    label_en: &'static str,
) -> FileKind {
    FileKind { content_type, ext, aliases, image, label_zh, label_en }
}

const JPEG: FileKind = kind("image/jpeg", "jpg", &["jpeg", "jpe"], true, "图片", "image");
const PNG: FileKind = kind("image/png", "png", &[], true, "图片", "image");
const GIF: FileKind = kind("image/gif", "gif", &[], true, "图片", "image");
const WEBP: FileKind = kind("image/webp", "webp", &[], true, "图片", "image");
const PDF: FileKind = kind("application/pdf", "pdf", &[], false, "PDF 文档", "PDF document");
const AMR: FileKind = kind("audio/amr", "amr", &[], false, "录音", "voice recording");
const MP3: FileKind = kind("audio/mpeg", "mp3", &[], false, "录音", "voice recording");
const WAV: FileKind = kind("audio/wav", "wav", &[], false, "录音", "voice recording");
const M4A: FileKind = kind("audio/mp4", "m4a", &["mp4", "aac"], false, "录音", "voice recording");

/// Every kind kefu can recognise; the policy says which are accepted.
pub const KINDS: [FileKind; 9] = [JPEG, PNG, GIF, WEBP, PDF, AMR, MP3, WAV, M4A];

/// The kind of a file by its first bytes, or None when it is none of the
/// kinds above (an HTML page or a program named `photo.jpg` is None).
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    let at = |offset: usize, magic: &[u8]| bytes.get(offset..offset + magic.len()) == Some(magic);
    if at(0, &[0xFF, 0xD8, 0xFF]) {
        return Some(JPEG);
    }
    if at(0, b"\x89PNG\r\n\x1a\n") {
        return Some(PNG);
    }
    if at(0, b"GIF87a") || at(0, b"GIF89a") {
        return Some(GIF);
    }
    if at(0, b"RIFF") && at(8, b"WEBP") {
        return Some(WEBP);
    }
    if at(0, b"RIFF") && at(8, b"WAVE") {
        return Some(WAV);
    }
    if at(0, b"%PDF-") {
        return Some(PDF);
    }
    if at(0, b"#!AMR\n") || at(0, b"#!AMR-WB\n") {
        return Some(AMR);
    }
    if at(4, b"ftyp") && [b"M4A ", b"M4B ", b"mp42", b"mp41", b"isom", b"3gp4", b"3gp5"].iter().any(|b| at(8, *b)) {
        return Some(M4A);
    }
    if at(0, b"ID3") || mpeg_frame(bytes) {
        return Some(MP3);
    }
    None
}

/// An MPEG audio frame header: 11 sync bits, a known version and layer,
/// and a bitrate and sample rate that are not the reserved values.
fn mpeg_frame(b: &[u8]) -> bool {
    let [a, v, r, ..] = b else { return false };
    let version = (v >> 3) & 0b11;
    let layer = (v >> 1) & 0b11;
    let bitrate = r >> 4;
    let rate = (r >> 2) & 0b11;
    *a == 0xFF && v & 0xE0 == 0xE0 && version != 0b01 && layer != 0 && bitrate != 0xF && rate != 0b11
}

/// The attachment limits and accepted kinds (`[attachments]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentPolicy {
    /// Largest single file, bytes.
    pub max_file_bytes: u64,
    /// All files of one ticket together, bytes.
    pub max_ticket_bytes: u64,
    /// Files on one ticket.
    pub max_files_per_ticket: u32,
    /// Content types accepted, of those kefu recognises (`KINDS`).
    pub types: Vec<String>,
    /// Longest stored file name, characters (the extension included).
    pub max_name_chars: usize,
    /// Unreferenced stored files older than this are removed (an upload
    /// whose ticket write failed, a purged ticket's files).
    pub orphan_minutes: u32,
}

impl Default for AttachmentPolicy {
    fn default() -> Self {
        AttachmentPolicy {
            max_file_bytes: 10 * 1024 * 1024,
            max_ticket_bytes: 50 * 1024 * 1024,
            max_files_per_ticket: 30,
            types: KINDS.iter().map(|k| k.content_type.to_string()).collect(),
            max_name_chars: 100,
            orphan_minutes: 60,
        }
    }
}

impl AttachmentPolicy {
    pub fn check(&self) -> Result<(), String> {
        for t in &self.types {
            if !KINDS.iter().any(|k| k.content_type == t) {
                let known: Vec<&str> = KINDS.iter().map(|k| k.content_type).collect();
                return Err(format!("[attachments] types: '{t}' is not one of {}", known.join(", ")));
            }
        }
        if self.max_file_bytes == 0 || self.max_ticket_bytes < self.max_file_bytes || self.max_name_chars < 8 {
            return Err(
                "[attachments]: max_file_bytes > 0, max_ticket_bytes ≥ max_file_bytes, max_name_chars ≥ 8".into()
            );
        }
        Ok(())
    }

    /// The kind of an uploaded file, or why it is refused: too large, empty,
    /// or not a kind the policy accepts (whatever its name says).
    pub fn accept(&self, field: &str, bytes: &[u8]) -> Result<FileKind, Refusal> {
        if bytes.len() as u64 > self.max_file_bytes {
            return Err(Refusal::TooLarge(too_large(field, self.max_file_bytes, "the file", "单个文件")));
        }
        if bytes.is_empty() {
            return Err(Refusal::Invalid(FieldError::new(field, "the file is empty", "文件为空")));
        }
        match sniff(bytes).filter(|k| self.types.iter().any(|t| t == k.content_type)) {
            Some(k) => Ok(k),
            None => Err(Refusal::Type(FieldError::new(
                field,
                format!(
                    "the file's content is not an accepted kind ({}); the name does not decide it",
                    self.types.join(", ")
                ),
                "文件内容不是允许的类型（图片、PDF、录音），按内容判断，与文件名无关",
            ))),
        }
    }

    /// Whether a ticket already holding `count` files of `bytes` in all can
    /// take one more of `size` bytes.
    pub fn fits(&self, field: &str, count: u64, bytes: u64, size: u64) -> Result<(), Refusal> {
        if count >= u64::from(self.max_files_per_ticket) {
            let n = self.max_files_per_ticket;
            return Err(Refusal::TooLarge(FieldError::new(
                field,
                format!("the ticket already has {n} files, the most it may have"),
                format!("该工单已有 {n} 个附件，已达上限"),
            )));
        }
        if bytes + size > self.max_ticket_bytes {
            return Err(Refusal::TooLarge(too_large(
                field,
                self.max_ticket_bytes,
                "the ticket's files together",
                "同一工单的附件合计",
            )));
        }
        Ok(())
    }
}

fn too_large(field: &str, limit: u64, what: &str, what_zh: &str) -> FieldError {
    let mib = limit as f64 / (1024.0 * 1024.0);
    FieldError::new(
        field,
        format!("{what} may be at most {mib:.1} MiB ({limit} bytes)"),
        format!("{what_zh}不能超过 {mib:.1} MB（{limit} 字节）"),
    )
}

/// Why a file is refused; each names the field.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Over a size or count limit (HTTP 413).
    TooLarge(FieldError),
    /// Not an accepted kind by content (HTTP 415).
    Type(FieldError),
    /// Empty or otherwise unusable (HTTP 422).
    Invalid(FieldError),
}

/// The name a file is stored and offered under: the last path part of what
/// the client sent, without control, bidirectional-override or reserved
/// characters, at most `max_chars`, ending in the extension of its real
/// kind (`报告.exe` that is a PDF becomes `报告.exe.pdf`).
pub fn safe_name(given: &str, kind: FileKind, max_chars: usize) -> String {
    let last = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi(*c) && !"<>:\"|?*;".contains(*c))
        .collect::<String>()
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_string();
    let (stem, ext) = match cleaned.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), e.to_ascii_lowercase()),
        _ => (cleaned.clone(), String::new()),
    };
    let keeps_ext = ext == kind.ext || kind.aliases.contains(&ext.as_str());
    let mut stem = if keeps_ext { stem } else { cleaned };
    if stem.is_empty() {
        stem = "附件".to_string();
    }
    if is_reserved(&stem) {
        stem.insert(0, '_');
    }
    let ext = if keeps_ext { ext } else { kind.ext.to_string() };
    let room = max_chars.saturating_sub(ext.chars().count() + 1).max(1);
    let stem: String = stem.chars().take(room).collect();
    format!("{}.{ext}", stem.trim_end_matches('.'))
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Names Windows will not open as files (an agent's download must open).
fn is_reserved(stem: &str) -> bool {
    let base = stem.split('.').next().unwrap_or_default().to_ascii_uppercase();
    matches!(base.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (base.len() == 4
            && (base.starts_with("COM") || base.starts_with("LPT"))
            && base.as_bytes()[3].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg() -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0];
        b.resize(600, 0x11);
        b
    }

    #[test]
    fn kinds_are_told_by_content() {
        let cases: [(&[u8], Option<&str>); 13] = [
            (&jpeg(), Some("image/jpeg")),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("image/png")),
            (b"GIF89a\x01\0", Some("image/gif")),
            (b"RIFF\x24\0\0\0WEBPVP8 ", Some("image/webp")),
            (b"RIFF\x24\0\0\0WAVEfmt ", Some("audio/wav")),
            (b"%PDF-1.7\n", Some("application/pdf")),
            (b"#!AMR\n\x3c", Some("audio/amr")),
            (b"\0\0\0\x20ftypM4A \0\0\0\0", Some("audio/mp4")),
            (b"ID3\x04\0\0\0\0\0\0", Some("audio/mpeg")),
            (&[0xFF, 0xFB, 0x90, 0x64], Some("audio/mpeg")),
            (b"<html><script>alert(1)</script>", None),
            (b"MZ\x90\0\x03", None),
            (b"RIFF\x24\0\0\0AVI LIST", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(sniff(bytes).map(|k| k.content_type), want, "{bytes:?}");
        }
        // Reserved bitrate or sample rate: not a frame.
        assert!(sniff(&[0xFF, 0xFB, 0xF0, 0x64]).is_none());
        assert!(sniff(&[0xFF, 0xFB, 0x9C, 0x64]).is_none());
        assert!(sniff(&[]).is_none());
    }

    #[test]
    fn the_policy_decides_size_and_kind() {
        let p = AttachmentPolicy { max_file_bytes: 1000, ..Default::default() };
        assert_eq!(p.accept("file", &jpeg()).unwrap().ext, "jpg");
        assert!(matches!(p.accept("file", &[0xFF; 1001]), Err(Refusal::TooLarge(f)) if f.field == "file"));
        assert!(matches!(p.accept("file", b""), Err(Refusal::Invalid(_))));
        assert!(matches!(p.accept("file", b"<html>"), Err(Refusal::Type(f)) if f.message_zh.contains("按内容")));
        let only_pdf = AttachmentPolicy { types: vec!["application/pdf".into()], ..Default::default() };
        assert!(matches!(only_pdf.accept("file", &jpeg()), Err(Refusal::Type(_))));
        assert!(only_pdf.check().is_ok());
        let bad = AttachmentPolicy { types: vec!["text/html".into()], ..Default::default() };
        assert!(bad.check().unwrap_err().contains("text/html"));
        assert!(AttachmentPolicy::default().check().is_ok());
    }

    #[test]
    fn a_ticket_has_room_for_so_many_files() {
        let p = AttachmentPolicy {
            max_file_bytes: 100,
            max_ticket_bytes: 250,
            max_files_per_ticket: 3,
            ..Default::default()
        };
        assert!(p.fits("file", 0, 0, 100).is_ok());
        assert!(p.fits("file", 2, 150, 100).is_ok());
        assert!(matches!(p.fits("file", 2, 200, 100), Err(Refusal::TooLarge(_))));
        assert!(matches!(p.fits("file", 3, 0, 1), Err(Refusal::TooLarge(f)) if f.message_zh.contains("3 个")));
    }

    #[test]
    fn names_are_made_safe_and_honest() {
        let k = sniff(&jpeg()).unwrap();
        let pdf = sniff(b"%PDF-1.4").unwrap();
        let cases = [
            ("路由器照片.jpg", k, "路由器照片.jpg"),
            ("IMG_0001.JPEG", k, "IMG_0001.jpeg"),
            ("C:\\Users\\张三\\Desktop\\发票.pdf", pdf, "发票.pdf"),
            ("../../etc/passwd", pdf, "passwd.pdf"),
            ("报告.exe", pdf, "报告.exe.pdf"),
            ("photo.html", k, "photo.html.jpg"),
            ("evil\u{202E}gpj.exe", k, "evilgpj.exe.jpg"),
            ("a\r\nContent-Type: text/html\".jpg", k, "html.jpg"),
            ("", k, "附件.jpg"),
            ("....", k, "附件.jpg"),
            (".jpg", k, "jpg.jpg"),
            ("CON.jpg", k, "_CON.jpg"),
            ("com1", pdf, "_com1.pdf"),
        ];
        for (given, kind, want) in cases {
            assert_eq!(safe_name(given, kind, 100), want, "{given:?}");
        }
        let long = "很".repeat(300) + ".jpg";
        let name = safe_name(&long, k, 100);
        assert_eq!(name.chars().count(), 100);
        assert!(name.ends_with("很.jpg"));
    }
}
