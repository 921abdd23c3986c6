//! The Tesseract and Leptonica C APIs, loaded when the first OCR engine starts.
//!
//! Why loaded rather than linked: `libtesseract` brings its own dependency tree (curl,
//! gnutls, Kerberos, ICU, libxml2, libarchive, the image codecs). Linked, every pagemill
//! process maps and relocates all of it at start — ~11 MB of resident memory in the
//! parent and in every worker that only reads text layers, none of which ever call
//! Tesseract. Loaded on first use, only OCR workers pay for it, and a machine without
//! Tesseract still converts born-digital PDFs, with a clear error on the first page that
//! needs OCR. The types and constants still come from `tesseract-sys` and
//! `leptonica-sys`; only the functions are looked up here, with their signatures.

use std::os::raw::{c_char, c_int, c_uchar};
use std::sync::OnceLock;

use leptonica_sys as lept;
use libloading::Library;
use tesseract_sys as ts;

use crate::engine::OcrError;

/// Sonames tried, newest first (Debian 12 ships libtesseract.so.5 and liblept.so.5).
const TESSERACT_LIBS: [&str; 2] = ["libtesseract.so.5", "libtesseract.so"];
const LEPTONICA_LIBS: [&str; 4] = [
    "liblept.so.5",
    "libleptonica.so.6",
    "liblept.so",
    "libleptonica.so",
];

macro_rules! native_api {
    (
        tesseract { $( fn $t:ident ( $($ta:ty),* ) $( -> $tr:ty )?; )* }
        leptonica { $( fn $l:ident ( $($la:ty),* ) $( -> $lr:ty )?; )* }
    ) => {
        /// The C functions pagemill calls, resolved from the loaded libraries.
        #[allow(non_snake_case)]
        pub(crate) struct Native {
            $( pub(crate) $t: unsafe extern "C" fn($($ta),*) $( -> $tr )?, )*
            $( pub(crate) $l: unsafe extern "C" fn($($la),*) $( -> $lr )?, )*
            // Kept loaded for as long as the pointers above are used (the process).
            _tesseract: Library,
            _leptonica: Library,
        }

        impl Native {
            /// Resolves every function.
            ///
            /// SAFETY: the signatures above must match the C declarations (they are those
            /// of tesseract-sys's and leptonica-sys's bindings).
            unsafe fn resolve(tesseract: Library, leptonica: Library) -> Result<Self, String> {
                Ok(Native {
                    $( $t: unsafe { symbol(&tesseract, stringify!($t))? }, )*
                    $( $l: unsafe { symbol(&leptonica, stringify!($l))? }, )*
                    _tesseract: tesseract,
                    _leptonica: leptonica,
                })
            }
        }
    };
}

