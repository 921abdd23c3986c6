//! The network: ncnn's layers with their weights as candle tensors, and a forward pass
//! that runs them in graph order on the CPU. Only the operations Real-ESRGAN's models use
//! are known (convolution with an optional leaky ReLU, PReLU, pixel shuffle, nearest and
//! bicubic resizing, sums, concatenation); any other layer is refused when loading.

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use crate::conv3x3::Conv3x3;
use crate::param::LayerDesc;
use crate::weights::Reader;
use crate::UpscaleError;

/// What a layer does.
enum Op {
    /// The image comes in.
    Input,
    /// Its input, under several names.
    Split,
    /// A convolution (stride 1), then a leaky ReLU when `leaky` is set.
    Conv {
        /// The same convolution as nine in-place products, for 3×3 with padding 1.
        fast: Option<Conv3x3>,
        weight: Tensor,
        bias: Tensor,
        pad: usize,
        leaky: Option<f64>,
    },
    /// Per-channel parametric ReLU.
    PRelu { slope: Tensor },
    /// Channels to space (PyTorch's order).
    PixelShuffle(usize),
    /// Nearest-neighbour enlargement by a whole factor.
    Nearest(usize),
    /// Bicubic resizing by a factor.
    Bicubic(f32),
    /// Element-wise sum, each input weighted.
    Sum(Vec<f64>),
    /// Channels side by side.
    Concat,
}

struct Layer {
    name: String,
    op: Op,
    bottoms: Vec<usize>,
    tops: Vec<usize>,
}

/// A loaded network.
pub struct Graph {
    layers: Vec<Layer>,
    /// Blob names, by index (for messages).
    blobs: Vec<String>,
    /// Layers reading each blob: a blob is dropped after its last reader, so a pass holds
    /// only the feature maps still needed.
    readers: Vec<usize>,
    output: usize,
    scale: f32,
}

fn candle(e: candle_core::Error) -> UpscaleError {
    UpscaleError::Compute(e.to_string())
}

impl Graph {
    /// The network of `layers`, its weights read from `bin`.
    pub fn build(descs: &[LayerDesc], bin: &[u8]) -> Result<Graph, UpscaleError> {
        let device = Device::Cpu;
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut blobs = Vec::new();
        let mut index = |name: &str| -> usize {
            *names.entry(name.to_string()).or_insert_with(|| {
                blobs.push(name.to_string());
                blobs.len() - 1
            })
        };
        let mut reader = Reader::new(bin);
        let mut layers = Vec::with_capacity(descs.len());
        for d in descs {
            let unsupported =
                |why: &str| UpscaleError::Graph(format!("layer {} ({}): {why}", d.name, d.kind));
            let op = match d.kind.as_str() {
                "Input" => Op::Input,
                "Split" => Op::Split,
                "Convolution" => {
                    let (out, k, size) = (d.int(0, 0), d.int(1, 0), d.int(6, 0));
                    if d.int(3, 1) != 1 || d.int(2, 1) != 1 || k <= 0 || out <= 0 {
                        return Err(unsupported("only stride 1, dilation 1"));
                    }
                    let (out, k, size) = (out as usize, k as usize, size as usize);
                    let inputs = size / (out * k * k);
                    if inputs * out * k * k != size {
                        return Err(unsupported("the weight size is not out × in × k × k"));
                    }
                    let w = reader.tagged(size)?;
                    let b = if d.int(5, 0) != 0 {
                        reader.raw(out)?
                    } else {
                        vec![0.0; out]
                    };
                    let leaky = match d.int(9, 0) {
                        0 => None,
                        2 => Some(f64::from(d.array(10).first().copied().unwrap_or(0.0))),
                        _ => return Err(unsupported("only no activation or leaky ReLU")),
                    };
                    let pad = d.int(4, 0).max(0) as usize;
                    let fast = if k == 3 && pad == 1 {
                        Some(Conv3x3::new(&w, &b, inputs, out)?)
                    } else {
                        None
                    };
                    Op::Conv {
                        fast,
                        weight: Tensor::from_vec(w, (out, inputs, k, k), &device)
                            .map_err(candle)?,
                        bias: Tensor::from_vec(b, (1, out, 1, 1), &device).map_err(candle)?,
                        pad,
                        leaky,
                    }
                }
                "PReLU" => {
                    let n = d.int(0, 1).max(1) as usize;
                    let slope = reader.raw(n)?;
                    Op::PRelu {
                        slope: Tensor::from_vec(slope, (1, n, 1, 1), &device).map_err(candle)?,
                    }
                }
                "PixelShuffle" => {
                    if d.int(1, 0) != 0 {
                        return Err(unsupported("only PyTorch's channel order"));
                    }
                    Op::PixelShuffle(d.int(0, 1).max(1) as usize)
                }
                "Interp" => {
                    let (fh, fw) = (d.float(1, 1.0), d.float(2, 1.0));
                    if fh != fw {
                        return Err(unsupported("only the same factor both ways"));
                    }
                    match d.int(0, 0) {
                        1 if fh.fract() == 0.0 && fh >= 1.0 => Op::Nearest(fh as usize),
                        3 => Op::Bicubic(fh),
                        _ => return Err(unsupported("only nearest (whole factors) or bicubic")),
                    }
                }
                "BinaryOp" if d.int(0, 0) == 0 => Op::Sum(vec![1.0; 2]),
                "Eltwise" if d.int(0, 1) == 1 => {
                    let coeffs: Vec<f64> = d.array(1).iter().map(|&c| f64::from(c)).collect();
                    let coeffs = if coeffs.is_empty() {
                        vec![1.0; d.bottoms.len()]
                    } else {
                        coeffs
                    };
                    Op::Sum(coeffs)
                }
                "Concat" if d.int(0, 0) == 0 => Op::Concat,
                _ => return Err(unsupported("not a layer these models use")),
            };
            let bottoms = d.bottoms.iter().map(|b| index(b)).collect();
            let tops = d.tops.iter().map(|t| index(t)).collect();
            layers.push(Layer {
                name: d.name.clone(),
                op,
                bottoms,
                tops,
            });
        }
        reader.finish()?;
        let output = *names
            .get("output")
            .ok_or_else(|| UpscaleError::Graph("no blob named `output`".into()))?;
        let mut readers = vec![0; blobs.len()];
        for l in &layers {
            for &b in &l.bottoms {
                readers[b] += 1;
            }
        }
        // Each blob's size relative to the input, followed through the graph: the
        // output's is the model's scale.
        let mut sizes = vec![1.0f32; blobs.len()];
        for l in &layers {
            let input = l.bottoms.first().map_or(1.0, |&b| sizes[b]);
            let size = match l.op {
                Op::PixelShuffle(r) | Op::Nearest(r) => input * r as f32,
                Op::Bicubic(f) => input * f,
                _ => input,
            };
            for &t in &l.tops {
                sizes[t] = size;
            }
        }
        let scale = sizes[output];
        Ok(Graph {
            layers,
            blobs,
            readers,
            output,
            scale,
        })
    }

