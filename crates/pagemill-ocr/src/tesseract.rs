//! Tesseract 5 through its C API (types from `tesseract-sys`; the functions are loaded
//! with the library when the first engine starts, see [`crate::native`]).

use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pagemill_core::BBox;
use tesseract_sys as ts;

use crate::engine::{
    GrayImage, OcrEngine, OcrError, OcrLine, OcrPage, OcrParagraph, OcrWord, RegionKind,
};
use crate::native::{native, Native};

/// A Tesseract instance with its languages loaded.
pub struct Tesseract {
    n: &'static Native,
    api: *mut ts::TessBaseAPI,
    languages: String,
    /// A second instance with the `osd` model, started on first use and unloaded when
    /// idle (see [`Tesseract::unload_idle_osd`]).
    osd: Option<Result<*mut ts::TessBaseAPI, String>>,
    /// Readings since orientation was last asked.
    readings_since_osd: u32,
}

/// Readings without an orientation check after which the OSD model is unloaded. Reloading
/// costs ~0.3 s, so a document of turned pages (each one asks) keeps it loaded.
const OSD_IDLE_READINGS: u32 = 8;

/// A page's orientation as Tesseract's orientation detection sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orientation {
    /// Clockwise quarter turns that make the text upright (0–3).
    pub quads: u8,
    /// Tesseract's confidence in it (its `orient_conf`: above ~2 is usually right).
    pub confidence: f32,
}

/// Where Tesseract looks for `*.traineddata`: `$TESSDATA_PREFIX`, else Debian's place.
pub fn tessdata_dir() -> PathBuf {
    std::env::var_os("TESSDATA_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/tesseract-ocr/5/tessdata"))
}

/// Languages whose trained data is installed (`eng`, `deu`, `osd`, …). Read from the data
/// directory rather than by starting Tesseract, so the parent process can check options
/// without loading the engine.
pub fn installed_languages() -> Vec<String> {
    let mut langs: Vec<String> = std::fs::read_dir(tessdata_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".traineddata"))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    langs.sort();
    langs
}

/// Checks that every language of `languages` (`eng+deu`) is installed; the error lists the
/// installed ones and the package to install.
pub fn check_languages(languages: &str) -> Result<(), OcrError> {
    let installed = installed_languages();
    let missing: Vec<&str> = languages
        .split('+')
        .filter(|l| !l.is_empty() && !installed.iter().any(|i| i == l))
        .collect();
    if missing.is_empty() && !languages.is_empty() {
        return Ok(());
    }
    let pkgs: Vec<String> = missing.iter().map(|l| language_package(l)).collect();
    Err(OcrError::Init(format!(
        "OCR language {} not installed in {} (installed: {}); install it with `sudo apt-get install {}`",
        if missing.is_empty() { "list is empty".to_string() } else { missing.join(", ") },
        tessdata_dir().display(),
        if installed.is_empty() { "none".to_string() } else { installed.join(", ") },
        if pkgs.is_empty() { "tesseract-ocr-eng".to_string() } else { pkgs.join(" ") }
    )))
}

/// The Debian package that holds a Tesseract language (`chi_sim` → `tesseract-ocr-chi-sim`).
pub fn language_package(lang: &str) -> String {
    format!(
        "tesseract-ocr-{}",
        lang.to_ascii_lowercase().replace('_', "-")
    )
}

impl Tesseract {
    /// Starts Tesseract with `languages` in its own syntax (`eng`, `eng+deu`). A missing
    /// language is an error that lists the installed ones and the package to install.
    pub fn new(languages: &str) -> Result<Self, OcrError> {
        check_languages(languages)?;
        let n = native()?;
        let lang = CString::new(languages)
            .map_err(|_| OcrError::Init("language list contains a NUL byte".into()))?;
        // SAFETY: a fresh handle, deleted on every failure path and in Drop.
        unsafe {
            let api = (n.TessBaseAPICreate)();
            if api.is_null() {
                return Err(OcrError::Init("cannot create a Tesseract instance".into()));
            }
            if (n.TessBaseAPIInit3)(api, std::ptr::null(), lang.as_ptr()) != 0 {
                (n.TessBaseAPIDelete)(api);
                return Err(OcrError::Init(format!(
                    "Tesseract could not load {languages} (data in {})",
                    tessdata_dir().display()
                )));
            }
            // Automatic page segmentation without orientation detection: orientation is
            // decided before recognition, on its own.
            (n.TessBaseAPISetPageSegMode)(api, ts::TessPageSegMode_PSM_AUTO);
            quiet(n, api);
            Ok(Tesseract {
                n,
                api,
                languages: languages.to_string(),
                osd: None,
                readings_since_osd: 0,
            })
        }
    }