native_api! {
    tesseract {
        fn TessBaseAPICreate() -> *mut ts::TessBaseAPI;
        fn TessBaseAPIDelete(*mut ts::TessBaseAPI);
        fn TessBaseAPIInit3(*mut ts::TessBaseAPI, *const c_char, *const c_char) -> c_int;
        fn TessBaseAPIEnd(*mut ts::TessBaseAPI);
        fn TessBaseAPIClear(*mut ts::TessBaseAPI);
        fn TessBaseAPISetPageSegMode(*mut ts::TessBaseAPI, ts::TessPageSegMode);
        fn TessBaseAPISetVariable(*mut ts::TessBaseAPI, *const c_char, *const c_char) -> c_int;
        fn TessBaseAPISetImage(*mut ts::TessBaseAPI, *const c_uchar, c_int, c_int, c_int, c_int);
        fn TessBaseAPISetSourceResolution(*mut ts::TessBaseAPI, c_int);
        fn TessBaseAPIRecognize(*mut ts::TessBaseAPI, *mut ts::ETEXT_DESC) -> c_int;
        fn TessBaseAPIGetIterator(*mut ts::TessBaseAPI) -> *mut ts::TessResultIterator;
        fn TessBaseAPIDetectOrientationScript(
            *mut ts::TessBaseAPI, *mut c_int, *mut f32, *mut *const c_char, *mut f32
        ) -> c_int;
        fn TessMonitorCreate() -> *mut ts::ETEXT_DESC;
        fn TessMonitorDelete(*mut ts::ETEXT_DESC);
        fn TessMonitorSetDeadlineMSecs(*mut ts::ETEXT_DESC, c_int);
        fn TessDeleteText(*const c_char);
        fn TessResultIteratorDelete(*mut ts::TessResultIterator);
        fn TessResultIteratorGetPageIterator(*mut ts::TessResultIterator) -> *mut ts::TessPageIterator;
        fn TessResultIteratorGetUTF8Text(
            *const ts::TessResultIterator, ts::TessPageIteratorLevel
        ) -> *mut c_char;
        fn TessResultIteratorConfidence(
            *const ts::TessResultIterator, ts::TessPageIteratorLevel
        ) -> f32;
        fn TessResultIteratorWordFontAttributes(
            *const ts::TessResultIterator,
            *mut c_int, *mut c_int, *mut c_int, *mut c_int,
            *mut c_int, *mut c_int, *mut c_int, *mut c_int
        ) -> *const c_char;
        fn TessPageIteratorNext(*mut ts::TessPageIterator, ts::TessPageIteratorLevel) -> c_int;
        fn TessPageIteratorIsAtBeginningOf(
            *const ts::TessPageIterator, ts::TessPageIteratorLevel
        ) -> c_int;
        fn TessPageIteratorBoundingBox(
            *const ts::TessPageIterator, ts::TessPageIteratorLevel,
            *mut c_int, *mut c_int, *mut c_int, *mut c_int
        ) -> c_int;
        fn TessPageIteratorBlockType(*const ts::TessPageIterator) -> ts::TessPolyBlockType;
    }
    leptonica {
        fn setMsgSeverity(lept::l_int32) -> lept::l_int32;
        fn pixCreate(lept::l_int32, lept::l_int32, lept::l_int32) -> *mut lept::PIX;
        fn pixDestroy(*mut *mut lept::PIX);
        fn pixSetResolution(*mut lept::PIX, lept::l_int32, lept::l_int32) -> lept::l_ok;
        fn pixGetData(*mut lept::PIX) -> *mut lept::l_uint32;
        fn pixGetWidth(*const lept::PIX) -> lept::l_int32;
        fn pixGetHeight(*const lept::PIX) -> lept::l_int32;
        fn pixGetWpl(*const lept::PIX) -> lept::l_int32;
        fn pixConvertTo1(*mut lept::PIX, lept::l_int32) -> *mut lept::PIX;
        fn pixFindSkew(*mut lept::PIX, *mut lept::l_float32, *mut lept::l_float32) -> lept::l_ok;
        fn pixRotate(
            *mut lept::PIX, lept::l_float32, lept::l_int32, lept::l_int32,
            lept::l_int32, lept::l_int32
        ) -> *mut lept::PIX;
        fn pixRotateOrth(*mut lept::PIX, lept::l_int32) -> *mut lept::PIX;
    }
}

/// Looks `name` up in `lib` as a function pointer of type `F`.
///
/// SAFETY: `F` must be the symbol's true type.
unsafe fn symbol<F: Copy>(lib: &Library, name: &str) -> Result<F, String> {
    let mut cname = name.as_bytes().to_vec();
    cname.push(0);
    // SAFETY: the caller vouches for the type.
    unsafe { lib.get::<F>(&cname) }
        .map(|s| *s)
        .map_err(|e| format!("{name} is missing from the OCR library: {e}"))
}

fn open_first(names: &[&str]) -> Result<Library, String> {
    let mut last = String::new();
    for name in names {
        // SAFETY: loading a system library runs its initialisers, which for Tesseract and
        // Leptonica only set up their own state.
        match unsafe { Library::new(name) } {
            Ok(lib) => return Ok(lib),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

fn load() -> Result<Native, String> {
    let how = "install it with `sudo apt-get install libtesseract5 tesseract-ocr-eng` \
               (or run scripts/setup)";
    let tesseract = open_first(&TESSERACT_LIBS)
        .map_err(|e| format!("the Tesseract library is not installed ({e}); {how}"))?;
    let leptonica = open_first(&LEPTONICA_LIBS)
        .map_err(|e| format!("the Leptonica library is not installed ({e}); {how}"))?;
    // SAFETY: the signatures are tesseract-sys's and leptonica-sys's.
    unsafe { Native::resolve(tesseract, leptonica) }
}

/// The loaded APIs (loaded once per process, on first call).
pub(crate) fn native() -> Result<&'static Native, OcrError> {
    static NATIVE: OnceLock<Result<Native, String>> = OnceLock::new();
    match NATIVE.get_or_init(load) {
        Ok(n) => Ok(n),
        Err(e) => Err(OcrError::Init(e.clone())),
    }
}