    /// How many times larger the output is than the input.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// Runs the network on `image` (`[1, 3, H, W]`, RGB in 0..1).
    pub fn forward(&self, image: &Tensor) -> Result<Tensor, UpscaleError> {
        let mut values: Vec<Option<Tensor>> = vec![None; self.blobs.len()];
        let mut left = self.readers.clone();
        for layer in &self.layers {
            let mut inputs = Vec::with_capacity(layer.bottoms.len());
            for &b in &layer.bottoms {
                let value = values[b].clone().ok_or_else(|| {
                    UpscaleError::Graph(format!(
                        "layer {} reads {} before it is written",
                        layer.name, self.blobs[b]
                    ))
                })?;
                left[b] -= 1;
                if left[b] == 0 && b != self.output {
                    values[b] = None;
                }
                inputs.push(value);
            }
            let out = self.apply(&layer.op, image, &inputs).map_err(candle)?;
            for &t in &layer.tops {
                values[t] = Some(out.clone());
            }
        }
        values[self.output]
            .take()
            .ok_or_else(|| UpscaleError::Graph("the graph never writes `output`".into()))
    }

    fn apply(&self, op: &Op, image: &Tensor, x: &[Tensor]) -> candle_core::Result<Tensor> {
        let first = || {
            x.first()
                .cloned()
                .ok_or_else(|| candle_core::Error::Msg("a layer without input".into()))
        };
        Ok(match op {
            Op::Input => image.clone(),
            Op::Split => first()?,
            Op::Conv {
                fast: Some(conv),
                leaky,
                ..
            } => {
                let x = first()?;
                let (n, c, h, w) = x.dims4()?;
                if n != 1 || c != conv.c_in() {
                    return Err(candle_core::Error::Msg(format!(
                        "a 3×3 convolution of {} channels given {n}×{c}",
                        conv.c_in()
                    )));
                }
                let out = conv
                    .forward(&x.flatten_all()?.to_vec1::<f32>()?, h, w)
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                let c_out = out.len() / (h * w);
                let y = Tensor::from_vec(out, (1, c_out, h, w), x.device())?;
                match leaky {
                    Some(s) => candle_nn::ops::leaky_relu(&y, *s)?,
                    None => y,
                }
            }
            Op::Conv {
                fast: None,
                weight,
                bias,
                pad,
                leaky,
            } => {
                let y = first()?
                    .conv2d(weight, *pad, 1, 1, 1)?
                    .broadcast_add(bias)?;
                match leaky {
                    Some(s) => candle_nn::ops::leaky_relu(&y, *s)?,
                    None => y,
                }
            }
            Op::PRelu { slope } => {
                let x = first()?;
                (x.relu()? + x.minimum(0f32)?.broadcast_mul(slope)?)?
            }
            Op::PixelShuffle(r) => candle_nn::ops::pixel_shuffle(&first()?, *r)?,
            Op::Nearest(f) => {
                let x = first()?;
                let (_, _, h, w) = x.dims4()?;
                x.upsample_nearest2d(h * f, w * f)?
            }
            Op::Bicubic(f) => {
                let x = first()?;
                let (n, c, h, w) = x.dims4()?;
                let (oh, ow) = ((h as f32 * f) as usize, (w as f32 * f) as usize);
                let data = x.flatten_all()?.to_vec1::<f32>()?;
                let out = crate::bicubic::resize(&data, n * c, h, w, oh, ow);
                Tensor::from_vec(out, (n, c, oh, ow), x.device())?
            }
            Op::Sum(coeffs) => {
                let mut acc: Option<Tensor> = None;
                for (t, &c) in x.iter().zip(coeffs) {
                    let term = if c == 1.0 {
                        t.clone()
                    } else {
                        t.affine(c, 0.0)?
                    };
                    acc = Some(match acc {
                        Some(a) => (a + term)?,
                        None => term,
                    });
                }
                acc.ok_or_else(|| candle_core::Error::Msg("a sum of nothing".into()))?
            }
            Op::Concat => Tensor::cat(x, 1)?,
        })
    }
}