    /// The languages this instance was started with.
    pub fn languages(&self) -> &str {
        &self.languages
    }
}

impl Tesseract {
    /// Detects how the text of `image` is turned (Tesseract's OSD, on the `osd` model).
    /// `None` when the model is missing or the page has too little text to tell.
    pub fn detect_orientation(&mut self, image: &GrayImage<'_>) -> Option<Orientation> {
        self.readings_since_osd = 0;
        let n = self.n;
        let osd = *self
            .osd
            .get_or_insert_with(|| {
                start_osd(n).map_err(|e| {
                    tracing::warn!("orientation detection unavailable: {e}");
                    e
                })
            })
            .as_ref()
            .ok()?;
        let (w, h) = image.checked_size().ok()?;
        // SAFETY: the image outlives the call (Tesseract copies it); the script name is
        // owned by Tesseract and not kept.
        unsafe {
            (n.TessBaseAPISetImage)(osd, image.pixels.as_ptr(), w, h, 1, w);
            let dpi = if image.dpi == 0 {
                0
            } else {
                image.dpi.clamp(70, 2400) as i32
            };
            (n.TessBaseAPISetSourceResolution)(osd, dpi);
            let (mut deg, mut conf, mut script, mut sconf) = (0, 0f32, std::ptr::null(), 0f32);
            let ok = (n.TessBaseAPIDetectOrientationScript)(
                osd,
                &mut deg,
                &mut conf,
                &mut script,
                &mut sconf,
            );
            (n.TessBaseAPIClear)(osd);
            if ok == 0 {
                return None;
            }
            // Tesseract reports how far the text is turned clockwise; undoing it takes the
            // complementary clockwise quarter turns (checked on OCRmyPDF's cardinal.pdf,
            // whose pages are turned 0, 90, 180 and 270 degrees).
            Some(Orientation {
                quads: ((4 - (deg.rem_euclid(360) / 90) % 4) % 4) as u8,
                confidence: conf,
            })
        }
    }
}

/// Sends Tesseract's and Leptonica's chatter ("Estimating resolution as …", "Detected N
/// diacritics") away from the worker's stderr, which the user sees; failures are reported
/// through return codes and become page errors.
///
/// SAFETY: `api` is a live handle.
unsafe fn quiet(n: &Native, api: *mut ts::TessBaseAPI) {
    let (name, value) = (c"debug_file", c"/dev/null");
    unsafe {
        (n.TessBaseAPISetVariable)(api, name.as_ptr(), value.as_ptr());
        (n.setMsgSeverity)(leptonica_sys::L_SEVERITY_ERROR as i32);
    }
}

fn start_osd(n: &Native) -> Result<*mut ts::TessBaseAPI, String> {
    if !installed_languages().iter().any(|l| l == "osd") {
        return Err(format!(
            "osd.traineddata is not in {}; install tesseract-ocr-osd",
            tessdata_dir().display()
        ));
    }
    let lang = CString::new("osd").map_err(|e| e.to_string())?;
    // SAFETY: a fresh handle, deleted on failure here and in Tesseract's Drop.
    unsafe {
        let api = (n.TessBaseAPICreate)();
        if api.is_null() {
            return Err("cannot create a Tesseract instance".into());
        }
        if (n.TessBaseAPIInit3)(api, std::ptr::null(), lang.as_ptr()) != 0 {
            (n.TessBaseAPIDelete)(api);
            return Err("Tesseract could not load the osd model".into());
        }
        (n.TessBaseAPISetPageSegMode)(api, ts::TessPageSegMode_PSM_OSD_ONLY);
        Ok(api)
    }
}

impl Tesseract {
    /// Unloads the OSD model once [`OSD_IDLE_READINGS`] readings went by without it:
    /// documents whose pages are turned keep it, the many that are upright do not carry
    /// its ~40 MB in every worker. (A missing model stays remembered as missing.)
    fn unload_idle_osd(&mut self) {
        self.readings_since_osd = self.readings_since_osd.saturating_add(1);
        let n = self.n;
        if self.readings_since_osd > OSD_IDLE_READINGS {
            if let Some(Ok(osd)) = self.osd.take() {
                tracing::debug!("orientation model unloaded (unused)");
                // SAFETY: created by start_osd, deleted once (taken out of `self.osd`).
                unsafe {
                    (n.TessBaseAPIEnd)(osd);
                    (n.TessBaseAPIDelete)(osd);
                }
            }
        }
    }
}

