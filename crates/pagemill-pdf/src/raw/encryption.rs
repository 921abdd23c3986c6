//! Encryption dictionaries that leave out the key length.
//!
//! The standard security handler's `/Length` is optional and means 40 bits when absent,
//! but writers of 128-bit RC4 (`/V 2`, `/R 3`) files sometimes drop or misspell it
//! (the corpus has `/Wength 128`). PDFium then derives a 40-bit key, the owner-only
//! file fails its password check, and a document anyone may open is refused. qpdf opens
//! such files by trying the key length that matches; so does pagemill: an incremental
//! update in memory redefines the encryption dictionary with an explicit `/Length`, and
//! PDFium checks the (empty or given) password against it. A wrong length simply fails
//! that check, so nothing is guessed that the file's own `/U` value does not confirm.

use std::path::Path;

use super::object::{write_obj, Dict, Obj};
use super::{update, PageRef, RawError, Xref};

/// Key lengths to try, in bits: 128 first (what RC4 `/R 3` writers use), then the other
/// lengths `/R 3` allows (40 is the default PDFium already tried).
pub const KEY_LENGTHS: [u32; 11] = [128, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120];

/// A file whose encryption dictionary lacks `/Length`, ready to be given one.
#[derive(Debug)]
pub struct KeyLengthRepair {
    file_len: u64,
    encrypt_id: PageRef,
    encrypt: Dict,
    trailer: Dict,
    size: u32,
    prev: u64,
    newest_is_stream: bool,
}

impl KeyLengthRepair {
    /// `Some` when `path` is encrypted by the standard handler with `/V` 2 or 3, `/R` ≥ 3
    /// and no `/Length`: the only case in which the default length can be wrong.
    pub fn find(path: &Path) -> Result<Option<Self>, RawError> {
        let xref = Xref::open_any(path)?;
        let Some(encrypt_id) = xref.trailer.get(b"Encrypt").and_then(Obj::as_ref) else {
            return Ok(None);
        };
        let Obj::Dict(encrypt) = xref.object(encrypt_id.0)? else {
            return Ok(None);
        };
        let int = |k: &[u8]| encrypt.get(k).and_then(Obj::as_int);
        let standard = encrypt
            .get(b"Filter")
            .is_some_and(|f| f.is_name(b"Standard"));
        let applies = standard
            && matches!(int(b"V"), Some(2 | 3))
            && int(b"R").is_some_and(|r| r >= 3)
            && encrypt.get(b"Length").is_none();
        if !applies {
            return Ok(None);
        }
        let size = xref.trailer_size()?;
        // The new trailer carries what identifies the document and its key (`/ID` is an
        // input of the key); the section's own keys are written afresh.
        let mut trailer = Dict::default();
        for key in [&b"Root"[..], b"Info", b"ID", b"Encrypt"] {
            if let Some(v) = xref.trailer.get(key) {
                trailer.set(key, v.clone());
            }
        }
        Ok(Some(KeyLengthRepair {
            file_len: xref.file_len(),
            encrypt_id,
            encrypt,
            trailer,
            size,
            prev: xref.start,
            newest_is_stream: xref.newest_is_stream,
        }))
    }

    /// The original file's length (the update's offsets start there).
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Bytes to append so that the encryption dictionary says `/Length bits`.
    pub fn update(&self, bits: u32) -> Vec<u8> {
        let mut dict = self.encrypt.clone();
        dict.set(b"Length", Obj::Int(i64::from(bits)));
        let (num, gen) = self.encrypt_id;
        let mut text = format!("\n{num} {gen} obj\n");
        let at = self.file_len + 1;
        write_obj(&Obj::Dict(dict), &mut text);
        text.push_str("\nendobj\n");
        let xref_at = self.file_len + text.len() as u64;
        let mut bytes = text.into_bytes();
        bytes.extend(update::closing_section(
            &mut vec![(num, gen, at)],
            xref_at,
            self.size,
            self.newest_is_stream,
            self.prev,
            self.trailer.clone(),
        ));
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        // A one-object file with a classic table: object 1 is the encryption dictionary.
        let head = "%PDF-1.4\n";
        let obj = format!("1 0 obj\n{body}\nendobj\n");
        let xref_at = head.len() + obj.len();
        let text = format!(
            "{head}{obj}xref\n0 2\n0000000000 65535 f\r\n{:010} 00000 n\r\ntrailer\n\
             <</Size 2/Root 3 0 R/ID[<01><01>]/Encrypt 1 0 R>>\nstartxref\n{xref_at}\n%%EOF\n",
            head.len()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn only_rc4_dictionaries_without_a_length_are_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let missing = write(
            &dir,
            "missing.pdf",
            "<</Filter/Standard/V 2/R 3/Wength 128>>",
        );
        assert!(KeyLengthRepair::find(&missing).unwrap().is_some());
        let given = write(&dir, "given.pdf", "<</Filter/Standard/V 2/R 3/Length 128>>");
        assert!(KeyLengthRepair::find(&given).unwrap().is_none());
        let forty = write(&dir, "forty.pdf", "<</Filter/Standard/V 1/R 2>>");
        assert!(KeyLengthRepair::find(&forty).unwrap().is_none());
        let aes = write(&dir, "aes.pdf", "<</Filter/Standard/V 4/R 4>>");
        assert!(KeyLengthRepair::find(&aes).unwrap().is_none());
    }

    #[test]
    fn the_update_redefines_the_dictionary_and_keeps_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "update.pdf",
            "<</Filter/Standard/V 2/R 3/O <aa>/U <bb>>>",
        );
        let repair = KeyLengthRepair::find(&path).unwrap().unwrap();
        let update = String::from_utf8(repair.update(128)).unwrap();
        assert!(update.starts_with("\n1 0 obj\n<<"), "{update}");
        assert!(update.contains("/Length 128"), "{update}");
        assert!(update.contains("/O <aa>"), "{update}");
        assert!(
            update.contains("/ID [<01> <01>]") || update.contains("/ID[<01> <01>]"),
            "{update}"
        );
        assert!(update.contains("/Encrypt 1 0 R"), "{update}");
        let at = format!("{:010} 00000 n", repair.file_len() + 1);
        assert!(update.contains(&at), "{update}");
    }
}