impl Drop for Tesseract {
    fn drop(&mut self) {
        let n = self.n;
        // SAFETY: the handles were created by TessBaseAPICreate and are deleted once.
        unsafe {
            (n.TessBaseAPIEnd)(self.api);
            (n.TessBaseAPIDelete)(self.api);
            if let Some(Ok(osd)) = self.osd.take() {
                (n.TessBaseAPIEnd)(osd);
                (n.TessBaseAPIDelete)(osd);
            }
        }
    }
}

/// Frees a Tesseract text on every path out.
struct Text(*mut c_char, &'static Native);
impl Text {
    fn get(&self) -> String {
        if self.0.is_null() {
            return String::new();
        }
        // SAFETY: a NUL-terminated string owned by us until Drop.
        unsafe { CStr::from_ptr(self.0) }
            .to_string_lossy()
            .into_owned()
    }
}
impl Drop for Text {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: Tesseract's string, freed once.
            unsafe { (self.1.TessDeleteText)(self.0) };
        }
    }
}

/// Whether a block is a picture (Tesseract's `PTIsImageType`).
fn is_image(t: ts::TessPolyBlockType) -> bool {
    matches!(
        t,
        ts::TessPolyBlockType_PT_FLOWING_IMAGE
            | ts::TessPolyBlockType_PT_HEADING_IMAGE
            | ts::TessPolyBlockType_PT_PULLOUT_IMAGE
    )
}

fn region_kind(t: ts::TessPolyBlockType) -> RegionKind {
    match t {
        ts::TessPolyBlockType_PT_FLOWING_TEXT | ts::TessPolyBlockType_PT_UNKNOWN => {
            RegionKind::Text
        }
        ts::TessPolyBlockType_PT_HEADING_TEXT => RegionKind::Heading,
        ts::TessPolyBlockType_PT_CAPTION_TEXT => RegionKind::Caption,
        ts::TessPolyBlockType_PT_TABLE => RegionKind::Table,
        ts::TessPolyBlockType_PT_VERTICAL_TEXT => RegionKind::Vertical,
        _ => RegionKind::Other,
    }
}

impl Tesseract {
    /// Recognises as much text as can be found in `image`, in no particular order
    /// (Tesseract's sparse-text mode, binarised with Sauvola's local threshold): no page
    /// layout analysis, so text inside regions the layout would call pictures (captions in
    /// drawings) is read too, and light print beside dark print (gray text that a global
    /// threshold turns white) as well. For finding every legible word (text removal), not
    /// for reading a page in order.
    pub fn recognize_sparse(
        &mut self,
        image: &GrayImage<'_>,
        deadline: Duration,
    ) -> Result<OcrPage, OcrError> {
        let (name, sauvola, otsu) = (c"thresholding_method", c"2", c"0");
        let n = self.n;
        // SAFETY: a live handle; mode and threshold are put back whatever recognition
        // returns.
        unsafe {
            (n.TessBaseAPISetPageSegMode)(self.api, ts::TessPageSegMode_PSM_SPARSE_TEXT);
            (n.TessBaseAPISetVariable)(self.api, name.as_ptr(), sauvola.as_ptr());
        }
        let result = self.recognize(image, deadline);
        unsafe {
            (n.TessBaseAPISetVariable)(self.api, name.as_ptr(), otsu.as_ptr());
            (n.TessBaseAPISetPageSegMode)(self.api, ts::TessPageSegMode_PSM_AUTO);
        }
        result
    }
}

impl OcrEngine for Tesseract {
    fn recognize(
        &mut self,
        image: &GrayImage<'_>,
        deadline: Duration,
    ) -> Result<OcrPage, OcrError> {
        let (wi, hi) = image.checked_size()?;
        let started = Instant::now();
        let n = self.n;
        // SAFETY: the image outlives recognition (Tesseract copies it in SetImage); the
        // monitor and iterator are freed below on every path.
        unsafe {
            (n.TessBaseAPISetImage)(self.api, image.pixels.as_ptr(), wi, hi, 1, wi);
            // 0 (unknown) lets Tesseract estimate the resolution from the text's size.
            let dpi = if image.dpi == 0 {
                0
            } else {
                image.dpi.clamp(70, 2400) as i32
            };
            (n.TessBaseAPISetSourceResolution)(self.api, dpi);
            let monitor = (n.TessMonitorCreate)();
            let ms = deadline.as_millis().clamp(1, i32::MAX as u128) as i32;
            (n.TessMonitorSetDeadlineMSecs)(monitor, ms);
            let rc = (n.TessBaseAPIRecognize)(self.api, monitor);
            (n.TessMonitorDelete)(monitor);
            if rc != 0 {
                (n.TessBaseAPIClear)(self.api);
                return Err(if started.elapsed() >= deadline {
                    OcrError::Deadline(deadline)
                } else {
                    OcrError::Failed("Tesseract could not recognise the image".into())
                });
            }
            let page = collect(n, self.api);
            (n.TessBaseAPIClear)(self.api);
            self.unload_idle_osd();
            Ok(page)
        }
    }
}

/// Walks the result: paragraphs → lines → words.
///
/// SAFETY: `api` has just recognised an image.
unsafe fn collect(n: &'static Native, api: *mut ts::TessBaseAPI) -> OcrPage {
    let mut page = OcrPage::default();
    let it = unsafe { (n.TessBaseAPIGetIterator)(api) };
    if it.is_null() {
        return page;
    }
    let pit = unsafe { (n.TessResultIteratorGetPageIterator)(it) };
    let bbox = |level| {
        let (mut l, mut t, mut r, mut b) = (0, 0, 0, 0);
        let ok =
            unsafe { (n.TessPageIteratorBoundingBox)(pit, level, &mut l, &mut t, &mut r, &mut b) };
        (ok != 0).then(|| BBox::new(l as f32, t as f32, r as f32, b as f32))
    };
    let (block_l, para_l, line_l, word_l) = (
        ts::TessPageIteratorLevel_RIL_BLOCK,
        ts::TessPageIteratorLevel_RIL_PARA,
        ts::TessPageIteratorLevel_RIL_TEXTLINE,
        ts::TessPageIteratorLevel_RIL_WORD,
    );
    loop {
        let at = |level| unsafe { (n.TessPageIteratorIsAtBeginningOf)(pit, level) != 0 };
        let Some(word_box) = bbox(word_l) else {
            if unsafe { (n.TessPageIteratorNext)(pit, word_l) } == 0 {
                break;
            }
            continue;
        };
        let block_type = unsafe { (n.TessPageIteratorBlockType)(pit) };
        if is_image(block_type) {
            // Image regions carry one empty stand-in word; record the region instead.
            if at(block_l) {
                if let Some(b) = bbox(block_l) {
                    page.figures.push(b);
                }
            }
            if unsafe { (n.TessPageIteratorNext)(pit, word_l) } == 0 {
                break;
            }
            continue;
        }
        if at(para_l) || page.paragraphs.is_empty() {
            let kind = region_kind(block_type);
            page.paragraphs.push(OcrParagraph {
                bbox: bbox(para_l).unwrap_or(word_box),
                kind,
                lines: Vec::new(),
            });
        }
        let Some(para) = page.paragraphs.last_mut() else {
            break;
        };
        if at(line_l) || para.lines.is_empty() {
            para.lines.push(OcrLine {
                bbox: bbox(line_l).unwrap_or(word_box),
                words: Vec::new(),
            });
        }
        let text = Text(unsafe { (n.TessResultIteratorGetUTF8Text)(it, word_l) }, n).get();
        let confidence = unsafe { (n.TessResultIteratorConfidence)(it, word_l) } / 100.0;
        let bold = {
            let (mut b, mut i, mut u, mut m, mut s, mut sc, mut pt, mut id) =
                (0, 0, 0, 0, 0, 0, 0, 0);
            let name = unsafe {
                (n.TessResultIteratorWordFontAttributes)(
                    it, &mut b, &mut i, &mut u, &mut m, &mut s, &mut sc, &mut pt, &mut id,
                )
            };
            !name.is_null() && b != 0
        };
        let text = text.trim();
        if let Some(line) = para.lines.last_mut() {
            if !text.is_empty() {
                line.words.push(OcrWord {
                    bbox: word_box,
                    text: text.to_string(),
                    confidence: confidence.clamp(0.0, 1.0),
                    bold,
                });
            }
        }
        if unsafe { (n.TessPageIteratorNext)(pit, word_l) } == 0 {
            break;
        }
    }
    unsafe { (n.TessResultIteratorDelete)(it) };
    for p in &mut page.paragraphs {
        p.lines.retain(|l| !l.words.is_empty());
    }
    page.paragraphs.retain(|p| !p.lines.is_empty());
    page
}
